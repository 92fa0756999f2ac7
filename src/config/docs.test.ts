import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES } from './load.js';
import { ConfigSchema } from './schema.js';

function settingPaths(schema: TSchema, prefix: string[] = []): string[] {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties;
  if (schema.type === 'object' && properties) {
    return Object.entries(properties).flatMap(([key, child]) => settingPaths(child, [...prefix, key]));
  }
  return [prefix.join('.')];
}

describe('docs/configuration.md', () => {
  const document = readFileSync('docs/configuration.md', 'utf8');

  it('documents every setting with its environment variable', () => {
    for (const path of settingPaths(ConfigSchema)) {
      const row = document
        .split('\n')
        .find((line) => new RegExp(`^\\|\\s*\`${path.replaceAll('.', '\\.')}\`\\s*\\|`).test(line));
      expect(row, `docs/configuration.md has no row for ${path}`).toBeDefined();
      const variable = Object.entries(ENV_VARIABLES).find(([, setting]) => setting === path)?.[0];
      if (variable) expect(row).toContain(`\`${variable}\``);
    }
  });
});
