import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { escapeHtml, page } from '../../platform/html.js';
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

/**
 * The admin console at `/admin`: one HTML shell, one script and one stylesheet from this origin (the page's
 * CSP allows nothing else), built from web/console by `npm run build`. Everything it shows comes from the
 * JSON API with the signed-in session, so its permissions are the API's.
 */
export function registerConsole(app: FastifyInstance, productName: string): void {
  const directory = consoleBundleDir();
  const read = (file: string) => {
    const path = join(directory, file);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  };
  const script = read('console.js');
  const stylesheet = read('console.css');
  if (!script || !stylesheet) {
    app.log.warn({ directory }, 'the admin console is not built: run `npm run build`');
  }

  app.get('/admin', { schema: { hide: true } }, async (_request, reply) => {
    if (!script || !stylesheet) {
      return page(
        reply,
        productName,
        {
          title: 'Console not built',
          body: '<h1>The admin console is not built</h1><p>Run <code>npm run build</code> and restart Gatehouse.</p>',
        },
        503,
      );
    }
    pageCsp(reply);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>Admin · ${escapeHtml(productName)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/admin/console.css">
<script type="module" src="/admin/console.js"></script>
</head>
<body><div id="app" data-product="${escapeHtml(productName)}"></div><noscript>The admin console needs JavaScript; the JSON API (/docs) works without it.</noscript></body>
</html>`);
  });
  const asset = (url: string, type: string, body: string | undefined) =>
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      if (!body) return reply.code(404).send();
      return reply
        .type(type)
        .header('cache-control', 'no-cache')
        .header('cross-origin-resource-policy', 'same-origin')
        .send(body);
    });
  asset('/admin/console.js', 'text/javascript; charset=utf-8', script);
  asset('/admin/console.css', 'text/css; charset=utf-8', stylesheet);
}
