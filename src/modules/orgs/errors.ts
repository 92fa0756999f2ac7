import { defineErrorCodes } from '../../platform/errors.js';

export const OrgErrors = defineErrorCodes({
  organization_not_found: { status: 404, title: 'No such organization', expose: true },
  organization_slug_taken: { status: 409, title: 'That organization slug is taken', expose: true },
  not_a_member: { status: 404, title: 'The user is not a member of this organization', expose: true },
  invitation_invalid: {
    status: 400,
    title: 'The invitation is not valid, was used already, or has expired',
    expose: true,
  },
});
