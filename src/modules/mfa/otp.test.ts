import { Secret, TOTP, URI } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { matchTotp, normalizeBackupCode, qrCodeDataUrl, totpStep, totpUri } from './otp.js';

// The RFC vectors, the ±1-step window, and the code generators are in otp-vectors.test.ts; this file covers
// enrolment (the otpauth URI and its QR code) and the window's edges that file leaves open.

const SECRET = Secret.fromLatin1('12345678901234567890');

describe('TOTP enrolment', () => {
  const input = { secret: SECRET.base32, issuer: 'Gate House', account: 'alice@example.com' };

  it('builds an otpauth URI with the issuer, the secret and the RFC 6238 defaults', () => {
    const uri = new URL(totpUri(input));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Gate House:alice@example.com');
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      issuer: 'Gate House',
      secret: SECRET.base32,
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
  });

  it('gives a URI whose codes an authenticator app would produce are accepted', () => {
    const app = URI.parse(totpUri(input));
    expect(app).toBeInstanceOf(TOTP);
    const now = 1_700_000_000_000;
    const code = (app as TOTP).generate({ timestamp: now });
    expect(matchTotp({ secret: input.secret, code, now, window: 0 })).toBe(totpStep(now));
  });

  it('renders the URI as an SVG QR code in a base64 data URL', async () => {
    const url = await qrCodeDataUrl(totpUri(input));
    const prefix = 'data:image/svg+xml;base64,';
    expect(url.startsWith(prefix)).toBe(true);
    const svg = Buffer.from(url.slice(prefix.length), 'base64').toString('utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('</svg>');
    // Different text, different code.
    expect(await qrCodeDataUrl('otpauth://totp/other?secret=GEZDGNBV')).not.toBe(url);
  });
});

describe('TOTP window edges', () => {
  const now = 1_700_000_000_000;
  const at = (offsetSteps: number) =>
    TOTP.generate({ secret: SECRET, digits: 6, period: 30, timestamp: now + offsetSteps * 30_000 });

  it('accepts the current step with window 0 and refuses the next one', () => {
    expect(matchTotp({ secret: SECRET.base32, code: at(0), now, window: 0 })).toBe(totpStep(now));
    expect(matchTotp({ secret: SECRET.base32, code: at(1), now, window: 0 })).toBeUndefined();
  });

  it('refuses a code from two steps back with window 1', () => {
    expect(matchTotp({ secret: SECRET.base32, code: at(-2), now, window: 1 })).toBeUndefined();
    expect(matchTotp({ secret: SECRET.base32, code: at(-2), now, window: 2 })).toBe(totpStep(now) - 2);
  });
});

describe('backup code input', () => {
  it('adds the missing dash to ten characters typed without one', () => {
    expect(normalizeBackupCode('ab1cdefghk')).toBe('AB1CD-EFGHK');
  });

  it('reads I and L as 1 and O as 0, in either case', () => {
    expect(normalizeBackupCode('iLoOl-IiLlo')).toBe('11001-11110');
  });

  it('leaves input of the wrong length without a dash, so it cannot match a stored code', () => {
    expect(normalizeBackupCode('abcd-efgh')).toBe('ABCDEFGH');
  });
});
