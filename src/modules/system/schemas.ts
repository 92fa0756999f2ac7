import { Type } from '@sinclair/typebox';

const Status = Type.Union([Type.Literal('up'), Type.Literal('down')]);

export const LiveResponse = Type.Object({ status: Type.Literal('up') });

export const ReadyResponse = Type.Object({
  status: Status,
  shuttingDown: Type.Boolean(),
  failed: Type.Array(Type.String(), { description: 'Critical components that are down.' }),
});

const Component = Type.Object({
  status: Status,
  critical: Type.Boolean(),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String({ description: 'Only for operators.' })),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Only for operators.' })),
});

export const HealthResponse = Type.Object({
  status: Status,
  shuttingDown: Type.Boolean(),
  version: Type.String(),
  components: Type.Record(Type.String(), Component),
  installationId: Type.Optional(Type.String({ description: 'Only for operators.' })),
  uptimeSeconds: Type.Optional(Type.Number({ description: 'Only for operators.' })),
});

export const HealthHeaders = Type.Object({
  authorization: Type.Optional(
    Type.String({ description: 'Bearer <health.token> shows component details.' }),
  ),
});

const JobStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('failed'),
  Type.Literal('succeeded'),
  Type.Literal('dead'),
]);
const Iso = Type.String({ format: 'date-time' });

export const JobSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    status: JobStatus,
    priority: Type.Integer(),
    runAt: Iso,
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    idempotencyKey: Type.Union([Type.String(), Type.Null()]),
    createdAt: Iso,
    finishedAt: Type.Union([Iso, Type.Null()]),
  },
  { title: 'Job' },
);

const Counts = Type.Object({
  queued: Type.Integer(),
  running: Type.Integer(),
  failed: Type.Integer({ description: 'Failed at least once and waiting for a retry.' }),
  dead: Type.Integer({ description: 'Failed every attempt; kept for inspection and replay.' }),
  succeeded: Type.Integer(),
});

export const JobsOverviewResponse = Type.Object({
  worker: Type.Object({
    enabled: Type.Boolean(),
    id: Type.String({ description: "This node's worker id (what `running` jobs name as their holder)." }),
    concurrency: Type.Integer(),
    active: Type.Integer({ description: 'Jobs this node is running now.' }),
  }),
  types: Type.Record(Type.String(), Counts),
  schedules: Type.Array(
    Type.Object({
      name: Type.String(),
      cron: Type.String(),
      timezone: Type.String(),
      nextRunAt: Iso,
      lastRunAt: Type.Union([Iso, Type.Null()]),
      lastJobId: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

export const JobListQuery = Type.Object(
  {
    status: Type.Optional(JobStatus),
    type: Type.Optional(Type.String({ maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    before: Type.Optional(
      Type.String({ maxLength: 64, description: 'Jobs older than this job id (paging).' }),
    ),
  },
  { additionalProperties: false },
);
export const JobParams = Type.Object({ jobId: Type.String({ minLength: 1, maxLength: 64 }) });
export const JobResponse = Type.Object({ job: JobSchema });
export const JobsResponse = Type.Object({ jobs: Type.Array(JobSchema) });
