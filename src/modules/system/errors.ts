import { defineErrorCodes } from '../../platform/errors.js';

export const SystemErrors = defineErrorCodes({
  metrics_token_required: { status: 401, title: 'A valid metrics token is required', expose: true },
});

export const SystemAdminErrors = defineErrorCodes({
  step_up_required: {
    status: 403,
    title: 'This needs a sign-in with a second factor in the last few minutes',
    expose: true,
  },
  config_reload_invalid: {
    status: 422,
    title: 'The configuration sources are not valid; nothing was changed',
    expose: true,
  },
});
