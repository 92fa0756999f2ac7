import { type Static, Type } from '@sinclair/typebox';

export const SmsSettingsSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('none'), Type.Literal('outbox'), Type.Literal('twilio')], {
      default: 'none',
      errorMessage: 'must be none, outbox or twilio',
      description:
        'none: SMS codes are not offered. outbox writes each message as JSON into sms.outboxDir and logs it (development only). twilio: the Twilio Messages API or a compatible service.',
    }),
    outboxDir: Type.Optional(Type.String({ minLength: 1, description: 'Defaults to <dataDir>/outbox.' })),
    twilio: Type.Object(
      {
        accountSid: Type.Optional(Type.String({ minLength: 1 })),
        authToken: Type.Optional(Type.String({ minLength: 1, secret: true })),
        from: Type.Optional(
          Type.String({
            pattern: '^\\+[1-9][0-9]{6,14}$',
            errorMessage: 'must be an E.164 number such as +15550001234',
          }),
        ),
        messagingServiceSid: Type.Optional(Type.String({ minLength: 1 })),
        baseUrl: Type.String({
          pattern: '^https?://.+[^/]$',
          default: 'https://api.twilio.com',
          errorMessage: 'must be an http(s) URL without a trailing slash',
          description: 'Any service that speaks the Twilio Messages API.',
        }),
        timeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type SmsSettings = Static<typeof SmsSettingsSchema>;

export function checkSmsSafety(settings: SmsSettings, env: 'development' | 'test' | 'production'): string[] {
  const problems: string[] = [];
  if (env === 'production' && settings.provider === 'outbox') {
    problems.push('sms.provider: outbox is for development; use twilio or none in production');
  }
  if (settings.provider === 'twilio') {
    const twilio = settings.twilio;
    if (!twilio.accountSid) problems.push('sms.twilio.accountSid: required when sms.provider is twilio');
    if (!twilio.authToken) problems.push('sms.twilio.authToken: required when sms.provider is twilio');
    if (!twilio.from && !twilio.messagingServiceSid) {
      problems.push('sms.twilio.from: required when sms.provider is twilio (or give messagingServiceSid)');
    }
  }
  return problems;
}
