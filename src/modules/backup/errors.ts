import { defineErrorCodes } from '../../platform/errors.js';

export const BackupErrors = defineErrorCodes({
  backup_invalid: { status: 400, title: 'The backup is not valid', expose: true },
  backup_key_wrong: { status: 400, title: 'The backup needs another key', expose: true },
  backup_schema_newer: { status: 409, title: 'The backup comes from a newer Gatehouse', expose: true },
  backup_target_not_empty: { status: 409, title: 'The target database already holds data', expose: true },
  backup_mismatch: { status: 500, title: 'The copy does not match its source', expose: true },
});
