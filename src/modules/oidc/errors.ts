import { defineErrorCodes } from '../../platform/errors.js';

export const OidcErrors = defineErrorCodes({
  client_not_found: { status: 404, title: 'No such OAuth client', expose: true },
  client_invalid: { status: 400, title: 'The client registration is not valid', expose: true },
  api_token_invalid: {
    status: 401,
    title: 'The bearer token is not a valid, unexpired Gatehouse API token',
    expose: true,
  },
  api_token_scope: { status: 403, title: 'The bearer token lacks the scope this needs', expose: true },
  consent_not_found: { status: 404, title: 'This app has no access to revoke', expose: true },
  resource_not_found: { status: 404, title: 'No such API resource', expose: true },
});
