/**
 * Data loss prevention: masks what must never be written down (card numbers, national ID numbers, API keys,
 * tokens, passwords and other secrets) in log lines, security and audit event details, and error messages,
 * by pattern in any text and by field name in any object.
 */

export interface RedactionPattern {
  readonly name: string;
  readonly pattern: string;
}

export interface RedactionSettings {
  /** More patterns (JavaScript regular expressions, matched globally and case-sensitively). */
  readonly patterns?: readonly RedactionPattern[];
  /** More field names whose values are always masked (case-insensitive, exact). */
  readonly fieldNames?: readonly string[];
}

export const REDACTED = '[redacted]';

/** The Luhn checksum every payment card number satisfies (so order numbers and the like are left alone). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index--) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

interface Rule {
  readonly name: string;
  readonly pattern: RegExp;
  readonly replace: (match: string, ...groups: string[]) => string;
}

const BUILT_IN_RULES: readonly Rule[] = [
  {
    name: 'private_key',
    pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
    replace: () => '[private key]',
  },
  {
    name: 'gatehouse_api_key',
    // The key id is not secret and helps to find the key; the secret part goes.
    pattern: /\b(gh_[0-9a-f]{16}_)[A-Za-z0-9_-]{20,}/g,
    replace: (_match, prefix) => `${prefix}${REDACTED}`,
  },
  {
    name: 'jwt',
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
    replace: () => '[jwt]',
  },
  {
    name: 'authorization',
    pattern: /\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
    replace: (_match, scheme) => `${scheme} ${REDACTED}`,
  },
  {
    name: 'provider_secret',
    pattern:
      /\b(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|xox[abprs]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})\b/g,
    replace: () => '[secret]',
  },
  {
    name: 'assignment',
    pattern:
      /\b(password|passwd|pwd|passphrase|secret|client_secret|api[_-]?key|token|access_token|refresh_token|id_token)(["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi,
    replace: (_match, key, separator) => `${key}${separator}${REDACTED}`,
  },
  {
    name: 'card_number',
    pattern: /\b\d(?:[ -]?\d){12,18}\b/g,
    replace: (match) => {
      const digits = match.replace(/[ -]/g, '');
      return luhnValid(digits) ? `[card ****${digits.slice(-4)}]` : match;
    },
  },
  {
    name: 'us_ssn',
    pattern: /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g,
    replace: () => '[national id]',
  },
  {
    name: 'uk_nino',
    pattern: /\b(?![DFIQUV])[A-CEGHJ-PR-TW-Z](?![DFIQUVO])[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g,
    replace: () => '[national id]',
  },
];

/** Field names whose values are masked whole, whatever they hold. */
const SECRET_FIELD =
  /^(?:.*pass(?:word|phrase)?(?:[-_]?hash)?|.*secret(?:[-_]?key)?|.*token|authorization|cookie|set-cookie|.*api[-_]?key|private[-_]?key|credentials?|otp|totp|backup[-_]?codes?|cvv|cvc|card[-_]?number|pan|ssn)$/i;

/** Strings that cannot hold any built-in pattern (too short, or no digit, key-ish prefix or separator). */
const CANDIDATE =
  /\d{3}|eyJ|gh_|gh[pousr]_|AKIA|xox|k_live_|k_test_|Bearer|Basic|DPoP|[=:]|BEGIN|[A-Z]{2} ?\d{2}/;

export interface Redactor {
  /** `text` with every match of every pattern masked. */
  text(text: string): string;
  /** A copy of `value` with secret fields masked and every string passed through text(); depth-limited. */
  value<T>(value: T): T;
}

/**
 * `masks`: fields shown partly rather than hidden (the logger shows e-mail addresses as `a***@example.com`),
 * matched by exact name at any depth.
 */
export function createRedactor(
  settings: RedactionSettings = {},
  masks: Readonly<Record<string, (value: unknown) => unknown>> = {},
): Redactor {
  const masked = new Map(Object.entries(masks));
  const rules: Rule[] = [
    ...BUILT_IN_RULES,
    ...(settings.patterns ?? []).map((extra) => ({
      name: extra.name,
      pattern: new RegExp(extra.pattern, 'g'),
      replace: () => `[${extra.name}]`,
    })),
  ];
  const extraFields = new Set((settings.fieldNames ?? []).map((name) => name.toLowerCase()));
  const hasExtraPatterns = rules.length > BUILT_IN_RULES.length;
  // Log lines repeat the same few dozen keys: remember each verdict (bounded, in case keys are data).
  const verdicts = new Map<string, boolean>();
  const secretField = (key: string) => {
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      verdict = SECRET_FIELD.test(key) || extraFields.has(key.toLowerCase());
      if (verdicts.size < 10_000) verdicts.set(key, verdict);
    }
    return verdict;
  };

  // One pass with every pattern at once tells whether any rule needs to run at all (most strings: none).
  const any = new RegExp(rules.map((rule) => `(?:${rule.pattern.source})`).join('|'), 'i');
  const text = (input: string): string => {
    if (input.length < 8 || (!hasExtraPatterns && !CANDIDATE.test(input)) || !any.test(input)) return input;
    let output = input;
    for (const rule of rules) {
      rule.pattern.lastIndex = 0;
      if (rule.pattern.test(output)) {
        rule.pattern.lastIndex = 0;
        output = output.replace(
          rule.pattern,
          rule.replace as (substring: string, ...args: unknown[]) => string,
        );
      }
    }
    return output;
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return text(value);
    if (value === null || typeof value !== 'object' || depth > 6) return value;
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1));
    // Only plain data is copied: class instances (errors, requests, dates, buffers) are left to the logger's
    // serializers, which see their getters and non-enumerable properties.
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return value;
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const mask = item !== undefined && item !== null ? masked.get(key) : undefined;
      copy[key] = mask
        ? mask(item)
        : item !== undefined && item !== null && secretField(key)
          ? REDACTED
          : walk(item, depth + 1);
    }
    return copy;
  };

  return {
    text,
    value: <T>(value: T) => walk(value, 0) as T,
  };
}
