import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * The few scripts Gatehouse's pages use, served from its own origin (the pages' CSP allows 'self' and no CDN
 * is ever contacted): @simplewebauthn/browser's own browser build, and the passkey button that drives it.
 * Every other page works without JavaScript.
 */
export const ASSETS = {
  webauthn: '/assets/webauthn-browser.js',
  passkey: '/assets/passkey.js',
} as const;

/**
 * Runs on a page with a `#passkey` button (hidden until WebAuthn is known to work): asks the challenge URL for
 * options, lets the browser use a passkey, and posts the answer (and the challenge id, for a passwordless
 * sign-in) through the `#passkey-form` form; its failure message comes from the page (`data-failed`).
 */
const PASSKEY_SCRIPT = `(() => {
  const button = document.getElementById('passkey');
  const form = document.getElementById('passkey-form');
  const status = document.getElementById('passkey-status');
  if (!button || !form || !window.PublicKeyCredential || !window.SimpleWebAuthnBrowser) return;
  button.hidden = false;
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.textContent = '';
    try {
      const challenge = await fetch(button.dataset.challenge, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'content-type': 'application/json',
          ...(button.dataset.csrf ? { 'x-csrf-token': button.dataset.csrf } : {}),
        },
        body: button.dataset.body,
      });
      const answer = await challenge.json();
      if (!challenge.ok) throw new Error(answer.detail || answer.title || 'the sign-in could not start');
      const response = await window.SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: answer.options });
      form.elements.response.value = JSON.stringify(response);
      if (form.elements.challengeId && answer.challengeId) form.elements.challengeId.value = answer.challengeId;
      form.submit();
    } catch (error) {
      status.textContent = (button.dataset.failed || 'The passkey did not work:') + ' ' + (error && error.message ? error.message : error);
      button.disabled = false;
    }
  });
})();
`;

export function registerAssets(app: FastifyInstance): void {
  const require = createRequire(import.meta.url);
  const webauthnBundle = readFileSync(
    join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
    'utf8',
  );
  const serve = (url: string, body: string) =>
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        // Not immutable: the URL has no version in it, and an upgrade must reach browsers within the hour.
        .header('cache-control', 'public, max-age=3600')
        .header('cross-origin-resource-policy', 'same-origin')
        .send(body),
    );
  serve(ASSETS.webauthn, webauthnBundle);
  serve(ASSETS.passkey, PASSKEY_SCRIPT);
}
