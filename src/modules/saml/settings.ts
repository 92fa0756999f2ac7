import { type Static, Type } from '@sinclair/typebox';
import { Seconds } from '../../config/fields.js';

export const SamlSettingsSchema = Type.Object(
  {
    clockSkewSeconds: Seconds(60, 'Clock difference tolerated with identity providers and apps.', 0),
    maxAssertionAgeSeconds: Seconds(300, 'How old (IssueInstant) an assertion Gatehouse accepts may be.'),
    requestTtlSeconds: Seconds(
      600,
      'How long a sign-in sent to a SAML identity provider may take to come back.',
    ),
    assertionLifetimeSeconds: Seconds(300, 'How long assertions Gatehouse issues to SAML apps are valid.'),
    metadataTimeoutMs: Type.Integer({
      minimum: 100,
      default: 10_000,
      description: 'Time limit when fetching an identity provider’s metadata from its URL.',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type SamlSettings = Static<typeof SamlSettingsSchema>;
