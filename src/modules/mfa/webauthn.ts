import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { WebauthnCredentialRow } from './queries.js';
import type { MfaSettings } from './settings.js';

type StoredCredential = Pick<WebauthnCredentialRow, 'id' | 'public_key' | 'sign_count' | 'transports'>;

const descriptor = (credential: StoredCredential) => ({
  id: credential.id,
  transports: JSON.parse(credential.transports) as string[],
});

/**
 * Gatehouse as a WebAuthn relying party, on @simplewebauthn/server: options for the browser, and checks of
 * what it answers (origin, RP ID, challenge, signature, sign counter). Storage stays with the caller.
 */
export function createRelyingParty(
  settings: MfaSettings['webauthn'],
  input: { publicUrl: string; name: string },
  onRejected: (error: unknown, ceremony: 'registration' | 'authentication') => void,
) {
  const rpId = settings.rpId ?? new URL(input.publicUrl).hostname;
  const origins = settings.origins.length > 0 ? [...settings.origins] : [new URL(input.publicUrl).origin];
  const timeout = settings.challengeTtlSeconds * 1000;

  return {
    rpId,
    origins,

    registrationOptions(
      user: { id: string; email: string; name: string | null },
      exclude: StoredCredential[],
    ) {
      return generateRegistrationOptions({
        rpName: input.name,
        rpID: rpId,
        userName: user.email,
        userDisplayName: user.name ?? user.email,
        userID: new Uint8Array(Buffer.from(user.id, 'utf8')),
        attestationType: settings.attestation,
        excludeCredentials: exclude.map(descriptor),
        // A resident (discoverable) key can later sign in without a password.
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        timeout,
      });
    },

    /** `allow` empty: any discoverable credential of this RP (passwordless). */
    authenticationOptions(
      allow: StoredCredential[],
      userVerification: 'required' | 'preferred' | 'discouraged',
    ) {
      return generateAuthenticationOptions({
        rpID: rpId,
        ...(allow.length > 0 ? { allowCredentials: allow.map(descriptor) } : {}),
        userVerification,
        timeout,
      });
    },

    async verifyRegistration(response: RegistrationResponseJSON, expectedChallenge: string) {
      try {
        const result = await verifyRegistrationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          requireUserVerification: false,
        });
        if (!result.verified) return undefined;
        const info = result.registrationInfo;
        return {
          id: info.credential.id,
          publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
          signCount: info.credential.counter,
          transports: info.credential.transports ?? response.response.transports ?? [],
          deviceType: info.credentialDeviceType,
          backedUp: info.credentialBackedUp,
          aaguid: info.aaguid,
        };
      } catch (error) {
        onRejected(error, 'registration');
        return undefined;
      }
    },

    /** Undefined when the answer is wrong in any way, including a sign counter that went backwards (a clone). */
    async verifyAssertion(
      response: AuthenticationResponseJSON,
      expectedChallenge: string,
      credential: StoredCredential,
      requireUserVerification: boolean,
    ) {
      try {
        const result = await verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          requireUserVerification,
          credential: {
            id: credential.id,
            publicKey: new Uint8Array(Buffer.from(credential.public_key, 'base64url')),
            counter: Number(credential.sign_count),
            transports: JSON.parse(credential.transports) as never,
          },
        });
        if (!result.verified) return undefined;
        return {
          signCount: result.authenticationInfo.newCounter,
          backedUp: result.authenticationInfo.credentialBackedUp,
        };
      } catch (error) {
        onRejected(error, 'authentication');
        return undefined;
      }
    },
  };
}
