import type { KoaContextWithOIDC } from 'oidc-provider';
import { type Branding, escapeHtml, type PageContent, pageHtml } from '../../platform/html.js';
import { newNonce, pageHeaders } from '../../platform/http/hardening.js';
import { en, format, type Messages } from '../../platform/messages/en.js';

/**
 * The pages oidc-provider renders itself (logout confirmation, device code entry), in Gatehouse's layout and
 * with its CSP. The engine supplies each form (hidden fields, its id); these pages add the words and buttons.
 */
export function createEnginePages(
  productName: string,
  /** A function is asked on each page (`accounts.branding` reloads). */
  branding?: Branding | (() => Branding),
  m: Messages = en,
) {
  const render = (ctx: KoaContextWithOIDC, content: PageContent, formTargets: readonly string[] = []) => {
    const nonce = newNonce();
    ctx.set(pageHeaders(nonce, formTargets));
    ctx.type = 'html';
    ctx.body = pageHtml(productName, content, nonce, typeof branding === 'function' ? branding() : branding);
  };
  const text = (value: string) => escapeHtml(value);

  return {
    /**
     * An authorization or sign-out request the engine cannot send back to the client (an unknown client, a
     * redirect URI it never registered): a page for the person, JSON for a tool that asked for it.
     */
    renderError(ctx: KoaContextWithOIDC, out: { error?: string; error_description?: string }) {
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.type = 'application/json';
        ctx.body = out;
        return;
      }
      render(ctx, {
        title: m.oauthError.title,
        body: `<h1>${text(m.oauthError.title)}</h1><p>${text(m.oauthError.text)}</p><p class="hint"><code>${text(out.error ?? 'error')}</code>${out.error_description ? `: ${text(out.error_description)}` : ''}</p>`,
      });
    },

    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      const target = ctx.oidc.params?.post_logout_redirect_uri;
      const targets = typeof target === 'string' && URL.canParse(target) ? [new URL(target).origin] : [];
      render(
        ctx,
        {
          title: m.signOut.title,
          body: `<h1>${text(format(m.engineSignOut.question, { product: productName }))}</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">${text(m.engineSignOut.yes)}</button>
<button type="submit" form="op.logoutForm" class="secondary">${text(m.engineSignOut.no)}</button>`,
        },
        targets,
      );
    },

    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      render(ctx, { title: m.signOut.doneTitle, body: `<h1>${text(m.signOut.done)}</h1>` });
    },

    async userCodeInputSource(
      ctx: KoaContextWithOIDC,
      form: string,
      _out: unknown,
      error?: { name?: string; userCode?: string },
    ) {
      const alert = (message: string) => `<p class="error" role="alert">${text(message)}</p>`;
      const message = !error
        ? `<p>${text(m.device.enterCode)}</p>`
        : error.userCode || error.name === 'NoCodeError'
          ? alert(m.device.wrongCode)
          : error.name === 'AbortedError'
            ? alert(m.device.cancelled)
            : alert(m.failure.generic);
      render(ctx, {
        title: m.device.title,
        body: `<h1>${text(m.device.title)}</h1>${message}${form}
<button type="submit" form="op.deviceInputForm">${text(m.device.continue)}</button>`,
      });
    },

    async userCodeConfirmSource(
      ctx: KoaContextWithOIDC,
      form: string,
      client: { clientName?: string | undefined; clientId: string },
      _deviceInfo: unknown,
      userCode: string,
    ) {
      render(ctx, {
        title: m.device.title,
        body: `<h1>${text(format(m.device.confirmTitle, { client: client.clientName ?? client.clientId }))}</h1>
<p>${text(m.device.checkCode)}</p><p><strong>${text(userCode)}</strong></p>${form}
<button autofocus type="submit" form="op.deviceConfirmForm">${text(m.device.continue)}</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort" class="secondary">${text(m.device.cancel)}</button>`,
      });
    },

    async successSource(ctx: KoaContextWithOIDC) {
      render(ctx, {
        title: m.device.doneTitle,
        body: `<h1>${text(m.device.doneTitle)}</h1><p>${text(m.device.done)}</p>`,
      });
    },
  };
}
