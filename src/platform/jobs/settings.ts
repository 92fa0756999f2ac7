import { type Static, Type } from '@sinclair/typebox';
import { Count } from '../../config/fields.js';

const Milliseconds = (defaultValue: number, description: string, minimum = 1) =>
  Type.Integer({
    minimum,
    default: defaultValue,
    description,
    errorMessage: 'must be a whole number of milliseconds',
  });

const Schedule = (cron: string, description: string) =>
  Type.Object(
    {
      cron: Type.String({
        maxLength: 100,
        default: cron,
        description: `${description} Five fields (minute hour day month weekday), or six with seconds first; an empty string turns it off.`,
      }),
      timezone: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 64,
          description: 'IANA time zone; jobs.timezone when not set.',
        }),
      ),
    },
    { default: {}, additionalProperties: false },
  );

export const JobSettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Whether this node runs jobs and scheduled tasks (every node may enqueue).',
    }),
    concurrency: Count(4, 'Jobs one node runs at once.'),
    pollIntervalMs: Milliseconds(
      1_000,
      'How often an idle worker looks for due jobs (new local jobs wake it at once).',
      50,
    ),
    leaseGraceMs: Milliseconds(
      30_000,
      'A claimed job belongs to its worker for its own timeout plus this; after that another node may take it.',
      1_000,
    ),
    schedulerTickMs: Milliseconds(
      15_000,
      'How often each node looks for scheduled tasks that are due (one node takes each run).',
      100,
    ),
    shutdownDrainMs: Milliseconds(10_000, 'How long shutdown waits for running jobs.', 0),
    defaults: Type.Object(
      {
        maxAttempts: Count(8, 'Runs before a job is dead.'),
        timeoutMs: Milliseconds(30_000, "One run's time limit.", 10),
        backoff: Type.Object(
          {
            baseMs: Milliseconds(
              2_000,
              'The first retry waits about this long; each later one twice as long.',
            ),
            maxMs: Milliseconds(3_600_000, 'Retries never wait longer than this.'),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    retention: Type.Object(
      {
        succeededDays: Count(7, 'Finished jobs are deleted after this many days.'),
        deadDays: Type.Integer({
          minimum: 0,
          default: 30,
          description: 'Dead jobs are kept this many days for inspection and replay; 0 keeps them.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    timezone: Type.String({
      minLength: 1,
      default: 'UTC',
      description: 'The time zone schedules are read in.',
    }),
    schedules: Type.Object(
      {
        housekeeping: Schedule(
          '*/10 * * * *',
          'Deletes expired sessions, e-mail links, MFA challenges, OAuth artefacts, old sign-in history and finished jobs, and prunes audit content past its retention.',
        ),
        alerts: Schedule('* * * * *', 'Evaluates the alert rules over the audit log.'),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type JobSettings = Static<typeof JobSettingsSchema>;
