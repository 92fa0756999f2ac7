import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rotateSealedData } from '../src/modules/security/keyring.js';
import { signedInAccount } from './helpers/accounts.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { runGatehouse } from './helpers/cli.js';
import { describeEachDialect } from './helpers/dialects.js';

describeEachDialect('encryption keyring', (testDatabase, dialect) => {
  let before: TestApp;
  let after: TestApp;
  const newKey = `k1:${randomBytes(32).toString('hex')}`;

  beforeAll(async () => {
    // Secrets sealed with the default key (derived from the master key)...
    before = await buildTestApp(testDatabase().url, {
      overrides: { passwords: { argon2: { memoryKiB: 1024, iterations: 1, parallelism: 1 } } },
    });
    await before.app.services.signingKeys.ensure();
    const user = await signedInAccount(before.app, 'keyring', dialect);
    const enrolled = await before.app.inject({
      method: 'POST',
      url: '/api/v1/me/mfa/methods',
      headers: user.headers,
      payload: { type: 'totp' },
    });
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    await before.app.services.federation.createProvider(
      {
        slug: 'keyring-idp',
        name: 'Keyring IdP',
        preset: 'generic',
        issuer: 'https://idp.example.com',
        clientId: 'gatehouse',
        clientSecret: 'upstream-secret-to-rotate',
        autoLink: false,
        allowSignup: true,
        keepTokens: false,
        enabled: true,
      },
      {},
    );
    // ...then a node configured with a new first key.
    after = await buildTestApp(testDatabase().url, { overrides: { secrets: { encryptionKeys: [newKey] } } });
  });

  afterAll(async () => {
    await before?.app.close();
    await after?.app.close();
  });

  const sealedValues = async () => {
    const { db } = after.app.gatehouse.database;
    const seeds = await db.selectFrom('mfa_methods').select(['id', 'secret_sealed']).execute();
    const keys = await db.selectFrom('signing_keys').select(['kid', 'private_sealed']).execute();
    const providers = await db.selectFrom('identity_providers').select(['id', 'secret']).execute();
    return [
      ...seeds.map((row) => ({ table: 'mfa_methods', id: row.id, sealed: row.secret_sealed! })),
      ...keys.map((row) => ({ table: 'signing_keys', id: row.kid, sealed: row.private_sealed })),
      ...providers.map((row) => ({ table: 'identity_providers', id: row.id, sealed: row.secret! })),
    ];
  };

  it('re-encrypts every stored secret with the first key, online and resumably', async () => {
    const initial = await sealedValues();
    expect(initial.length).toBeGreaterThanOrEqual(3);
    expect(initial.every((value) => value.sealed.startsWith('v2.k0.'))).toBe(true);

    const reports = await rotateSealedData({
      database: after.app.gatehouse.database,
      sealedBox: after.app.services.sealedBox,
      events: after.app.services.events,
      batchSize: 1,
    });
    expect(reports.map((report) => [report.column, report.failed.length])).toEqual([
      ['TOTP seeds', 0],
      ['signing keys', 0],
      ['webhook secrets', 0],
      ['alert channels', 0],
      ['identity provider secrets', 0],
      ['upstream tokens', 0],
      ['SAML identity provider keys', 0],
    ]);
    expect(reports.reduce((sum, report) => sum + report.rewritten, 0)).toBe(initial.length);
    const rotated = await sealedValues();
    expect(rotated.every((value) => value.sealed.startsWith('v2.k1.'))).toBe(true);
    // Still usable: the new node signs with the keys it re-encrypted.
    expect((await after.app.services.signingKeys.privateJwks()).length).toBeGreaterThan(0);
    expect(after.logs.text).toContain('"securityEvent":"key.data_rotated"');
    expect((await after.app.services.federation.getProvider('keyring-idp')).hasClientSecret).toBe(true);

    // Run again (as after an interruption): nothing left to do.
    const again = await rotateSealedData({
      database: after.app.gatehouse.database,
      sealedBox: after.app.services.sealedBox,
      events: after.app.services.events,
      batchSize: 50,
    });
    expect(again.every((report) => report.rewritten === 0)).toBe(true);
  });

  it('reports a value that no key opens (one byte flipped) and leaves it, failing the command', async () => {
    const { db } = after.app.gatehouse.database;
    const seed = (await sealedValues()).find((value) => value.table === 'mfa_methods')!;
    const parts = seed.sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[body.length - 1]! ^= 1;
    parts[3] = body.toString('base64url');
    // Written in the old key's name so the rotation picks it up.
    const tampered = ['v2', 'k0', parts[2], parts[3]].join('.');
    await db.updateTable('mfa_methods').set({ secret_sealed: tampered }).where('id', '=', seed.id).execute();
    const result = await runGatehouse(['keys', 'rotate-data'], {
      NODE_ENV: 'test',
      DATABASE_URL: testDatabase().url,
      GATEHOUSE_SECRET_KEY: after.config.secrets.key!,
      GATEHOUSE__SECRETS__ENCRYPTION_KEYS: newKey,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(
      `TOTP seeds: 0 re-encrypted with k1, 0 changed meanwhile, 1 could not be opened (${seed.id})`,
    );
    const still = await db
      .selectFrom('mfa_methods')
      .select('secret_sealed')
      .where('id', '=', seed.id)
      .executeTakeFirstOrThrow();
    expect(still.secret_sealed).toBe(tampered);
  });
});
