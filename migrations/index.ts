import type { Migration } from 'kysely';
import * as m0001 from './0001_settings.js';
import * as m0002 from './0002_identity.js';
import * as m0003 from './0003_mfa.js';
import * as m0004 from './0004_oidc.js';
import * as m0005 from './0005_oidc_accounts.js';
import * as m0006 from './0006_authz.js';
import * as m0007 from './0007_api_keys.js';
import * as m0008 from './0008_organizations.js';
import * as m0009 from './0009_policies.js';
import * as m0010 from './0010_security.js';
import * as m0011 from './0011_sign_in_history.js';
import * as m0012 from './0012_decoys.js';
import * as m0013 from './0013_audit.js';
import * as m0014 from './0014_jobs.js';
import * as m0015 from './0015_webhooks.js';
import * as m0016 from './0016_alerts.js';
import * as m0017 from './0017_federation.js';

/**
 * Every migration, in order. Names never change once released; add new ones at the end.
 * Each runs unchanged on SQLite and PostgreSQL (tested on both in src/platform/db/migrate.test.ts).
 */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001_settings': m0001,
  '0002_identity': m0002,
  '0003_mfa': m0003,
  '0004_oidc': m0004,
  '0005_oidc_accounts': m0005,
  '0006_authz': m0006,
  '0007_api_keys': m0007,
  '0008_organizations': m0008,
  '0009_policies': m0009,
  '0010_security': m0010,
  '0011_sign_in_history': m0011,
  '0012_decoys': m0012,
  '0013_audit': m0013,
  '0014_jobs': m0014,
  '0015_webhooks': m0015,
  '0016_alerts': m0016,
  '0017_federation': m0017,
};
