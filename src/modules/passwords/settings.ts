import { type Static, Type } from '@sinclair/typebox';

export const PasswordSettingsSchema = Type.Object(
  {
    argon2: Type.Object(
      {
        memoryKiB: Type.Integer({
          minimum: 1024,
          maximum: 4_194_304,
          default: 19_456,
          description: 'OWASP: 19 MiB.',
        }),
        iterations: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
        parallelism: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
    minLength: Type.Integer({
      minimum: 6,
      maximum: 64,
      default: 8,
      errorMessage: 'must be between 6 and 64',
    }),
    maxLength: Type.Integer({
      minimum: 128,
      maximum: 4096,
      default: 256,
      errorMessage: 'must be between 128 and 4096',
    }),
    rejectCommon: Type.Boolean({ default: true, description: 'Refuse the most common passwords.' }),
    commonListSize: Type.Integer({
      minimum: 1_000,
      maximum: 400_000,
      default: 100_000,
      description: 'How many of the most common passwords (by frequency in breaches) are refused.',
    }),
    rejectEmailLocalPart: Type.Boolean({ default: true }),
    minStrengthScore: Type.Integer({
      minimum: 0,
      maximum: 4,
      default: 0,
      description: 'zxcvbn-ts score (0-4) a password must reach; 0 turns the check off.',
    }),
    hashing: Type.Object(
      {
        maxConcurrent: Type.Integer({
          minimum: 1,
          maximum: 256,
          default: 4,
          description: 'Hashes computed at once.',
        }),
        maxQueued: Type.Integer({
          minimum: 0,
          maximum: 100_000,
          default: 64,
          description: 'Hashes waiting; past this, 503.',
        }),
        retryAfterSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 2 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type PasswordSettings = Static<typeof PasswordSettingsSchema>;
