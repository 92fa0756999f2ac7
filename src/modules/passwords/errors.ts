import { defineErrorCodes } from '../../platform/errors.js';

export const PasswordErrors = defineErrorCodes({
  password_policy_violation: {
    status: 400,
    title: 'The password does not meet the password policy',
    expose: true,
  },
});
