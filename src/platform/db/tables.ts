/**
 * The database schema as Kysely sees it. Each module adds its own tables beside its code with
 * declaration merging:
 *
 *   declare module '../../platform/db/tables.js' { interface Tables { settings: SettingsTable } }
 *
 * Conventions that hold on both dialects: ids are text (UUIDv7), times are integer milliseconds since the
 * epoch (UTC), JSON is text.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module.
export interface Tables {}
