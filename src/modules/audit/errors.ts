import { defineErrorCodes } from '../../platform/errors.js';

export const AuditErrors = defineErrorCodes({
  audit_event_not_found: { status: 404, title: 'No such audit event', expose: true },
  audit_event_not_checkpointed: {
    status: 409,
    title: 'The event is not covered by a checkpoint yet; try again after the next one',
    expose: true,
  },
  audit_checkpoint_not_found: { status: 404, title: 'No checkpoint of that tree size', expose: true },
  audit_query_invalid: { status: 400, title: 'The audit query is not valid', expose: true },
  audit_backpressure: {
    status: 503,
    title: 'The audit log is catching up; try again shortly',
    expose: true,
  },
  audit_unavailable: {
    status: 503,
    title: 'The audit log could not record this action; check its state before retrying',
    expose: true,
  },
});
