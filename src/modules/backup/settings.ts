import { type Static, Type } from '@sinclair/typebox';
import { Count } from '../../config/fields.js';

export const BackupSettingsSchema = Type.Object(
  {
    directory: Type.Optional(
      Type.String({ minLength: 1, description: 'Where scheduled backups go (default <dataDir>/backups).' }),
    ),
    schedule: Type.String({
      maxLength: 100,
      default: '',
      description:
        'Cron expression (jobs.timezone) for scheduled backups under the installation key, e.g. "30 2 * * *"; empty: none.',
    }),
    keepDaily: Count(7, 'Scheduled backups kept: the newest of each of this many recent days…', 0),
    keepWeekly: Count(4, '…and the newest of each of this many recent weeks (ISO weeks, Monday first).', 0),
  },
  { default: {}, additionalProperties: false },
);

export type BackupSettings = Static<typeof BackupSettingsSchema>;
