import { defineErrorCodes } from '../../platform/errors.js';

export const SessionErrors = defineErrorCodes({
  session_required: { status: 401, title: 'Sign in first', expose: true },
  csrf_failed: { status: 403, title: 'Missing or invalid CSRF token', expose: true },
  session_limit_reached: {
    status: 409,
    title: 'Too many active sessions; sign out elsewhere first',
    expose: true,
  },
  session_not_found: { status: 404, title: 'No such session', expose: true },
  mfa_enrollment_required: {
    status: 403,
    title: 'Set up a second factor before doing anything else',
    expose: true,
  },
});
