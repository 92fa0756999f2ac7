import { escapeHtml } from '../../platform/html.js';
import { ASSETS } from '../../platform/http/assets.js';
import { format, type Messages } from '../../platform/messages/en.js';
import type { FactorProof, MethodSummary } from '../mfa/service.js';

/**
 * The forms every sign-in surface shares (the standalone `/login` pages and the OAuth interaction pages):
 * password, second factor (app code, backup code, e-mail or SMS code, passkey) and the passkey button. One
 * builder each, so a fix or a translation reaches both. All text comes from the message catalogue.
 */

/** A labelled input with its hint and field-level error, tied together for screen readers. */
export const field = (input: {
  id: string;
  label: string;
  type?: string;
  value?: string | undefined;
  autocomplete: string;
  error?: string | undefined;
  hint?: string;
  required?: boolean;
  autofocus?: boolean;
  maxLength?: number;
}) => {
  const described = [input.hint ? `${input.id}-hint` : '', input.error ? `${input.id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return `<label for="${input.id}">${escapeHtml(input.label)}</label>
<input id="${input.id}" name="${input.id}" type="${input.type ?? 'text'}" autocomplete="${input.autocomplete}"${input.required === false ? '' : ' required'} maxlength="${input.maxLength ?? (input.type === 'password' ? 4096 : 254)}"${input.value ? ` value="${escapeHtml(input.value)}"` : ''}${input.error ? ' aria-invalid="true"' : ''}${described ? ` aria-describedby="${described}"` : ''}${input.autofocus ? ' autofocus' : ''}>${input.hint ? `<p id="${input.id}-hint" class="hint">${escapeHtml(input.hint)}</p>` : ''}${input.error ? `<p id="${input.id}-error" class="error field-error">${escapeHtml(input.error)}</p>` : ''}`;
};

export const hidden = (name: string, value: string) =>
  `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

const hiddenFields = (fields: Readonly<Record<string, string>> = {}) =>
  Object.entries(fields)
    .map(([name, value]) => hidden(name, value))
    .join('');

export const links = (items: [string, string][]) =>
  `<p class="links">${items.map(([href, text]) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`).join(' · ')}</p>`;

/**
 * A passkey button: hidden until the browser can do WebAuthn, it asks `challengeUrl` for options and posts
 * the browser's answer (and the challenge id, when the options came with one) to `action`. Passkeys are the
 * one part of the pages that needs JavaScript.
 */
export function passkeyButton(
  m: Messages,
  input: {
    action: string;
    label: string;
    challengeUrl: string;
    body: unknown;
    csrfToken?: string | undefined;
    fields?: Readonly<Record<string, string>>;
  },
): string {
  return `<form id="passkey-form" method="post" action="${escapeHtml(input.action)}">${hiddenFields(input.fields)}<input type="hidden" name="response"><input type="hidden" name="challengeId"></form>
<button type="button" id="passkey" class="secondary" hidden data-challenge="${escapeHtml(input.challengeUrl)}" data-body="${escapeHtml(JSON.stringify(input.body))}" data-failed="${escapeHtml(m.code.passkeyFailed)}"${input.csrfToken ? ` data-csrf="${escapeHtml(input.csrfToken)}"` : ''}>${escapeHtml(input.label)}</button>
<p id="passkey-status" class="error" role="alert"></p>
<noscript><p>${escapeHtml(m.code.needsScript)}</p></noscript>
<script src="${ASSETS.webauthn}"></script><script src="${ASSETS.passkey}"></script>`;
}

/** E-mail and password. `error` is the page-level message (already HTML); the password field says why too. */
export function passwordForm(
  m: Messages,
  input: {
    action: string;
    email?: string;
    error?: string | undefined;
    fields?: Readonly<Record<string, string>>;
  },
): string {
  return `<form method="post" action="${escapeHtml(input.action)}" novalidate>
