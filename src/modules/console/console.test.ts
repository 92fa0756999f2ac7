import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../../test/helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/dialects.js';

let database: TestDatabase;
let harness: TestApp;

beforeAll(async () => {
  database = await createTestDatabase('sqlite');
  harness = await buildTestApp(database.url, {
    overrides: {
      accounts: {
        productName: 'Acme <ID>',
        branding: { primaryColor: '#0b6e4f', logoUrl: '/brand/logo.svg' },
      },
    },
  });
});

afterAll(async () => {
  await harness?.app.close();
  await database?.drop();
});

it('serves the console shell under a CSP that allows only this origin, with its script and stylesheet', async () => {
  const shell = await harness.app.inject({ method: 'GET', url: '/admin' });
  expect(shell.statusCode).toBe(200);
  expect(shell.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(shell.headers['cache-control']).toBe('no-store');
  const csp = String(shell.headers['content-security-policy']);
  expect(csp).toContain("default-src 'self'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+'/);
  expect(csp).not.toContain('unsafe-inline');
  expect(shell.body).toContain('<script type="module" src="/admin/console.js"></script>');
  expect(shell.body).toContain('data-product="Acme &#60;ID&#62;"');
  expect(shell.body).not.toMatch(/https?:\/\//);

  const script = await harness.app.inject({ method: 'GET', url: '/admin/console.js' });
  expect(script.statusCode).toBe(200);
  expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(script.body).toContain('/api/v1/admin/audit');
  // Nothing in the bundle reaches another origin: the only URLs in it are XML namespace names and a link to
  // the WebAuthn client's documentation inside one of its warning messages.
  const urls = [...script.body.matchAll(/https?:\/\/[^\s"'`)]+/g)].map(([url]) => url);
  expect(
    urls.filter((url) => !/^http:\/\/www\.w3\.org\/|^https:\/\/simplewebauthn\.dev\/docs\//.test(url)),
  ).toEqual([]);
  const styles = await harness.app.inject({ method: 'GET', url: '/admin/console.css' });
  expect(styles.headers['content-type']).toBe('text/css; charset=utf-8');
});

it('brands the sign-in pages and the console with the configured colour and logo', async () => {
  const signIn = await harness.app.inject({ method: 'GET', url: '/login' });
  expect(signIn.body).toContain('background: #0b6e4f');
  expect(signIn.body).toContain('<img class="logo" src="/brand/logo.svg" alt="">');
  expect(signIn.body).not.toContain('#2851a3');
  const shell = await harness.app.inject({ method: 'GET', url: '/admin' });
  const nonce = /'nonce-([^']+)'/.exec(String(shell.headers['content-security-policy']))?.[1];
  expect(shell.body).toContain(`<style nonce="${nonce}">:root { --primary: #0b6e4f; }</style>`);
});

it('refuses a logo from another origin in the settings', async () => {
  const { loadConfig } = await import('../../config/load.js');
  expect(() =>
    loadConfig({
      env: {},
      overrides: { accounts: { branding: { logoUrl: 'https://cdn.example.com/logo.png' } } },
    }),
  ).toThrow(/accounts\.branding\.logoUrl/);
  expect(() =>
    loadConfig({ env: {}, overrides: { accounts: { branding: { primaryColor: 'red' } } } }),
  ).toThrow(/primaryColor/);
});
