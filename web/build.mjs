// Builds the admin console and the account portal (web/console, Preact) into dist/web with esbuild: one
// minified ES module each and one stylesheet, served by Gatehouse itself (src/modules/console). Runs as part
// of `npm run build` (and so of `npm ci`, through `prepare`, and `npm start`). No CDN: everything is bundled.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
await mkdir(out, { recursive: true });
await build({
  entryPoints: {
    console: join(root, 'web', 'console', 'main.tsx'),
    account: join(root, 'web', 'console', 'account.tsx'),
  },
  outdir: out,
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
