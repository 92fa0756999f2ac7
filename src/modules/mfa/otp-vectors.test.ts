import { HOTP, Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import {
  matchTotp,
  newBackupCode,
  newNumericCode,
  newTotpSecret,
  normalizeBackupCode,
  totpStep,
} from './otp.js';

// RFC 4226 Appendix D and RFC 6238 Appendix B share this secret: the ASCII string "12345678901234567890".
const RFC_SECRET = Secret.fromLatin1('12345678901234567890');

describe('RFC 6238 TOTP (Appendix B, SHA-1)', () => {
  const table: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  it.each(table)('otpauth gives the published 8-digit code at T=%i', (seconds, expected) => {
    expect(
      TOTP.generate({
        secret: RFC_SECRET,
        algorithm: 'SHA1',
        digits: 8,
        period: 30,
        timestamp: seconds * 1000,
      }),
    ).toBe(expected);
  });

  it.each(table)(
    'our check accepts the 6-digit form at T=%i and names its time step',
    (seconds, expected) => {
      const step = matchTotp({
        secret: RFC_SECRET.base32,
        code: expected.slice(-6),
        now: seconds * 1000,
        window: 0,
      });
      expect(step).toBe(Math.floor(seconds / 30));
      expect(totpStep(seconds * 1000)).toBe(Math.floor(seconds / 30));
    },
  );
});

describe('RFC 4226 HOTP (Appendix D)', () => {
  const codes = [
    '755224',
    '287082',
    '359152',
    '969429',
    '338314',
    '254676',
    '287922',
    '162583',
    '399871',
    '520489',
  ];

  it.each(codes.map((code, counter) => [counter, code] as const))('counter %i gives %s', (counter, code) => {
    expect(HOTP.generate({ secret: RFC_SECRET, algorithm: 'SHA1', digits: 6, counter })).toBe(code);
    // TOTP at step c is HOTP with counter c.
    expect(matchTotp({ secret: RFC_SECRET.base32, code, now: counter * 30_000, window: 0 })).toBe(counter);
  });
});

describe('TOTP window', () => {
  const now = 1_700_000_000_000;
  const at = (offsetSteps: number) =>
    TOTP.generate({ secret: RFC_SECRET, digits: 6, period: 30, timestamp: now + offsetSteps * 30_000 });

  it('accepts one step either side with window 1, and not two', () => {
    const step = totpStep(now);
    expect(matchTotp({ secret: RFC_SECRET.base32, code: at(-1), now, window: 1 })).toBe(step - 1);
    expect(matchTotp({ secret: RFC_SECRET.base32, code: at(1), now, window: 1 })).toBe(step + 1);
    expect(matchTotp({ secret: RFC_SECRET.base32, code: at(2), now, window: 1 })).toBeUndefined();
    expect(matchTotp({ secret: RFC_SECRET.base32, code: at(-1), now, window: 0 })).toBeUndefined();
  });

  it('refuses anything but six digits', () => {
    for (const code of ['', '12345', '1234567', '12345a', ' 123456']) {
      expect(matchTotp({ secret: RFC_SECRET.base32, code, now, window: 1 })).toBeUndefined();
    }
  });
});

describe('codes', () => {
  it('makes 160-bit TOTP secrets in base32', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(secret).bytes).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(secret);
  });

  it('makes six-digit e-mail and SMS codes', () => {
    const codes = Array.from({ length: 200 }, newNumericCode);
    for (const code of codes) expect(code).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(190);
  });

  it('makes backup codes without look-alike letters, and reads them back however they are typed', () => {
    const code = newBackupCode();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(normalizeBackupCode(code.toLowerCase().replace('-', ' '))).toBe(code);
    expect(normalizeBackupCode('ab1cd-efghk')).toBe('AB1CD-EFGHK');
    expect(normalizeBackupCode('oI0lo 23456')).toBe('01010-23456');
  });
});
