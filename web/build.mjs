// Builds the admin console (web/console, Preact) into dist/web with esbuild: one minified ES module and one
// stylesheet, served by Gatehouse itself (src/modules/console). Runs as part of `npm run build` (and so of
// `npm ci`, through `prepare`, and `npm start`). No CDN: everything the console needs is in the bundle.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(root, 'web', 'console', 'main.tsx')],
  outfile: join(out, 'console.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(join(root, 'web', 'console', 'console.css'), join(out, 'console.css'));
