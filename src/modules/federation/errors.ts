import { defineErrorCodes } from '../../platform/errors.js';

export const FederationErrors = defineErrorCodes({
  federation_provider_not_found: { status: 404, title: 'No such sign-in provider', expose: true },
  federation_provider_invalid: { status: 400, title: 'The provider settings are incomplete', expose: true },
  federation_provider_exists: { status: 409, title: 'A provider with that slug exists', expose: true },
  federation_provider_read_only: {
    status: 409,
    title: 'This provider comes from the configuration file; change it there',
    expose: true,
  },
  federation_provider_unavailable: {
    status: 502,
    title: 'The sign-in provider could not be reached; try again in a moment',
    expose: true,
  },
  federation_flow_invalid: {
    status: 400,
    title: 'This sign-in expired or was not started here; start again',
    expose: true,
  },
  federation_denied: { status: 401, title: 'The sign-in provider did not sign you in', expose: true },
  federation_no_email: {
    status: 403,
    title: 'The provider did not share an e-mail address, which an account needs',
    expose: true,
  },
  federation_signup_closed: {
    status: 403,
    title: 'No account is linked to this sign-in and new accounts cannot be created with it',
    expose: true,
  },
  federation_identity_taken: {
    status: 409,
    title: 'That account at the provider is already linked to another account here',
    expose: true,
  },
  federation_last_method: {
    status: 409,
    title: 'This is the only way left to sign in to the account; add a password or passkey first',
    expose: true,
  },
  federation_identity_not_found: { status: 404, title: 'No such linked account', expose: true },
});
