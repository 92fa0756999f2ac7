import { type Static, Type } from '@sinclair/typebox';

export const MailSettingsSchema = Type.Object(
  {
    transport: Type.Union([Type.Literal('smtp'), Type.Literal('outbox')], {
      default: 'outbox',
      errorMessage: 'must be smtp or outbox',
      description: 'outbox writes .eml files into mail.outboxDir and logs them: for development only.',
    }),
    from: Type.String({ minLength: 3, default: 'Gatehouse <no-reply@localhost>' }),
    outboxDir: Type.Optional(Type.String({ minLength: 1, description: 'Defaults to <dataDir>/outbox.' })),
    smtp: Type.Object(
      {
        url: Type.Optional(
          Type.String({
            pattern: '^smtps?://.+$',
            errorMessage: 'must be an smtp:// or smtps:// URL',
            secret: true,
          }),
        ),
        host: Type.Optional(Type.String({ minLength: 1 })),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 587 }),
        secure: Type.Boolean({ default: false, description: 'TLS from the first byte (port 465).' }),
        requireTls: Type.Boolean({ default: true, description: 'Refuse to send unless STARTTLS succeeds.' }),
        user: Type.Optional(Type.String({ minLength: 1 })),
        password: Type.Optional(Type.String({ minLength: 1, secret: true })),
        connectionTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type MailSettings = Static<typeof MailSettingsSchema>;

export function checkMailSafety(
  settings: MailSettings,
  env: 'development' | 'test' | 'production',
): string[] {
  const problems: string[] = [];
  if (env === 'production' && settings.transport === 'outbox') {
    problems.push('mail.transport: outbox is for development; configure SMTP in production');
  }
  if (settings.transport === 'smtp' && !settings.smtp.url && !settings.smtp.host) {
    problems.push('mail.smtp.host: required when mail.transport is smtp (or give mail.smtp.url)');
  }
  return problems;
}
