import { defineErrorCodes } from '../../platform/errors.js';

export const MfaErrors = defineErrorCodes({
  reauthentication_required: {
    status: 403,
    title: 'Confirm it is you: sign in again or re-authenticate first',
    expose: true,
  },
  mfa_invalid_code: { status: 401, title: 'The code or security key response is not valid', expose: true },
  mfa_pending_invalid: {
    status: 401,
    title: 'The sign-in expired or was abandoned; enter your password again',
    expose: true,
  },
  mfa_method_not_found: { status: 404, title: 'No such second factor', expose: true },
  mfa_method_unavailable: {
    status: 400,
    title: 'That kind of second factor cannot be used here',
    expose: true,
  },
  mfa_required_by_policy: {
    status: 409,
    title: 'A second factor is required for this account and cannot be removed',
    expose: true,
  },
  mfa_not_enabled: { status: 409, title: 'Set up a second factor first', expose: true },
  mfa_code_recently_sent: {
    status: 429,
    title: 'A code was sent a moment ago; wait before asking again',
    expose: true,
  },
  email_not_verified: { status: 409, title: 'Verify your e-mail address first', expose: true },
  passkey_invalid: { status: 401, title: 'The passkey could not be verified', expose: true },
});
