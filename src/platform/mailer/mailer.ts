import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { Counter, type Registry } from 'prom-client';
import { type Logger, maskEmail } from '../logger.js';
import type { MailSettings } from './settings.js';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** What kind of message this is (`verify-email`, `reset-password`…), for logs and metrics. */
  readonly tag: string;
}

export interface Mailer {
  readonly transport: MailSettings['transport'];
  send(message: MailMessage): Promise<{ messageId: string }>;
  /** Checks that the SMTP server accepts a connection (and our credentials). */
  verify(): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  readonly logger: Logger;
  readonly outboxDir: string;
  readonly registry?: Registry;
}

function smtpTransport(settings: MailSettings): Transporter {
  const smtp = settings.smtp;
  const timeouts = {
    connectionTimeout: smtp.connectionTimeoutMs,
    greetingTimeout: smtp.connectionTimeoutMs,
    socketTimeout: smtp.connectionTimeoutMs * 3,
  };
  if (smtp.url) return nodemailer.createTransport({ url: smtp.url, pool: true, ...timeouts } as never);
  return nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: !smtp.secure && smtp.requireTls,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    ...timeouts,
  });
}

/**
 * SMTP through nodemailer, or — in development — an outbox directory of .eml files plus a log line, so
 * links can be followed without a mail server.
 */
export function createMailer(settings: MailSettings, options: MailerOptions): Mailer {
  const registers = options.registry ? [options.registry] : [];
  const sent = new Counter({
    name: 'gatehouse_mail_sent_total',
    help: 'E-mails handed to the transport.',
    labelNames: ['tag'],
    registers,
  });
  const failed = new Counter({
    name: 'gatehouse_mail_failed_total',
    help: 'E-mails that could not be sent.',
    labelNames: ['tag'],
    registers,
  });

  const transporter =
    settings.transport === 'smtp'
      ? smtpTransport(settings)
      : nodemailer.createTransport({ streamTransport: true, buffer: true });

  return {
    transport: settings.transport,
    async send(message) {
      try {
        const info = await transporter.sendMail({
          from: settings.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          headers: { 'X-Gatehouse-Tag': message.tag },
        });
        if (settings.transport === 'outbox') {
          mkdirSync(options.outboxDir, { recursive: true, mode: 0o700 });
          const file = join(
            options.outboxDir,
            `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.tag}-${randomBytes(4).toString('hex')}.eml`,
          );
          writeFileSync(file, (info as unknown as { message: Buffer }).message, { mode: 0o600 });
          chmodSync(file, 0o600);
          // Printing the body (and its link) is how a developer without a mail server follows it. The outbox is
          // refused in production, so real users' links never reach a log.
          options.logger.info(
            {
              to: maskEmail(message.to),
              subject: message.subject,
              tag: message.tag,
              file,
              body: message.text,
            },
            'e-mail written to the outbox',
          );
        } else {
          options.logger.info(
            { to: maskEmail(message.to), tag: message.tag, messageId: info.messageId },
            'e-mail sent',
          );
        }
        sent.inc({ tag: message.tag });
        return { messageId: info.messageId };
      } catch (error) {
        failed.inc({ tag: message.tag });
        throw error;
      }
    },
    async verify() {
      if (settings.transport === 'smtp') await transporter.verify();
    },
    close() {
      transporter.close();
    },
  };
}
