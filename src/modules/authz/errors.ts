import { defineErrorCodes } from '../../platform/errors.js';

export const AuthzErrors = defineErrorCodes({
  permission_denied: { status: 403, title: 'You do not have the permission this needs', expose: true },
  role_not_found: { status: 404, title: 'No such role', expose: true },
  group_not_found: { status: 404, title: 'No such group', expose: true },
  service_account_not_found: { status: 404, title: 'No such service account', expose: true },
  api_key_not_found: { status: 404, title: 'No such API key', expose: true },
  api_key_invalid: {
    status: 401,
    title: 'The API key is not valid, has expired or was revoked',
    expose: true,
  },
  policy_not_found: { status: 404, title: 'No such policy', expose: true },
  policy_invalid: { status: 400, title: 'The policy is not valid Cedar', expose: true },
  permission_not_found: { status: 404, title: 'No such permission', expose: true },
  permission_unknown: { status: 400, title: 'A permission is not registered', expose: true },
  authz_name_taken: { status: 409, title: 'That name is taken', expose: true },
  role_cycle: {
    status: 409,
    title: 'A role cannot include itself, directly or through others',
    expose: true,
  },
  group_cycle: {
    status: 409,
    title: 'A group cannot sit inside itself, directly or through others',
    expose: true,
  },
  builtin_protected: {
    status: 409,
    title: 'Built-in roles and permissions cannot be changed this way',
    expose: true,
  },
});
