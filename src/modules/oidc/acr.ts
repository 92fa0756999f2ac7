/**
 * Authentication levels as Gatehouse sessions carry them (MFA issue): 1 one factor, 2 two factors, 3 a
 * phishing-resistant factor (a passkey). They are ordered, so a request's `acr_values` name a floor.
 */
export const ACR_VALUES = ['1', '2', '3'] as const;

/**
 * The least level an authorization request accepts. `acr_values` lists acceptable values in order of
 * preference and any of them will do, so the lowest known one is the floor. Undefined when none is asked for.
 */
export function requiredAcr(acrValues: unknown): number | undefined {
  if (typeof acrValues !== 'string') return undefined;
  const levels = acrValues
    .split(' ')
    .filter((value) => (ACR_VALUES as readonly string[]).includes(value))
    .map(Number);
  return levels.length > 0 ? Math.min(...levels) : undefined;
}

export function meetsAcr(acr: unknown, required: number | undefined): boolean {
  return required === undefined || (Number(acr) || 0) >= required;
}
