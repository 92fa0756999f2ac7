import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { AccountEvents } from '../src/modules/accounts/events.js';
import { AlertEvents } from '../src/modules/alerts/events.js';
import { AuditEvents } from '../src/modules/audit/events.js';
import { AuthzEvents } from '../src/modules/authz/events.js';
import { BackupEvents } from '../src/modules/backup/events.js';
import { FederationEvents } from '../src/modules/federation/events.js';
import { MfaEvents } from '../src/modules/mfa/events.js';
import { OidcEvents } from '../src/modules/oidc/events.js';
import { OrgEvents } from '../src/modules/orgs/events.js';
import { SamlEvents } from '../src/modules/saml/events.js';
import { SecurityEvents } from '../src/modules/security/events.js';
import { SessionEvents } from '../src/modules/sessions/events.js';
import { SystemEvents } from '../src/modules/system/events.js';
import { WebhookEvents } from '../src/modules/webhooks/events.js';
import { buildTestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/dialects.js';

const document = readFileSync('docs/events.md', 'utf8');

it('documents every security event name in docs/events.md', () => {
  const names = [
    AccountEvents,
    SessionEvents,
    MfaEvents,
    OidcEvents,
    AuthzEvents,
    OrgEvents,
    SecurityEvents,
    AuditEvents,
    SystemEvents,
    WebhookEvents,
    AlertEvents,
    BackupEvents,
    FederationEvents,
    SamlEvents,
  ].flatMap((catalogue) => Object.values(catalogue));
  const missing = names.filter((name) => !document.includes(`\`${name}\``));
  expect(missing).toEqual([]);
});

it('documents every gatehouse_ metric the app registers in docs/events.md', async () => {
  const database = await createTestDatabase('sqlite');
  const { app } = await buildTestApp(database.url);
  try {
    await app.ready();
    const metrics = await app.gatehouse.metrics.registry.getMetricsAsJSON();
    // prom-client's default process and runtime metrics, under our prefix, are documented as a group.
    const names = metrics
      .map((metric) => metric.name)
      .filter((name) => name.startsWith('gatehouse_') && !/^gatehouse_(process|nodejs)_/.test(name));
    expect(names).toContain('gatehouse_mfa_verifications_total');
    expect(names.filter((name) => !document.includes(`\`${name}\``))).toEqual([]);
  } finally {
    await app.close();
    await database.drop();
  }
});
