/** Audit events of the backup module. */
export const BackupEvents = {
  created: 'backup.created',
} as const;
