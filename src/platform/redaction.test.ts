import { describe, expect, it } from 'vitest';
import { createRedactor, luhnValid } from './redaction.js';

const redactor = createRedactor();

describe('redaction', () => {
  it('masks payment card numbers that pass the Luhn check, and only those', () => {
    // Test numbers published by the card networks.
    for (const [card, last4] of [
      ['4111 1111 1111 1111', '1111'],
      ['5555-5555-5555-4444', '4444'],
      ['378282246310005', '0005'],
      ['6011111111111117', '1117'],
    ] as const) {
      expect(redactor.text(`paid with ${card} today`)).toBe(`paid with [card ****${last4}] today`);
    }
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(redactor.text('order 4111111111111112 shipped')).toBe('order 4111111111111112 shipped');
    expect(redactor.text('ids 1700000000000 and 2026')).toBe('ids 1700000000000 and 2026');
  });

  it('masks national ID numbers', () => {
    expect(redactor.text('SSN 123-45-6789 on file')).toBe('SSN [national id] on file');
    expect(redactor.text('invalid 000-12-3456 stays')).toBe('invalid 000-12-3456 stays');
    expect(redactor.text('NINO JG 10 37 59 A given')).toBe('NINO [national id] given');
    expect(redactor.text('NINO AB123456C given')).toBe('NINO [national id] given');
  });

  it('masks API keys, tokens and secrets, keeping what identifies them', () => {
    const key = `gh_0123456789abcdef_${'A'.repeat(43)}`;
    expect(redactor.text(`key ${key} used`)).toBe('key gh_0123456789abcdef_[redacted] used');
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl';
    expect(redactor.text(`token ${jwt}`)).toBe('token [jwt]');
    expect(redactor.text('Authorization: Bearer abcdefghijklmnop')).toBe('Authorization: Bearer [redacted]');
    expect(redactor.text('aws AKIAIOSFODNN7EXAMPLE here')).toBe('aws [secret] here');
    expect(redactor.text('gh token ghp_abcdefghijklmnopqrstuvwxyz0123456789AB')).toBe('gh token [secret]');
    expect(redactor.text('stripe sk_live_abcdefghijklmnop1234')).toBe('stripe [secret]');
    expect(redactor.text('login password=hunter22 failed')).toBe('login password=[redacted] failed');
    expect(redactor.text('{"client_secret": "s3cr3t-value"}')).toBe('{"client_secret": "[redacted]"}');
    expect(redactor.text('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----')).toBe(
      '[private key]',
    );
  });

  it('masks secret fields by name at any depth, and leaves everything else', () => {
    const input = {
      user: 'u_1',
      details: {
        password: 'hunter22',
        newPassword: 'x',
        csrfToken: 'abc',
        tokenType: 'Bearer',
        nested: [{ apiKey: 'k' }],
      },
      note: 'card 4111111111111111',
      count: 3,
    };
    expect(redactor.value(input)).toEqual({
      user: 'u_1',
      details: {
        password: '[redacted]',
        newPassword: '[redacted]',
        csrfToken: '[redacted]',
        tokenType: 'Bearer',
        nested: [{ apiKey: '[redacted]' }],
      },
      note: 'card [card ****1111]',
      count: 3,
    });
    expect(input.details.password).toBe('hunter22');
  });

  it('takes configured patterns and field names', () => {
    const custom = createRedactor({
      patterns: [{ name: 'employee id', pattern: 'EMP-\\d{6}' }],
      fieldNames: ['mothersMaidenName'],
    });
    expect(custom.text('ask EMP-123456 now')).toBe('ask [employee id] now');
    expect(custom.value({ mothersMaidenName: 'Smith' })).toEqual({ mothersMaidenName: '[redacted]' });
  });
});
