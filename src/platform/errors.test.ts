import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../app.js';
import { defineErrorCodes, GatehouseError, registeredErrorCodes } from './errors.js';

describe('error codes', () => {
  it('are all documented in docs/errors.md', () => {
    const document = readFileSync('docs/errors.md', 'utf8');
    for (const code of registeredErrorCodes().keys()) {
      expect(document, `docs/errors.md does not list ${code}`).toMatch(
        new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`, 'm'),
      );
    }
  });

  it('cannot be registered twice with different meanings', () => {
    expect(() => defineErrorCodes({ not_found: { status: 410, title: 'Gone', expose: true } })).toThrow(
      /already registered/,
    );
  });

  it('must be registered before use, and snake_case', () => {
    expect(() => new GatehouseError('no_such_code')).toThrow(/unregistered/);
    expect(() => defineErrorCodes({ NotSnake: { status: 400, title: 'x', expose: true } })).toThrow(
      /snake_case/,
    );
  });

  it('hide messages of non-exposable codes', () => {
    const error = new GatehouseError('internal_error', 'db password is hunter2');
    expect(error.publicDetail).toBe('Internal server error');
    expect(new GatehouseError('conflict', 'Name taken').publicDetail).toBe('Name taken');
  });
});
