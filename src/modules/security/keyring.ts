import type { SealedBox, SealedField } from '../../platform/crypto/sealed.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { EventRecorder } from '../../platform/events.js';
import { providerSecretField, tokensField } from '../federation/queries.js';
import { mfaSeedField } from '../mfa/queries.js';
import { signingKeyField } from '../oidc/queries.js';
import { idpKeyField } from '../saml/queries.js';
import { SecurityEvents } from './events.js';
import { replaceSealed, type SealedColumn, sealedRowsToRewrite } from './queries.js';

/** Every column that holds a sealed secret, and how its rows are bound. Add new ones here. */
export const SEALED_COLUMNS: readonly (SealedColumn & {
  name: string;
  field: (id: string) => SealedField;
})[] = [
  { name: 'TOTP seeds', table: 'mfa_methods', idColumn: 'id', column: 'secret_sealed', field: mfaSeedField },
  {
    name: 'signing keys',
    table: 'signing_keys',
    idColumn: 'kid',
    column: 'private_sealed',
    field: signingKeyField,
  },
  {
    name: 'webhook secrets',
    table: 'webhooks',
    idColumn: 'id',
    column: 'secret',
    field: (id) => ({ table: 'webhooks', column: 'secret', row: id }),
  },
  {
    name: 'alert channels',
    table: 'alert_rules',
    idColumn: 'id',
    column: 'channels',
    field: (id) => ({ table: 'alert_rules', column: 'channels', row: id }),
  },
  {
    name: 'identity provider secrets',
    table: 'identity_providers',
    idColumn: 'id',
    column: 'secret',
    field: providerSecretField,
  },
  {
    name: 'upstream tokens',
    table: 'federated_identities',
    idColumn: 'id',
    column: 'tokens',
    field: tokensField,
  },
  {
    name: 'SAML identity provider keys',
    table: 'saml_idp_keys',
    idColumn: 'id',
    column: 'private_sealed',
    field: idpKeyField,
  },
];

export interface RotationReport {
  readonly column: string;
  readonly rewritten: number;
  /** Changed by someone else while being rewritten (they wrote it with the current key anyway). */
  readonly skipped: number;
  /** Could not be opened with any configured key: listed by id, left as they are. */
  readonly failed: readonly string[];
}

/**
 * `gatehouse keys rotate-data`: re-encrypts every sealed secret still under an older key (or the v1 format)
 * with the first configured key, in batches, while Gatehouse serves. Each row is replaced only if unchanged
 * since it was read. Interrupted, it resumes by itself: the next run finds only rows not yet rewritten.
 */
export async function rotateSealedData(deps: {
  database: DatabaseHandle;
  sealedBox: SealedBox;
  events: EventRecorder;
  batchSize: number;
  onBatch?: (column: string, done: number) => void;
}): Promise<RotationReport[]> {
  const current = `v2.${deps.sealedBox.activeKeyId}.`;
  const reports: RotationReport[] = [];
  for (const column of SEALED_COLUMNS) {
    let afterId = '';
    let rewritten = 0;
    let skipped = 0;
    const failed: string[] = [];
    for (;;) {
      const rows = await sealedRowsToRewrite(deps.database.db, column, current, afterId, deps.batchSize);
      if (rows.length === 0) break;
      for (const row of rows) {
        afterId = row.id;
        let plaintext: string;
        try {
          plaintext = deps.sealedBox.open(row.sealed, column.field(row.id));
        } catch {
          failed.push(row.id);
          continue;
        }
        const next = deps.sealedBox.seal(plaintext, column.field(row.id));
        if (await replaceSealed(deps.database.db, column, row.id, row.sealed, next)) rewritten += 1;
        else skipped += 1;
      }
      deps.onBatch?.(column.name, rewritten);
    }
    reports.push({ column: column.name, rewritten, skipped, failed });
  }
  deps.events.record({
    name: SecurityEvents.dataKeyRotated,
    severity: 'high',
    outcome: reports.some((report) => report.failed.length > 0) ? 'failure' : 'success',
    details: {
      keyId: deps.sealedBox.activeKeyId,
      columns: reports.map((report) => ({
        column: report.column,
        rewritten: report.rewritten,
        skipped: report.skipped,
        failed: report.failed.length,
      })),
    },
  });
  return reports;
}
