import { defineErrorCodes } from '../errors.js';

export const JobErrors = defineErrorCodes({
  job_not_found: { status: 404, title: 'No such job', expose: true },
  job_not_retryable: { status: 409, title: 'The job is queued or running already', expose: true },
  job_type_unknown: { status: 400, title: 'No such job type', expose: true },
  schedule_invalid: { status: 400, title: 'The schedule is not valid', expose: true },
});
