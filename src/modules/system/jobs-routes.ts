import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { EventRecorder } from '../../platform/events.js';
import { problemResponses } from '../../platform/http/problem.js';
import type { JobQueue, JobView } from '../../platform/jobs/queue.js';
import type { createScheduler } from '../../platform/jobs/scheduler.js';
import type { JobSettings } from '../../platform/jobs/settings.js';
import { requires } from '../authz/routes.js';
import { SystemEvents } from './events.js';
import { JobListQuery, JobParams, JobResponse, JobsOverviewResponse, JobsResponse } from './schemas.js';

export interface JobRoutesOptions {
  readonly jobs: JobQueue;
  readonly scheduler: ReturnType<typeof createScheduler>;
  readonly settings: JobSettings;
  readonly events: EventRecorder;
}

const iso = (time: number) => new Date(time).toISOString();
const jobBody = (job: JobView) => ({
  ...job,
  runAt: iso(job.runAt),
  createdAt: iso(job.createdAt),
  finishedAt: job.finishedAt === null ? null : iso(job.finishedAt),
});

/** The job queue for operators: counts per type, schedules, the jobs themselves, and replaying a dead one. */
export const jobRoutes: FastifyPluginAsyncTypebox<JobRoutesOptions> = async (
  app,
  { jobs, scheduler, settings, events },
) => {
  const tags = ['system'];
  app.get(
    '/api/v1/admin/system/jobs',
    {
      config: requires('system:read'),
      schema: {
        tags,
        summary:
          'Jobs by type and status (queued, running, failed, dead, succeeded), this worker, and the schedules',
        response: { 200: JobsOverviewResponse, ...problemResponses },
      },
    },
    async () => ({
      worker: {
        enabled: settings.enabled,
        id: jobs.workerId,
        concurrency: settings.concurrency,
        active: jobs.active,
      },
      types: await jobs.stats(),
      schedules: (await scheduler.list()).map((schedule) => ({
        ...schedule,
        nextRunAt: iso(schedule.nextRunAt),
        lastRunAt: schedule.lastRunAt === null ? null : iso(schedule.lastRunAt),
      })),
    }),
  );

  app.get(
    '/api/v1/admin/system/jobs/list',
    {
      config: requires('system:read'),
      schema: {
        tags,
        summary: 'Jobs, newest first, by status and type (never their payloads)',
        querystring: JobListQuery,
        response: { 200: JobsResponse, ...problemResponses },
      },
    },
    async (request) => ({ jobs: (await jobs.list(request.query)).map(jobBody) }),
  );

  app.get(
    '/api/v1/admin/system/jobs/:jobId',
    {
      config: requires('system:read'),
      schema: {
        tags,
        summary: 'One job',
        params: JobParams,
        response: { 200: JobResponse, ...problemResponses },
      },
    },
    async (request) => ({ job: jobBody(await jobs.get(request.params.jobId)) }),
  );

  app.post(
    '/api/v1/admin/system/jobs/:jobId/retry',
    {
      config: requires('system:write'),
      schema: {
        tags,
        summary: 'Run a dead (or failed, or finished) job again from its first attempt',
        params: JobParams,
        response: { 200: JobResponse, ...problemResponses },
      },
    },
    async (request) => {
      const job = await jobs.retry(request.params.jobId);
      await events.recordDurably({
        name: SystemEvents.jobRetried,
        severity: 'medium',
        outcome: 'success',
        target: { type: 'job', id: job.id },
        details: { type: job.type },
      });
      return { job: jobBody(job) };
    },
  );
};
