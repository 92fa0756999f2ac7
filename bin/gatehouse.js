#!/usr/bin/env node
import { existsSync } from 'node:fs';

// The CLI is TypeScript; installs and checkouts run the compiled copy, which exists only after a build.
const entry = new URL('../dist/src/cli/index.js', import.meta.url);

if (existsSync(entry)) {
  await import(entry.href);
} else {
  process.stderr.write('gatehouse: not built yet; run npm run build\n');
  process.exitCode = 1;
}
