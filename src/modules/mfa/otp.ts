import { randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

/** RFC 6238 defaults that every authenticator app understands. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const TOTP_ALGORITHM = 'SHA1';
/** 160 bits, the HMAC-SHA1 block-size recommendation of RFC 4226 §4. */
const TOTP_SECRET_BYTES = 20;

export function newTotpSecret(): string {
  return new Secret({ size: TOTP_SECRET_BYTES }).base32;
}

/** The RFC 6238 time step that `timestampMs` falls in. */
export function totpStep(timestampMs: number): number {
  return TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp: timestampMs });
}

export function totpUri(input: { secret: string; issuer: string; account: string }): string {
  return new TOTP({
    issuer: input.issuer,
    label: input.account,
    secret: Secret.fromBase32(input.secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}

/** The otpauth URI as an SVG QR code in a data URL, ready for an <img>. */
export async function qrCodeDataUrl(text: string): Promise<string> {
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/**
 * Checks a TOTP code within ±`window` steps of now and returns the step it matched, so the caller can refuse
 * that step and every earlier one from then on (replay protection, RFC 6238 §5.2).
 */
export function matchTotp(input: {
  secret: string;
  code: string;
  now: number;
  window: number;
}): number | undefined {
  if (!/^\d{6}$/.test(input.code)) return undefined;
  const delta = TOTP.validate({
    token: input.code,
    secret: Secret.fromBase32(input.secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    timestamp: input.now,
    window: input.window,
  });
  return delta === null ? undefined : totpStep(input.now) + delta;
}

/** A 6-digit code for e-mail or SMS, uniform over 000000–999999. */
export function newNumericCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

// Crockford's base32 alphabet without I, L, O, U: nothing to misread when typing a code from paper.
const BACKUP_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `XXXXX-XXXXX`: 50 bits each, plenty for a single-use code behind a rate limit. */
export function newBackupCode(): string {
  let code = '';
  for (let index = 0; index < 10; index += 1) code += BACKUP_ALPHABET[randomInt(0, BACKUP_ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** Accepts what people type: any case, spaces or dashes, and the letters that look like digits. */
export function normalizeBackupCode(input: string): string {
  const cleaned = input.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return cleaned.length === 10 ? `${cleaned.slice(0, 5)}-${cleaned.slice(5)}` : cleaned;
}
