import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_BRANDING, escapeHtml, page } from '../../platform/html.js';
import { pageCsp } from '../../platform/http/hardening.js';

/** The package root, from here in the sources (src/…) or in the build (dist/src/…). */
function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('package.json not found above the console module');
    directory = parent;
  }
  return directory;
}

/** Where `npm run build` (web/build.mjs) writes the console bundle. */
export function consoleBundleDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

const shell = (
  title: string,
  productName: string,
  script: string,
  nonce: string,
  primaryColor: string,
) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · ${escapeHtml(productName)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/admin/console.css">
<style nonce="${nonce}">:root { --primary: ${escapeHtml(primaryColor)}; }</style>
<script type="module" src="${script}"></script>
</head>
<body><div id="app" data-product="${escapeHtml(productName)}"></div><noscript>This page needs JavaScript; the JSON API (/docs) works without it.</noscript></body>
</html>`;

/**
 * The admin console at `/admin` and the account portal at `/account`: an HTML shell each, their scripts and
 * one stylesheet, all from this origin (the pages' CSP allows nothing else), built from web/console by
 * `npm run build`. Everything they show comes from the JSON API with the signed-in session, so their
 * permissions are the API's.
 */
export function registerConsole(app: FastifyInstance, productName: string): void {
  const directory = consoleBundleDir();
  const read = (file: string) => {
    const path = join(directory, file);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  };
  const bundles = { console: read('console.js'), account: read('account.js'), styles: read('console.css') };
  if (!bundles.console || !bundles.account || !bundles.styles) {
    app.log.warn({ directory }, 'the admin console and account portal are not built: run `npm run build`');
  }

  const shellPage = (url: string, title: string, script: string, built: boolean) =>
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      if (!built) {
        return page(
          reply,
          productName,
          {
            title: 'Not built',
            body: '<h1>This page is not built</h1><p>Run <code>npm run build</code> and restart Gatehouse.</p>',
          },
          503,
        );
      }
      const nonce = pageCsp(reply);
      return reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(shell(title, productName, script, nonce, (app.branding ?? DEFAULT_BRANDING).primaryColor));
    });
  shellPage('/admin', 'Admin', '/admin/console.js', Boolean(bundles.console && bundles.styles));
  shellPage('/account', 'Your account', '/account/account.js', Boolean(bundles.account && bundles.styles));

  const asset = (url: string, type: string, body: string | undefined) =>
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      if (!body) return reply.code(404).send();
      return reply
        .type(type)
        .header('cache-control', 'no-cache')
        .header('cross-origin-resource-policy', 'same-origin')
        .send(body);
    });
  asset('/admin/console.js', 'text/javascript; charset=utf-8', bundles.console);
  asset('/account/account.js', 'text/javascript; charset=utf-8', bundles.account);
  asset('/admin/console.css', 'text/css; charset=utf-8', bundles.styles);
}
