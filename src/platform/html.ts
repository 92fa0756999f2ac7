import type { FastifyReply } from 'fastify';
import { isGatehouseError } from './errors.js';
import { pageCsp } from './http/hardening.js';
import { en } from './messages/en.js';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** How the pages look (`accounts.branding`); decorated on the app as `branding`. */
export interface Branding {
  readonly primaryColor: string;
  readonly logoUrl?: string | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    branding?: Branding;
  }
}

/** Without `accounts.branding` (tools and tests that build pages on a bare app). */
export const DEFAULT_BRANDING: Branding = { primaryColor: '#2851a3' };

export interface PageContent {
  readonly title: string;
  readonly body: string;
}

/** The one page layout: no script, readable without styles; inline styles carry the response's nonce. */
export function pageHtml(
  productName: string,
  content: PageContent,
  nonce: string,
  branding: Branding = DEFAULT_BRANDING,
): string {
  // Both come from validated settings (a #rrggbb colour; a path or data: URL), escaped all the same.
  const primary = escapeHtml(branding.primaryColor);
  const logo = branding.logoUrl ? `<img class="logo" src="${escapeHtml(branding.logoUrl)}" alt="">` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(content.title)} · ${escapeHtml(productName)}</title>
<style nonce="${nonce}">
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  main { max-width: 26rem; margin: 10vh auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.35rem; margin-top: 0; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .6rem; font: inherit; border: 1px solid #8a93a6; border-radius: 4px; }
  button { margin-top: 1.25rem; width: 100%; padding: .7rem; font: inherit; font-weight: 600; color: #fff; background: ${primary}; border: 0; border-radius: 4px; cursor: pointer; }
  button:focus, input:focus { outline: 3px solid #f2b400; outline-offset: 1px; }
  .error { color: #a11d1d; } .ok { color: #1d6b2c; }
  button.secondary { color: ${primary}; background: #fff; border: 1px solid ${primary}; }
  a.button { display: block; box-sizing: border-box; margin-top: .75rem; width: 100%; padding: .7rem; text-align: center; font-weight: 600; text-decoration: none; border-radius: 4px; color: ${primary}; background: #fff; border: 1px solid ${primary}; }
  a.button:focus { outline: 3px solid #f2b400; outline-offset: 1px; }
  .divider { display: flex; align-items: center; gap: .75rem; color: #4f5869; margin: 1.25rem 0 0; }
  .divider::before, .divider::after { content: ""; flex: 1; border-top: 1px solid #c9ced8; }
  form.inline { display: inline; } form.inline button { width: auto; }
  .logo { display: block; max-height: 3rem; max-width: 12rem; margin-bottom: .75rem; }
  .product { color: #556; font-size: .9rem; margin-bottom: 1.5rem; }
  .hint { color: #4f5869; font-size: .9rem; margin: .25rem 0 0; }
  .field-error { margin: .25rem 0 0; font-size: .95rem; }
  input[aria-invalid="true"] { border-color: #a11d1d; border-width: 2px; }
  .links { margin: 1.25rem 0 0; text-align: center; }
  a { color: ${primary}; }
  @media (max-width: 30rem) { main { margin: 0; border-radius: 0; min-height: 100vh; box-shadow: none; } }
</style>
</head>
<body><main>${logo}<div class="product">${escapeHtml(productName)}</div>${content.body}</main></body>
</html>`;
}

/** Sends a page with its strict nonce CSP, not cached. */
export function page(
  reply: FastifyReply,
  productName: string,
  content: PageContent,
  status = 200,
  formTargets: readonly string[] = [],
): FastifyReply {
  const nonce = pageCsp(reply, formTargets);
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(pageHtml(productName, content, nonce, reply.server.branding));
}

/** An error as a paragraph: the message when it is safe to show, a generic one otherwise. */
export function failureMessage(error: unknown): string {
  const message = isGatehouseError(error) && error.expose ? error.message : en.failure.generic;
  return `<p class="error" role="alert">${escapeHtml(message)}</p>`;
}
