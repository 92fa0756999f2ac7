import type { KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, type PageContent, pageHtml } from '../../platform/html.js';
import { newNonce, pageHeaders } from '../../platform/http/hardening.js';

/**
 * The pages oidc-provider renders itself (logout confirmation, device code entry), in Gatehouse's layout and
 * with its CSP. The engine supplies each form (hidden fields, its id); these pages add the words and buttons.
 */
export function createEnginePages(productName: string) {
  const render = (ctx: KoaContextWithOIDC, content: PageContent, formTargets: readonly string[] = []) => {
    const nonce = newNonce();
    ctx.set(pageHeaders(nonce, formTargets));
    ctx.type = 'html';
    ctx.body = pageHtml(productName, content, nonce);
  };
  const product = escapeHtml(productName);

  return {
    async logoutSource(ctx: KoaContextWithOIDC, form: string) {
      const target = ctx.oidc.params?.post_logout_redirect_uri;
      const targets = typeof target === 'string' && URL.canParse(target) ? [new URL(target).origin] : [];
      render(
        ctx,
        {
          title: 'Sign out',
          body: `<h1>Sign out of ${product}?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
        },
        targets,
      );
    },

    async postLogoutSuccessSource(ctx: KoaContextWithOIDC) {
      render(ctx, { title: 'Signed out', body: '<h1>You are signed out</h1>' });
    },

    async userCodeInputSource(
      ctx: KoaContextWithOIDC,
      form: string,
      _out: unknown,
      error?: { name?: string; userCode?: string },
    ) {
      const message = !error
        ? '<p>Enter the code shown on your device.</p>'
        : error.userCode || error.name === 'NoCodeError'
          ? '<p class="error" role="alert">That code is not right, or it has expired. Try again.</p>'
          : error.name === 'AbortedError'
            ? '<p class="error" role="alert">The sign-in was cancelled.</p>'
            : '<p class="error" role="alert">Something went wrong. Try again.</p>';
      render(ctx, {
        title: 'Connect a device',
        body: `<h1>Connect a device</h1>${message}${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
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
        title: 'Connect a device',
        body: `<h1>Connect ${escapeHtml(client.clientName ?? client.clientId)}?</h1>
<p>Check that your device shows this code:</p><p><strong>${escapeHtml(userCode)}</strong></p>${form}
<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort" class="secondary">Cancel</button>`,
      });
    },

    async successSource(ctx: KoaContextWithOIDC) {
      render(ctx, {
        title: 'Device connected',
        body: '<h1>Device connected</h1><p>You can close this page and return to your device.</p>',
      });
    },
  };
}
