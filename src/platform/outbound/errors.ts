import { defineErrorCodes } from '../errors.js';

export const OutboundErrors = defineErrorCodes({
  outbound_unavailable: {
    status: 503,
    title: 'A provider Gatehouse calls is failing; calls to it are paused for a while',
    expose: true,
  },
  outbound_timeout: { status: 504, title: 'A provider Gatehouse calls did not answer in time', expose: true },
});
