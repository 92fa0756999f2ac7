import { escapeHtml } from '../html.js';

export interface EmailContent {
  readonly subject: string;
  readonly heading: string;
  readonly paragraphs: readonly string[];
  readonly action?: { readonly label: string; readonly url: string };
  readonly footer?: string;
}

export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/**
 * Plain text and HTML from the same content. Everything is escaped; styles are inline because mail clients
 * drop style sheets. The text version puts the link on its own line so it survives wrapping.
 */
export function renderEmail(content: EmailContent, branding: { productName: string }): RenderedEmail {
  const text = [
    content.heading,
    '',
    ...content.paragraphs.flatMap((paragraph) => [paragraph, '']),
    ...(content.action ? [`${content.action.label}:`, content.action.url, ''] : []),
    ...(content.footer ? [content.footer, ''] : []),
    `— ${branding.productName}`,
  ].join('\n');

  const paragraph = (body: string) =>
    `<p style="margin:0 0 16px;font:16px/1.5 Arial,sans-serif;color:#1d2330">${escapeHtml(body)}</p>`;
  const action = content.action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(content.action.url)}" style="display:inline-block;padding:12px 20px;background:#2851a3;color:#ffffff;font:bold 16px Arial,sans-serif;text-decoration:none;border-radius:4px">${escapeHtml(content.action.label)}</a></p>` +
      `<p style="margin:0 0 16px;font:13px/1.5 Arial,sans-serif;color:#556">Or open this address: <span style="word-break:break-all">${escapeHtml(content.action.url)}</span></p>`
    : '';
  const html = `<!doctype html><html lang="en"><body style="margin:0;padding:24px;background:#f4f5f7">
<div style="max-width:560px;margin:0 auto;padding:32px;background:#ffffff;border-radius:8px">
<p style="margin:0 0 24px;font:14px Arial,sans-serif;color:#556">${escapeHtml(branding.productName)}</p>
<h1 style="margin:0 0 16px;font:bold 22px Arial,sans-serif;color:#1d2330">${escapeHtml(content.heading)}</h1>
${content.paragraphs.map(paragraph).join('\n')}
${action}
${content.footer ? `<p style="margin:24px 0 0;font:13px/1.5 Arial,sans-serif;color:#556">${escapeHtml(content.footer)}</p>` : ''}
</div></body></html>`;
  return { subject: content.subject, text, html };
}
