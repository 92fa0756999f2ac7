import { defineErrorCodes } from '../errors.js';

export const SmsErrors = defineErrorCodes({
  sms_unavailable: { status: 503, title: 'Text messages are not available', expose: true },
  sms_delivery_failed: { status: 502, title: 'The text message could not be sent', expose: false },
});
