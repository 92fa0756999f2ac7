import { defineErrorCodes } from '../../platform/errors.js';

export const AccountErrors = defineErrorCodes({
  invalid_credentials: { status: 401, title: 'Invalid e-mail or password', expose: true },
  signup_closed: { status: 403, title: 'Sign-up is closed', expose: true },
  invitation_required: { status: 403, title: 'A valid invitation is required to sign up', expose: true },
  email_taken: { status: 409, title: 'That e-mail address cannot be used', expose: true },
  invalid_token: { status: 400, title: 'The link is invalid, expired or already used', expose: true },
  current_password_invalid: { status: 403, title: 'The current password is wrong', expose: true },
  user_not_found: { status: 404, title: 'No such user', expose: true },
  password_reset_required: { status: 403, title: 'Set a new password first', expose: true },
  account_unavailable: { status: 403, title: 'This account cannot sign in', expose: true },
});
