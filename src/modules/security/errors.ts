import { defineErrorCodes } from '../../platform/errors.js';

export const SecurityErrors = defineErrorCodes({
  access_blocked: {
    status: 403,
    title: 'Requests from this source are blocked',
    expose: true,
  },
  block_not_found: { status: 404, title: 'No such block, or it was lifted already', expose: true },
  block_invalid: { status: 400, title: 'The block is not valid', expose: true },
  decoy_invalid: { status: 400, title: 'The decoy is not valid', expose: true },
  decoy_not_found: { status: 404, title: 'No such decoy', expose: true },
});
