import { defineErrorCodes } from '../../platform/errors.js';

export const SystemErrors = defineErrorCodes({
  metrics_token_required: { status: 401, title: 'A valid metrics token is required', expose: true },
});
