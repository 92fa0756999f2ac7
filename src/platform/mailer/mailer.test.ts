import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCapture } from '../../../test/helpers/logs.js';
import { parseMail, startTestSmtpServer, type TestSmtpServer } from '../../../test/helpers/mail.js';
import { createLogger } from '../logger.js';
import { createMailer } from './mailer.js';
import { renderEmail } from './render.js';
import { checkMailSafety, type MailSettings, MailSettingsSchema } from './settings.js';

const settings = (overrides: Record<string, unknown>): MailSettings =>
  Value.Default(MailSettingsSchema, structuredClone(overrides)) as MailSettings;

// Long enough that quoted-printable must wrap it; the query string must come through intact.
const LINK = `https://id.example.com/auth/reset-password?token=${'Ab-_9'.repeat(12)}&next=%2Faccount%3Ftab%3Dsecurity`;
const content = renderEmail(
  {
    subject: 'Reset your password',
    heading: 'Reset',
    paragraphs: ['Hello <script>alert("x")</script> & co'],
    action: { label: 'Go', url: LINK },
  },
  { productName: 'Gatehouse' },
);

describe('mailer', () => {
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
  });
  afterAll(async () => {
    await smtp.close();
  });

  it('delivers over SMTP with text and HTML, links intact, and counts it', async () => {
    const registry = new Registry();
    const logs = new LogCapture();
    const mailer = createMailer(
      settings({
        transport: 'smtp',
        from: 'Gatehouse <id@example.test>',
        smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false },
      }),
      { logger: createLogger({ level: 'info', pretty: false }, logs), outboxDir: '/nonexistent', registry },
    );
    await mailer.verify();
    await mailer.send({ ...content, to: 'bob@example.org', tag: 'reset-password' });
    mailer.close();
    const mail = await smtp.waitFor((message) => message.to.includes('bob@example.org'));
    expect(mail.subject).toBe('Reset your password');
    expect(mail.links).toContain(LINK);
    expect(mail.html).toContain('&#60;script&#62;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.text).toContain('Hello <script>alert("x")</script> & co');
    expect(logs.text).toContain('b***@example.org');
    expect(logs.text).not.toContain('bob@example.org');
    expect(await registry.getSingleMetricAsString('gatehouse_mail_sent_total')).toContain(
      'gatehouse_mail_sent_total{tag="reset-password"} 1',
    );
  });

  it('fails clearly, and counts it, when the SMTP server cannot be reached', async () => {
    const registry = new Registry();
    const mailer = createMailer(
      settings({
        transport: 'smtp',
        smtp: { host: '127.0.0.1', port: 1, requireTls: false, connectionTimeoutMs: 1000 },
      }),
      {
        logger: createLogger({ level: 'silent', pretty: false }),
        outboxDir: '/nonexistent',
        registry,
      },
    );
    await expect(mailer.send({ ...content, to: 'x@example.org', tag: 'verify-email' })).rejects.toThrow(
      /ECONNREFUSED/,
    );
    mailer.close();
    expect(await registry.getSingleMetricAsString('gatehouse_mail_failed_total')).toContain(
      '{tag="verify-email"} 1',
    );
  });

  it('writes a parseable .eml (0600) to the outbox in development and logs the masked recipient', async () => {
    const outboxDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-outbox-')), 'outbox');
    const logs = new LogCapture();
    const mailer = createMailer(settings({}), {
      logger: createLogger({ level: 'info', pretty: false }, logs),
      outboxDir,
    });
    await mailer.send({ ...content, to: 'carol@example.net', tag: 'reset-password' });
    const [file] = readdirSync(outboxDir);
    expect(file).toMatch(/-reset-password-[0-9a-f]{8}\.eml$/);
    expect(statSync(join(outboxDir, file!)).mode & 0o777).toBe(0o600);
    const parsed = parseMail(readFileSync(join(outboxDir, file!), 'utf8'));
    expect(parsed.subject).toBe('Reset your password');
    expect(parsed.links).toContain(LINK);
    expect(logs.text).toContain('c***@example.net');
    expect(logs.text).not.toContain('carol@example.net');
  });

  it('refuses the outbox in production and SMTP without a server', () => {
    expect(checkMailSafety(settings({}), 'production')).toEqual([
      'mail.transport: outbox is for development; configure SMTP in production',
    ]);
    expect(checkMailSafety(settings({}), 'development')).toEqual([]);
    expect(checkMailSafety(settings({ transport: 'smtp' }), 'development')).toEqual([
      'mail.smtp.host: required when mail.transport is smtp (or give mail.smtp.url)',
    ]);
  });
});
