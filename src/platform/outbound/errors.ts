import { defineErrorCodes } from '../errors.js';

export const OutboundErrors = defineErrorCodes({
  outbound_unavailable: {
    status: 503,
    title: 'A provider Gatehouse calls is failing; calls to it are paused for a while',
    expose: true,
  },
  outbound_timeout: { status: 504, title: 'A provider Gatehouse calls did not answer in time', expose: true },
  destination_invalid: { status: 400, title: 'The URL cannot be called', expose: true },
  destination_not_public: {
    status: 400,
    title: 'The URL points at a private or local network',
    expose: true,
  },
});
