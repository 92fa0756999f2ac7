import { GatehouseError } from '../../platform/errors.js';
import { commonPasswords } from './common-passwords.js';
import { PasswordErrors } from './errors.js';
import type { PasswordSettings } from './settings.js';

export type PolicyRule = 'too_short' | 'too_long' | 'common' | 'contains_email' | 'too_weak';
export type PolicyResult = { ok: true } | { ok: false; rule: PolicyRule; message: string };

export interface PolicyContext {
  readonly email?: string | undefined;
  readonly name?: string | null | undefined;
}

type Zxcvbn = (password: string, userInputs: string[]) => { score: number };
let zxcvbn: Zxcvbn | undefined;

async function loadZxcvbn(): Promise<Zxcvbn> {
  if (zxcvbn) return zxcvbn;
  const [{ ZxcvbnFactory }, common] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
  ]);
  const factory = new ZxcvbnFactory({
    dictionary: { ...common.dictionary },
    graphs: common.adjacencyGraphs,
  });
  zxcvbn = (password, userInputs) => factory.check(password, userInputs);
  return zxcvbn;
}

/**
 * NIST SP 800-63B: length counts, composition rules do not. Lengths are in Unicode code points after NFKC,
 * so an emoji is one character and visually identical spellings count alike.
 */
export function checkPasswordPolicy(
  password: string,
  context: PolicyContext,
  settings: PasswordSettings,
): PolicyResult {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < settings.minLength) {
    return { ok: false, rule: 'too_short', message: `must be at least ${settings.minLength} characters` };
  }
  if (length > settings.maxLength) {
    return { ok: false, rule: 'too_long', message: `must be at most ${settings.maxLength} characters` };
  }
  const lower = normalized.toLowerCase();
  if (settings.rejectCommon && commonPasswords(settings.commonListSize).has(lower)) {
    return {
      ok: false,
      rule: 'common',
      message: 'is one of the most commonly used passwords; choose another',
    };
  }
  const localPart = context.email?.split('@')[0]?.toLowerCase();
  if (settings.rejectEmailLocalPart && localPart && localPart.length >= 3 && lower.includes(localPart)) {
    return { ok: false, rule: 'contains_email', message: 'must not contain your e-mail address' };
  }
  if (settings.minStrengthScore > 0) {
    if (!zxcvbn) throw new Error('call preparePasswordPolicy() before checking strength');
    const inputs = [context.email, context.name].filter((value): value is string => Boolean(value));
    if (zxcvbn(normalized, inputs).score < settings.minStrengthScore) {
      return {
        ok: false,
        rule: 'too_weak',
        message: 'is too easy to guess; try a longer phrase of unrelated words',
      };
    }
  }
  return { ok: true };
}

export interface PasswordPolicy {
  check(password: string, context: PolicyContext): PolicyResult;
  /** Throws a 400 `password_policy_violation` naming the rule, with the field path `body.password`. */
  assertAcceptable(password: string, context: PolicyContext): void;
}

/** Loads what the policy needs (the strength estimator when enabled) before the first check. */
export async function preparePasswordPolicy(settings: PasswordSettings): Promise<void> {
  if (settings.minStrengthScore > 0) await loadZxcvbn();
}

export function createPasswordPolicy(settings: PasswordSettings): PasswordPolicy {
  const check = (password: string, context: PolicyContext) =>
    checkPasswordPolicy(password, context, settings);
  return {
    check,
    assertAcceptable(password, context) {
      const result = check(password, context);
      if (result.ok) return;
      throw new GatehouseError(PasswordErrors.password_policy_violation, `The password ${result.message}`, {
        errors: [{ path: 'body.password', message: result.message }],
        extensions: { rule: result.rule },
      });
    },
  };
}