${hiddenFields(input.fields)}
${field({ id: 'email', label: m.signIn.email, type: 'email', value: input.email, autocomplete: 'username', autofocus: !input.email })}
${field({ id: 'password', label: m.signIn.password, type: 'password', autocomplete: 'current-password', error: input.error ? m.signIn.passwordError : undefined, autofocus: Boolean(input.email) })}
<button type="submit">${escapeHtml(m.signIn.submit)}</button></form>`;
}

/** What the second-factor page offers: the account's factors, and a code already sent (e-mail or SMS). */
export interface SecondFactorChoices {
  readonly methods: readonly MethodSummary[];
  readonly backupCodes: boolean;
  readonly sent?: { readonly type: 'email' | 'sms'; readonly methodId: string | null; readonly to?: string };
}

export const noChoices: SecondFactorChoices = { methods: [], backupCodes: true };

/** The fields a second-factor form posts. */
export interface FactorFields {
  code?: string;
  type?: 'totp' | 'email' | 'sms' | 'webauthn';
  methodId?: string;
  response?: string;
}

/** The JSON schema of those fields (the forms are urlencoded; a WebAuthn answer comes as JSON text). */
export const factorFieldsSchema = {
  code: { type: 'string', maxLength: 32 },
  type: { type: 'string', enum: ['totp', 'email', 'sms', 'webauthn'] },
  methodId: { type: 'string', maxLength: 64 },
  response: { type: 'string', maxLength: 16_384 },
  challengeId: { type: 'string', maxLength: 64 },
} as const;

/** The factor a form proves: its declared type, or a backup code when the code does not look like one. */
export function proofFrom(fields: FactorFields): FactorProof {
  if (fields.type === 'webauthn') {
    try {
      return { type: 'webauthn', response: JSON.parse(fields.response ?? '') as unknown };
    } catch {
      // Not JSON: the factor check refuses an empty answer like any wrong one.
      return { type: 'webauthn' };
    }
  }
  const code = (fields.code ?? '').replace(/\s+/g, '');
  const declared = fields.type ?? 'totp';
  return /^\d{6}$/.test(code)
    ? { type: declared, code, ...(fields.methodId ? { methodId: fields.methodId } : {}) }
    : { type: 'backup_code', code };
}

/** Keeps a sent code's form after a wrong entry (the same code stays valid until it expires). */
export function sentAgain(proof: FactorProof): Pick<SecondFactorChoices, 'sent'> {
  return proof.type === 'email' || proof.type === 'sms'
    ? { sent: { type: proof.type, methodId: proof.methodId ?? null } }
    : {};
}

const sentenceCase = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * The second-factor page: a code form (app, sent or backup code), a button per e-mail/SMS factor to send a
 * code, and a passkey button when the account has one. `action` verifies, `sendAction` sends a code.
 */
export function secondFactorForm(
  m: Messages,
  input: {
    action: string;
    sendAction: string;
    challengeUrl: string;
    choices: SecondFactorChoices;
    error?: string | undefined;
    intro?: string;
    /** Step-up asks for WebAuthn options as the signed-in session, which needs its CSRF token. */
    csrfToken?: string | undefined;
    fields?: Readonly<Record<string, string>>;
  },
): string {
  const { choices } = input;
  const codeType = choices.sent?.type ?? 'totp';
  const hasTotp = choices.methods.some((method) => method.type === 'totp');
  const labels = [
    ...(choices.sent || hasTotp ? [m.code[codeType]] : []),
    ...(choices.backupCodes ? [m.code.backup] : []),
  ];
  const sentNote = choices.sent
    ? `<p class="ok" role="status">${escapeHtml(choices.sent.to ? format(m.code.sentTo, { to: choices.sent.to }) : m.code.sent)}</p>`
    : '';
  const codeForm =
    labels.length > 0
      ? `<form method="post" action="${escapeHtml(input.action)}" novalidate>
${hiddenFields(input.fields)}${hidden('type', codeType)}${choices.sent?.methodId ? hidden('methodId', choices.sent.methodId) : ''}
${field({
  id: 'code',
  label: sentenceCase(labels.join(m.code.or)),
  autocomplete: 'one-time-code',
  error: input.error ? m.code.error : undefined,
  autofocus: true,
  maxLength: 32,
})}
<button type="submit">${escapeHtml(m.code.submit)}</button></form>`
      : '';
  const senders = choices.methods
    .filter(
      (method) => (method.type === 'email' || method.type === 'sms') && method.id !== choices.sent?.methodId,
    )
    .map(
      (method) => `<form method="post" action="${escapeHtml(input.sendAction)}">
${hiddenFields(input.fields)}${hidden('methodId', method.id)}
<button type="submit" class="secondary">${escapeHtml(format(method.type === 'email' ? m.code.emailMe : m.code.textMe, { name: method.name }))}</button></form>`,
    )
    .join('');
  const passkey = choices.methods.some((method) => method.type === 'webauthn')
    ? passkeyButton(m, {
        action: input.action,
        label: m.code.passkey,
        challengeUrl: input.challengeUrl,
        body: { type: 'webauthn' },
        csrfToken: input.csrfToken,
        fields: { ...input.fields, type: 'webauthn' },
      })
    : '';
  const intro = input.intro ? `<p>${escapeHtml(input.intro)}</p>` : '';
  return `<h1>${escapeHtml(m.code.title)}</h1>${intro}${input.error ?? ''}${sentNote}${codeForm}${senders}${passkey}`;
}

/** "Continue with …" links to the upstream providers (plain links: they work without JavaScript). */
export function providerButtons(
  m: Messages,
  providers: readonly { slug: string; name: string }[],
  next: string,
): string {
  if (providers.length === 0) return '';
  const buttons = providers
    .map(
      (provider) =>
        `<a class="button secondary provider" href="/login/federated/${encodeURIComponent(provider.slug)}?next=${encodeURIComponent(next)}">${escapeHtml(format(m.federation.continueWith, { name: provider.name }))}</a>`,
    )
    .join('\n');
  return `<div class="providers" role="group" aria-label="${escapeHtml(m.federation.otherWays)}"><p class="divider" aria-hidden="true"><span>${escapeHtml(m.federation.or)}</span></p>${buttons}</div>`;
}

/** The second-factor step of `/login` (also after a sign-in through an upstream provider). */
export const loginSecondFactorForm = (
  m: Messages,
  next: string,
  choices: SecondFactorChoices,
  error?: string | undefined,
) =>
  `${secondFactorForm(m, {
    action: '/login/mfa',
    sendAction: '/login/mfa/send',
    challengeUrl: '/api/v1/auth/mfa/challenge',
    choices,
    error,
    fields: { next },
  })}
${links([['/login', m.code.startAgain]])}`;
