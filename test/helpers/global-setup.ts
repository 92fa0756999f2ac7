import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { TEST_POSTGRES_URL } from './dialects.js';

/**
 * Starts PostgreSQL and Redis when they are down, installs Chromium when it is missing, builds the console
 * bundle, and removes test schemas left behind by killed runs.
 */
export default async function setup(): Promise<void> {
  const result = spawnSync('bash', ['scripts/ensure-services.sh'], { stdio: 'inherit' });
  if (result.status !== 0)
    throw new Error('PostgreSQL and Redis are needed for the tests (scripts/ensure-services.sh failed)');
  const browser = spawnSync('bash', ['scripts/ensure-chromium.sh'], { stdio: 'inherit' });
  if (browser.status !== 0)
    throw new Error("Debian's chromium is needed for the browser tests (scripts/ensure-chromium.sh failed)");
  // The console and portal bundles the browser tests load, built once from the sources under test.
  const bundle = spawnSync(process.execPath, ['web/build.mjs'], { stdio: 'inherit' });
  if (bundle.status !== 0)
    throw new Error('web/build.mjs failed: the console bundle is needed for the tests');
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    const stale = await client.query<{ nspname: string }>(
      "select nspname from pg_namespace where nspname like 'gh_test_%' and split_part(nspname, '_', 3)::bigint < $1",
      [Date.now() - 6 * 3600 * 1000],
    );
    for (const { nspname } of stale.rows) await client.query(`drop schema if exists "${nspname}" cascade`);
  } finally {
    await client.end();
  }
}
