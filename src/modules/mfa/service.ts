import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../platform/clock.js';
import type { SealedBox } from '../../platform/crypto/sealed.js';
import { deriveKey, keyedHash, randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import { changeWithRecord, type EventRecorder, type SecurityEvent } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import { type Logger, maskEmail } from '../../platform/logger.js';
import { maskPhone } from '../../platform/sms/sms.js';
import type { LoginResult } from '../accounts/service.js';
import {
  type AuthenticatedSession,
  type Authentication,
  parseDevice,
  type RequestContext,
  type SessionRestriction,
  type SessionService,
} from '../sessions/service.js';
import { MfaErrors } from './errors.js';
import { MfaEvents } from './events.js';
import {
  matchTotp,
  newBackupCode,
  newNumericCode,
  newTotpSecret,
  normalizeBackupCode,
  qrCodeDataUrl,
  totpUri,
} from './otp.js';
import {
  type ChallengeKind,
  type ChallengeRow,
  claimTotpStep,
  consumeChallenge,
  countChallengeAttempt,
  countUnusedBackupCodes,
  credentialsOfUser,
  deleteAllMfa,
  deleteBackupCodes,
  deleteExpiredChallenges,
  deleteMethod,
  deletePendingMethodsOlderThan,
  deleteRememberedDevice,
  deleteRememberedDevicesOfUser,
  findActiveCredential,
  findLiveChallenge,
  findMethod,
  findRememberedDevice,
  insertChallenge,
  insertCredential,
  insertMethod,
  insertRememberedDevice,
  lastCodeSentAt,
  latestCodeChallenge,
  listMethods,
  listRememberedDevices,
  type MfaMethodRow,
  type MfaMethodType,
  mfaSeedField,
  recordCredentialUse,
  replaceBackupCodes,
  setPrimaryMethod,
  spendBackupCode,
  touchRememberedDevice,
  updateMethod,
} from './queries.js';
import type { MfaSettings } from './settings.js';
import { createRelyingParty } from './webauthn.js';

/** What the MFA module needs to know about an account. */
export interface MfaUser {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly emailVerified: boolean;
  readonly isAdmin: boolean;
  /** Set by an administrator for this one account. */
  readonly mfaRequired: boolean;
  /** Active and not locked: a sign-in may complete. */
  readonly canSignIn: boolean;
}

/** What the MFA module needs from accounts; bound late because accounts also asks MFA at sign-in. */
export interface SignInHooks {
  loadUser(userId: string): Promise<MfaUser | undefined>;
  /** A wrong second factor: counts toward the account's lockout and the sign-in throttle. */
  recordFailure(
    userId: string | undefined,
    email: string | undefined,
    context: RequestContext,
  ): Promise<void>;
  /** Seconds until attempts for this account from this IP are accepted again (0: now). */
  throttledForSeconds(ip: string, email: string): Promise<number>;
  /** Starts the session once every factor is proven (the same ending as a password-only sign-in). */
  completeSignIn(
    userId: string,
    context: RequestContext,
    authentication: Authentication & { restriction?: SessionRestriction },
  ): Promise<LoginResult>;
}

export type FactorType = 'totp' | 'backup_code' | 'email' | 'sms' | 'webauthn';

export interface FactorProof {
  readonly methodId?: string | undefined;
  readonly type?: FactorType | undefined;
  readonly code?: string | undefined;
  readonly response?: unknown;
}

export interface MethodSummary {
  readonly id: string;
  readonly type: MfaMethodType;
  readonly name: string;
  readonly primary: boolean;
}

export interface MethodView extends MethodSummary {
  readonly status: 'pending' | 'active';
  /** A masked phone number for SMS, the account's masked address for e-mail. */
  readonly target: string | null;
  readonly createdAt: string;
  readonly confirmedAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface RememberedDeviceView {
  readonly id: string;
  readonly device: Record<string, string>;
  readonly ip: string | null;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly expiresAt: string;
  readonly current: boolean;
}

/** What happens after a correct password. */
export type SignInGate =
  | {
      readonly next: 'session';
      readonly authentication: Authentication;
      readonly restriction?: SessionRestriction;
    }
  | {
      readonly next: 'mfa';
      readonly pendingToken: string;
      readonly expiresAt: number;
      readonly methods: MethodSummary[];
      readonly backupCodes: boolean;
    };

export interface ChallengeResult {
  readonly type: FactorType;
  readonly methodId: string | null;
  readonly sentTo?: string;
  readonly expiresAt?: number;
  /** WebAuthn request options, for navigator.credentials.get (through @simplewebauthn/browser). */
  readonly options?: unknown;
}

export interface MfaServiceDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly settings: MfaSettings;
  readonly publicUrl: string;
  readonly productName: string;
  readonly secretKey: Buffer;
  readonly sealedBox: SealedBox;
  readonly sessions: SessionService;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Both send in the background: a slow provider never holds up the answer. */
  readonly mail: {
    send(message: { to: string; subject: string; text: string; html: string; tag: string }): void;
    compose: {
      mfaCode(input: { code: string; expiresInMinutes: number }): {
        subject: string;
        text: string;
        html: string;
      };
    };
  };
  readonly sms: { readonly enabled: boolean; send(message: { to: string; body: string; tag: string }): void };
  readonly smsText: (code: string, minutes: number) => string;
  readonly signIn: () => SignInHooks;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const DEFAULT_NAMES: Record<MfaMethodType, string> = {
  totp: 'Authenticator app',
  webauthn: 'Security key',
  email: 'E-mail code',
  sms: 'Text message',
};
/** Unconfirmed enrolments are dropped after a day. */
const PENDING_METHOD_TTL_MS = 86_400_000;

/** The WebAuthn challenge a browser signed, read from its clientDataJSON. */
function challengeOf(response: unknown): string | undefined {
  const clientData = (response as { response?: { clientDataJSON?: unknown } } | undefined)?.response
    ?.clientDataJSON;
  if (typeof clientData !== 'string') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8')) as {
      challenge?: unknown;
    };
    return typeof parsed.challenge === 'string' ? parsed.challenge : undefined;
  } catch {
    return undefined;
  }
}

function isCredentialResponse(
  value: unknown,
): value is { id: string; rawId: string; response: object; type: string } {
  const candidate = value as { id?: unknown; response?: unknown } | undefined;
  return (
    typeof candidate?.id === 'string' && typeof candidate.response === 'object' && candidate.response !== null
  );
}

/** RFC 8176 method references plus the assurance level: 2 for two factors, 3 when one resists phishing. */
export function assuranceOf(
  first: readonly string[],
  factor: { amr: readonly string[]; phishingResistant: boolean },
) {
  return {
    amr: [...new Set([...first, ...factor.amr, 'mfa'])],
    acr: factor.phishingResistant ? '3' : '2',
  };
}

export function createMfaService(deps: MfaServiceDependencies) {
  const { database, clock, settings } = deps;
  const hashKey = deriveKey(deps.secretKey, 'mfa');
  const hash = (value: string) => keyedHash(hashKey, value);
  const relyingParty = createRelyingParty(
    settings.webauthn,
    { publicUrl: deps.publicUrl, name: deps.productName },
    // A wrong origin or RP ID, a bad signature, a sign counter that went backwards (a cloned key).
    (error, ceremony) => deps.logger.warn({ err: error, ceremony }, 'WebAuthn answer rejected'),
  );
  const issuer = settings.totp.issuer ?? deps.productName;
  const maxAttempts = settings.maxAttempts;

  const registers = deps.registry ? [deps.registry] : [];
  const verifications = new Counter({
    name: 'gatehouse_mfa_verifications_total',
    help: 'Second-factor checks, by factor and outcome (success, failure, replay).',
    labelNames: ['factor', 'outcome'],
    registers,
  });

  const record = (event: Omit<SecurityEvent, 'ip' | 'userAgent' | 'requestId'>, context?: RequestContext) =>
    deps.events.record({
      ...event,
      ip: context?.ip,
      userAgent: context?.userAgent,
      requestId: context?.requestId,
    });

  const hooks = () => deps.signIn();

  const boundTo = (row: ChallengeRow, bind: string) =>
    (JSON.parse(row.data) as { bind?: string }).bind === bind;

  /** Spends the newest code sent to a method for this binding if `code` matches; counts a wrong one. */
  async function spendCode(methodId: string, code: string, bind: string): Promise<boolean> {
    const now = clock.now();
    const sent = await latestCodeChallenge(database.db, methodId, now);
    if (!sent || !boundTo(sent, bind)) return false;
    if (hash(`${sent.id}:${code.trim()}`) !== sent.secret_hash) {
      if ((await countChallengeAttempt(database.db, sent.id)) >= maxAttempts) {
        await consumeChallenge(database.db, sent.id, now);
      }
      return false;
    }
    return consumeChallenge(database.db, sent.id, now);
  }

  /**
   * Finds the WebAuthn challenge a browser signed among those we issued, checks it belongs here, and spends
   * it whatever happens next, so one answer can never be verified twice. Returns the challenge text.
   */
  async function spendWebauthnChallenge(
    kind: ChallengeKind,
    response: unknown,
    belongs: (issued: ChallengeRow) => boolean,
  ): Promise<string | undefined> {
    const now = clock.now();
    const signed = challengeOf(response);
    if (!signed) return undefined;
    const issued = await findLiveChallenge(database.db, kind, { secretHash: hash(signed) }, now);
    if (!issued || !belongs(issued)) return undefined;
    return (await consumeChallenge(database.db, issued.id, now)) ? signed : undefined;
  }

  /**
   * Stores a challenge (a pending sign-in, a sent code, a WebAuthn ceremony): only the keyed hash of its
   * secret, what it is bound to, and when it runs out. `secret` gets the new id (codes are hashed with it).
   */
  async function openChallenge(input: {
    kind: ChallengeKind;
    userId: string | null;
    methodId?: string | null;
    secret: (id: string) => string;
    data: Record<string, unknown>;
    ttlSeconds: number;
  }): Promise<{ id: string; expiresAt: number }> {
    const now = clock.now();
    const id = newId();
    const expiresAt = now + input.ttlSeconds * 1000;
    await insertChallenge(database.db, {
      id,
      kind: input.kind,
      user_id: input.userId,
      method_id: input.methodId ?? null,
      secret_hash: hash(input.secret(id)),
      data: JSON.stringify(input.data),
      attempts: 0,
      created_at: now,
      expires_at: expiresAt,
      consumed_at: null,
    });
    return { id, expiresAt };
  }

  async function requireUser(userId: string): Promise<MfaUser> {
    const user = await hooks().loadUser(userId);
    if (!user) throw new GatehouseError(MfaErrors.mfa_pending_invalid);
    return user;
  }

  function isRequired(user: MfaUser): boolean {
    return settings.enforce === 'all' || (settings.enforce === 'admins' && user.isAdmin) || user.mfaRequired;
  }

  function requireRecentAuth(session: AuthenticatedSession): void {
    if (clock.now() - session.authTime > settings.recentAuthSeconds * 1000) {
      throw new GatehouseError(
        MfaErrors.reauthentication_required,
        `Re-authenticate first: this needs a sign-in from the last ${Math.round(settings.recentAuthSeconds / 60)} minutes`,
      );
    }
  }

  const activeMethods = async (userId: string) =>
    (await listMethods(database.db, userId)).filter((method) => method.status === 'active');

  const summary = (method: MfaMethodRow): MethodSummary => ({
    id: method.id,
    type: method.type,
    name: method.name,
    primary: method.is_primary === 1,
  });

  const view = (method: MfaMethodRow, email: string): MethodView => ({
    ...summary(method),
    status: method.status,
    target:
      method.type === 'sms' && method.phone
        ? maskPhone(method.phone)
        : method.type === 'email'
          ? maskEmail(email)
          : null,
    createdAt: iso(method.created_at)!,
    confirmedAt: iso(method.confirmed_at),
    lastUsedAt: iso(method.last_used_at),
  });

  async function newBackupCodes(userId: string): Promise<string[]> {
    const codes = Array.from({ length: settings.backupCodeCount }, newBackupCode);
    await replaceBackupCodes(
      database.db,
      userId,
      codes.map((code) => ({ id: newId(), code_hash: hash(`${userId}:${code}`) })),
      clock.now(),
    );
    return codes;
  }

  /** Sends a 6-digit code to an e-mail or SMS method, bound to a pending sign-in or a session. */
  async function sendCode(
    user: MfaUser,
    method: MfaMethodRow,
    bind: string,
    context: RequestContext,
  ): Promise<ChallengeResult> {
    const now = clock.now();
    const last = await lastCodeSentAt(database.db, method.id);
    if (last !== undefined && now - last < settings.codeResendSeconds * 1000) {
      const wait = Math.ceil((settings.codeResendSeconds * 1000 - (now - last)) / 1000);
      throw new GatehouseError(
        MfaErrors.mfa_code_recently_sent,
        `Wait ${wait} s before asking for another code`,
        {
          headers: { 'retry-after': String(wait) },
        },
      );
    }
    const code = newNumericCode();
    const { expiresAt } = await openChallenge({
      kind: method.type === 'sms' ? 'sms_code' : 'email_code',
      userId: user.id,
      methodId: method.id,
      secret: (id) => `${id}:${code}`,
      data: { bind },
      ttlSeconds: settings.codeTtlSeconds,
    });
    const minutes = Math.round(settings.codeTtlSeconds / 60);
    let sentTo: string;
    if (method.type === 'sms') {
      if (!deps.sms.enabled || !method.phone)
        throw new GatehouseError(MfaErrors.mfa_method_unavailable, 'SMS is not configured');
      deps.sms.send({ to: method.phone, body: deps.smsText(code, minutes), tag: 'mfa-code' });
      sentTo = maskPhone(method.phone);
    } else {
      const message = deps.mail.compose.mfaCode({ code, expiresInMinutes: minutes });
      deps.mail.send({ ...message, to: user.email, tag: 'mfa-code' });
      sentTo = maskEmail(user.email);
    }
    record(
      {
        name: MfaEvents.challenged,
        severity: 'low',
        outcome: 'success',
        targetUserId: user.id,
        details: { type: method.type, methodId: method.id },
      },
      context,
    );
    return {
      type: method.type,
      methodId: method.id,
      sentTo,
      expiresAt,
    };
  }

  async function webauthnRequest(userId: string, bind: string): Promise<ChallengeResult> {
    const credentials = await credentialsOfUser(database.db, userId);
    if (credentials.length === 0)
      throw new GatehouseError(MfaErrors.mfa_method_unavailable, 'No security key is registered');
    const options = await relyingParty.authenticationOptions(credentials, settings.webauthn.userVerification);
    const { expiresAt } = await openChallenge({
      kind: 'webauthn_authenticate',
      userId,
      secret: () => options.challenge,
      data: { bind },
      ttlSeconds: settings.webauthn.challengeTtlSeconds,
    });
    return {
      type: 'webauthn',
      methodId: null,
      options,
      expiresAt,
    };
  }

  /** Picks the method a challenge or proof is about: by id, else the primary of the type, else the first. */
  async function pickMethod(
    userId: string,
    input: { methodId?: string | undefined; type?: FactorType | undefined },
  ) {
    const methods = await activeMethods(userId);
    if (input.methodId) {
      const method = methods.find((candidate) => candidate.id === input.methodId);
      if (!method) throw new GatehouseError(MfaErrors.mfa_method_not_found);
      return method;
    }
    const ofType = methods.filter((method) => method.type === input.type);
    return ofType.find((method) => method.is_primary === 1) ?? ofType[0];
  }

  async function challenge(
    user: MfaUser,
    input: { methodId?: string | undefined; type?: FactorType | undefined },
    bind: string,
    context: RequestContext,
  ): Promise<ChallengeResult> {
    if (input.type === 'backup_code') return { type: 'backup_code', methodId: null };
    const method = await pickMethod(user.id, input);
    if (!method)
      throw new GatehouseError(MfaErrors.mfa_method_not_found, `No active ${input.type ?? 'second'} factor`);
    if (method.type === 'email' || method.type === 'sms') return sendCode(user, method, bind, context);
    if (method.type === 'webauthn') return webauthnRequest(user.id, bind);
    return { type: 'totp', methodId: method.id };
  }

  interface FactorOutcome {
    readonly amr: string[];
    readonly phishingResistant: boolean;
    readonly factor: FactorType;
    readonly methodId: string | null;
  }

  /** Checks one proof of a second factor. Undefined when it is wrong, replayed, expired or not the user's. */
  async function checkFactor(
    user: MfaUser,
    proof: FactorProof,
    bind: string,
    context: RequestContext,
  ): Promise<FactorOutcome | undefined> {
    const now = clock.now();
    const type = proof.type ?? (proof.response !== undefined ? 'webauthn' : undefined);
    const method =
      type === 'backup_code' ? undefined : await pickMethod(user.id, { methodId: proof.methodId, type });
    const factor: FactorType | undefined = type === 'backup_code' ? 'backup_code' : method?.type;
    if (!factor) return undefined;

    if (factor === 'backup_code') {
      if (!proof.code) return undefined;
      const spent = await spendBackupCode(
        database.db,
        user.id,
        hash(`${user.id}:${normalizeBackupCode(proof.code)}`),
        now,
      );
      if (!spent) return undefined;
      const remaining = await countUnusedBackupCodes(database.db, user.id);
      record(
        {
          name: MfaEvents.backupCodeUsed,
          severity: remaining <= 2 ? 'medium' : 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { remaining },
        },
        context,
      );
      return { amr: ['otp'], phishingResistant: false, factor, methodId: null };
    }
    if (!method) return undefined;

    if (factor === 'totp') {
      if (!proof.code || !method.secret_sealed) return undefined;
      const secret = deps.sealedBox.open(method.secret_sealed, mfaSeedField(method.id));
      const step = matchTotp({ secret, code: proof.code, now, window: settings.totp.window });
      if (step === undefined) return undefined;
      if (!(await claimTotpStep(database.db, method.id, step, now))) {
        verifications.inc({ factor, outcome: 'replay' });
        record(
          {
            name: MfaEvents.replayed,
            severity: 'high',
            outcome: 'failure',
            targetUserId: user.id,
            details: { methodId: method.id },
          },
          context,
        );
        return undefined;
      }
      return { amr: ['otp'], phishingResistant: false, factor, methodId: method.id };
    }

    if (factor === 'email' || factor === 'sms') {
      if (!proof.code) return undefined;
      if (!(await spendCode(method.id, proof.code, bind))) return undefined;
      await updateMethod(database.db, method.id, { last_used_at: now });
      return { amr: [factor], phishingResistant: false, factor, methodId: method.id };
    }

    // WebAuthn: the signed challenge must be one we issued for this binding, and is spent whatever follows.
    const response = proof.response;
    if (!isCredentialResponse(response)) return undefined;
    const signed = await spendWebauthnChallenge(
      'webauthn_authenticate',
      response,
      (issued) => issued.user_id === user.id && boundTo(issued, bind),
    );
    if (!signed) return undefined;
    const credential = await findActiveCredential(database.db, response.id);
    if (!credential || credential.user_id !== user.id) return undefined;
    const verified = await verifyWebauthnAssertion(
      response as AuthenticationResponseJSON,
      signed,
      credential,
      {
        requireUserVerification: settings.webauthn.userVerification === 'required',
      },
    );
    if (!verified) return undefined;
    return {
      amr: [credential.device_type === 'singleDevice' ? 'hwk' : 'swk'],
      phishingResistant: true,
      factor,
      methodId: credential.method_id,
    };
  }

  async function verifyWebauthnAssertion(
    response: AuthenticationResponseJSON,
    expectedChallenge: string,
    credential: { id: string; method_id: string; public_key: string; sign_count: number; transports: string },
    options: { requireUserVerification: boolean },
  ): Promise<boolean> {
    const verified = await relyingParty.verifyAssertion(
      response,
      expectedChallenge,
      credential,
      options.requireUserVerification,
    );
    if (!verified) return false;
    await recordCredentialUse(
      database.db,
      { id: credential.id, methodId: credential.method_id },
      { signCount: verified.signCount, backedUp: verified.backedUp, now: clock.now() },
    );
    return true;
  }

  /** Verifies a WebAuthn registration against the challenge issued for this method and stores the key. */
  async function registerCredential(
    userId: string,
    method: MfaMethodRow,
    response: RegistrationResponseJSON,
    bind: string,
  ): Promise<boolean> {
    const now = clock.now();
    const signed = await spendWebauthnChallenge(
      'webauthn_register',
      response,
      (issued) => issued.method_id === method.id && boundTo(issued, bind),
    );
    if (!signed) return false;
    const credential = await relyingParty.verifyRegistration(response, signed);
    if (!credential) return false;
    await insertCredential(database.db, {
      id: credential.id,
      method_id: method.id,
      user_id: userId,
      public_key: credential.publicKey,
      sign_count: credential.signCount,
      transports: JSON.stringify(credential.transports),
      device_type: credential.deviceType,
      backed_up: credential.backedUp ? 1 : 0,
      aaguid: credential.aaguid,
      created_at: now,
    });
    return true;
  }

  async function status(userId: string) {
    const user = await requireUser(userId);
    const methods = await listMethods(database.db, userId);
    const active = methods.filter((method) => method.status === 'active');
    return {
      enabled: active.length > 0,
      required: isRequired(user),
      primary: active.find((method) => method.is_primary === 1)?.id ?? null,
      methods: methods.map((method) => view(method, user.email)),
      backupCodesRemaining: await countUnusedBackupCodes(database.db, userId),
    };
  }

  async function failFactor(
    user: MfaUser,
    proof: FactorProof,
    context: RequestContext,
    pending?: ChallengeRow,
  ): Promise<GatehouseError> {
    verifications.inc({ factor: proof.type ?? 'unknown', outcome: 'failure' });
    await hooks().recordFailure(user.id, user.email, context);
    let voided = false;
    if (pending) {
      const attempts = await countChallengeAttempt(database.db, pending.id);
      if (attempts >= maxAttempts) {
        voided = await consumeChallenge(database.db, pending.id, clock.now());
      }
    }
    record(
      {
        name: voided ? MfaEvents.pendingVoided : MfaEvents.failed,
        severity: voided ? 'high' : 'medium',
        outcome: 'failure',
        targetUserId: user.id,
        details: { type: proof.type ?? null, methodId: proof.methodId ?? null },
      },
      context,
    );
    return voided
      ? new GatehouseError(MfaErrors.mfa_pending_invalid, 'Too many wrong codes; sign in again')
      : new GatehouseError(MfaErrors.mfa_invalid_code);
  }

  async function assertNotThrottled(user: MfaUser, context: RequestContext): Promise<void> {
    const wait = await hooks().throttledForSeconds(context.ip ?? 'unknown', user.email);
    if (wait > 0) {
      throw new GatehouseError('too_many_requests', 'Too many failed attempts; try again later', {
        headers: { 'retry-after': String(wait) },
      });
    }
  }

  /** The pending sign-in behind a cookie, with its user, or a 401 that says to start over. */
  async function loadPending(token: string | undefined) {
    if (!token || token.length < 20 || token.length > 100)
      throw new GatehouseError(MfaErrors.mfa_pending_invalid);
    const pending = await findLiveChallenge(
      database.db,
      'pending_login',
      { secretHash: hash(token) },
      clock.now(),
    );
    if (!pending?.user_id || pending.attempts >= maxAttempts)
      throw new GatehouseError(MfaErrors.mfa_pending_invalid);
    const user = await hooks().loadUser(pending.user_id);
    if (!user?.canSignIn) throw new GatehouseError(MfaErrors.mfa_pending_invalid);
    return { pending, user };
  }

  async function rememberDevice(userId: string, context: RequestContext) {
    const now = clock.now();
    const id = newId();
    const token = randomToken(32);
    const expiresAt = now + settings.rememberDevice.days * 86_400_000;
    await insertRememberedDevice(database.db, {
      id,
      user_id: userId,
      token_hash: hash(`device:${userId}:${token}`),
      device: JSON.stringify(parseDevice(context.userAgent)),
      ip: context.ip ?? null,
      created_at: now,
      last_used_at: null,
      expires_at: expiresAt,
    });
    record(
      {
        name: MfaEvents.deviceRemembered,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        details: { deviceId: id, days: settings.rememberDevice.days },
      },
      context,
    );
    return { value: `${id}.${token}`, expiresAt };
  }

  /** Every factor proven: the session, and the remembered-device cookie when the user asked for one. */
  async function finishSignIn(
    userId: string,
    context: RequestContext,
    authentication: Authentication,
    remember: boolean | undefined,
  ) {
    const login = await hooks().completeSignIn(userId, context, authentication);
    const rememberedDevice =
      remember && settings.rememberDevice.enabled ? await rememberDevice(userId, context) : undefined;
    return { login, rememberedDevice };
  }

  /** A remembered-device cookie is `<id>.<token>`; the hash binds it to one user, so it is useless to others. */
  async function rememberedDeviceOf(userId: string, cookie: string | undefined) {
    const [id, token] = cookie?.split('.') ?? [];
    if (!id || !token || token.length > 100) return undefined;
    return findRememberedDevice(database.db, id, hash(`device:${userId}:${token}`), clock.now());
  }

  return {
    isRequired,
    requireRecentAuth,

    /**
     * Decides what a proven first factor (a password, or an upstream identity provider) leads to: a session,
     * enrolment, or a second factor.
     */
    async afterFirstFactor(
      user: MfaUser,
      context: RequestContext & { rememberedDevice?: string | undefined },
      options: { ignoreRememberedDevice?: boolean; firstFactor?: Authentication } = {},
    ): Promise<SignInGate> {
      const first: Authentication = options.firstFactor ?? { amr: ['pwd'], acr: '1' };
      const methods = await activeMethods(user.id);
      if (methods.length === 0) {
        if (!isRequired(user)) return { next: 'session', authentication: first };
        record(
          { name: MfaEvents.enrollmentRequired, severity: 'low', outcome: 'success', targetUserId: user.id },
          context,
        );
        return { next: 'session', authentication: first, restriction: 'mfa_enrollment' };
      }
      if (settings.rememberDevice.enabled && !options.ignoreRememberedDevice) {
        const device = await rememberedDeviceOf(user.id, context.rememberedDevice);
        if (device) {
          await touchRememberedDevice(database.db, device.id, clock.now());
          record(
            {
              name: MfaEvents.rememberedDeviceUsed,
              severity: 'low',
              outcome: 'success',
              actorUserId: user.id,
              targetUserId: user.id,
              details: { deviceId: device.id },
            },
            context,
          );
          // The second factor was skipped, so the session claims only what was proven now.
          return { next: 'session', authentication: first };
        }
      }
      const token = randomToken(32);
      const { expiresAt } = await openChallenge({
        kind: 'pending_login',
        userId: user.id,
        secret: () => token,
        data: { amr: first.amr },
        ttlSeconds: settings.pendingLoginTtlSeconds,
      });
      return {
        next: 'mfa',
        pendingToken: token,
        expiresAt,
        methods: methods.map(summary),
        backupCodes: (await countUnusedBackupCodes(database.db, user.id)) > 0,
      };
    },

    /** The factors a sign-in waiting for its second factor may use (for pages that list them). */
    async pendingMethods(token: string | undefined) {
      const { user } = await loadPending(token);
      return {
        methods: (await activeMethods(user.id)).map(summary),
        backupCodes: (await countUnusedBackupCodes(database.db, user.id)) > 0,
      };
    },

    /** Sends a code or returns WebAuthn options for a sign-in waiting for its second factor. */
    async challengePending(
      token: string | undefined,
      input: { methodId?: string | undefined; type?: FactorType | undefined },
      context: RequestContext,
    ): Promise<ChallengeResult> {
      const { pending, user } = await loadPending(token);
      return challenge(user, input, `pending:${pending.id}`, context);
    },

    /** Completes a pending sign-in with a second factor. Wrong answers count toward lockout. */
    async verifyPending(
      token: string | undefined,
      proof: FactorProof & { rememberDevice?: boolean | undefined },
      context: RequestContext,
    ) {
      const { pending, user } = await loadPending(token);
      await assertNotThrottled(user, context);
      const outcome = await checkFactor(user, proof, `pending:${pending.id}`, context);
      if (!outcome) throw await failFactor(user, proof, context, pending);
      if (!(await consumeChallenge(database.db, pending.id, clock.now()))) {
        throw new GatehouseError(MfaErrors.mfa_pending_invalid);
      }
      verifications.inc({ factor: outcome.factor, outcome: 'success' });
      const first = (JSON.parse(pending.data) as { amr?: string[] }).amr ?? ['pwd'];
      const authentication = assuranceOf(first, outcome);
      record(
        {
          name: MfaEvents.verified,
          severity: 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { factor: outcome.factor, methodId: outcome.methodId, acr: authentication.acr },
        },
        context,
      );
      return finishSignIn(user.id, context, authentication, proof.rememberDevice);
    },

    /** Step-up: a second factor proven inside an existing session raises its level and refreshes auth_time. */
    async challengeSession(
      session: AuthenticatedSession,
      input: { methodId?: string | undefined; type?: FactorType | undefined },
      context: RequestContext,
    ): Promise<ChallengeResult> {
      const user = await requireUser(session.userId);
      return challenge(user, input, `session:${session.id}`, context);
    },

    async stepUp(session: AuthenticatedSession, proof: FactorProof, context: RequestContext) {
      const user = await requireUser(session.userId);
      await assertNotThrottled(user, context);
      const outcome = await checkFactor(user, proof, `session:${session.id}`, context);
      if (!outcome) throw await failFactor(user, proof, context);
      verifications.inc({ factor: outcome.factor, outcome: 'success' });
      const result = await deps.sessions.reauthenticated(session.id, assuranceOf(session.amr, outcome));
      record(
        {
          name: MfaEvents.stepUp,
          severity: 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { factor: outcome.factor, acr: result.acr, sessionId: session.id },
        },
        context,
      );
      return result;
    },

    status,

    async listMethods(userId: string): Promise<MethodView[]> {
      const user = await requireUser(userId);
      return (await listMethods(database.db, userId)).map((method) => view(method, user.email));
    },

    /** Starts enrolling a factor. It stays pending, unusable, until `confirmEnrollment` sees it work once. */
    async startEnrollment(
      session: AuthenticatedSession,
      input: { type: MfaMethodType; name?: string | undefined; phone?: string | undefined },
      context: RequestContext,
    ) {
      requireRecentAuth(session);
      const user = await requireUser(session.userId);
      const now = clock.now();
      const id = newId();
      const base: MfaMethodRow = {
        id,
        user_id: user.id,
        type: input.type,
        name:
          input.name ??
          (input.type === 'sms' && input.phone
            ? `Phone ${maskPhone(input.phone)}`
            : DEFAULT_NAMES[input.type]),
        status: 'pending',
        is_primary: 0,
        secret_sealed: null,
        last_used_step: null,
        phone: null,
        created_at: now,
        confirmed_at: null,
        last_used_at: null,
      };
      const bind = `session:${session.id}`;
      let extra: Record<string, unknown> = {};
      if (input.type === 'totp') {
        const secret = newTotpSecret();
        await insertMethod(database.db, {
          ...base,
          secret_sealed: deps.sealedBox.seal(secret, mfaSeedField(id)),
        });
        const uri = totpUri({ secret, issuer, account: user.email });
        extra = { totp: { uri, qrCode: await qrCodeDataUrl(uri), secret } };
      } else if (input.type === 'webauthn') {
        const existing = await credentialsOfUser(database.db, user.id, false);
        const options = await relyingParty.registrationOptions(user, existing);
        await insertMethod(database.db, base);
        await openChallenge({
          kind: 'webauthn_register',
          userId: user.id,
          methodId: id,
          secret: () => options.challenge,
          data: { bind },
          ttlSeconds: settings.webauthn.challengeTtlSeconds,
        });
        extra = { webauthn: { options } };
      } else if (input.type === 'email') {
        if (!user.emailVerified) throw new GatehouseError(MfaErrors.email_not_verified);
        await insertMethod(database.db, base);
        extra = { code: await sendCode(user, base, bind, context) };
      } else {
        if (!deps.sms.enabled)
          throw new GatehouseError(MfaErrors.mfa_method_unavailable, 'SMS is not configured');
        if (!input.phone) {
          throw new GatehouseError('validation_failed', 'A phone number is required for SMS', {
            errors: [{ path: 'body.phone', message: 'required for type sms' }],
          });
        }
        const row = { ...base, phone: input.phone };
        await insertMethod(database.db, row);
        extra = { code: await sendCode(user, row, bind, context) };
      }
      record(
        {
          name: MfaEvents.enrollmentStarted,
          severity: 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { type: input.type, methodId: id },
        },
        context,
      );
      const method = await findMethod(database.db, user.id, id);
      return { method: view(method!, user.email), ...extra };
    },

    /** Activates a pending factor after one correct use. The first factor comes with backup codes. */
    async confirmEnrollment(
      session: AuthenticatedSession,
      methodId: string,
      input: { code?: string | undefined; response?: unknown },
      context: RequestContext,
    ) {
      const user = await requireUser(session.userId);
      const method = await findMethod(database.db, user.id, methodId);
      if (!method) throw new GatehouseError(MfaErrors.mfa_method_not_found);
      if (method.status !== 'pending') throw new GatehouseError('conflict', 'This factor is already active');
      const now = clock.now();
      const bind = `session:${session.id}`;
      let ok = false;
      if (method.type === 'totp' && input.code && method.secret_sealed) {
        const secret = deps.sealedBox.open(method.secret_sealed, mfaSeedField(method.id));
        const step = matchTotp({ secret, code: input.code, now, window: settings.totp.window });
        ok = step !== undefined && (await claimTotpStep(database.db, method.id, step, now));
      } else if ((method.type === 'email' || method.type === 'sms') && input.code) {
        ok = await spendCode(method.id, input.code, bind);
      } else if (method.type === 'webauthn' && isCredentialResponse(input.response)) {
        ok = await registerCredential(user.id, method, input.response as RegistrationResponseJSON, bind);
      }
      if (!ok) {
        verifications.inc({ factor: method.type, outcome: 'failure' });
        throw new GatehouseError(MfaErrors.mfa_invalid_code);
      }

      const hadActive = (await activeMethods(user.id)).length > 0;
      const hasPrimary = (await activeMethods(user.id)).some((candidate) => candidate.is_primary === 1);
      await database.transaction(async (trx) => {
        await updateMethod(trx, method.id, { status: 'active', confirmed_at: now, last_used_at: now });
        if (!hasPrimary) await setPrimaryMethod(trx, user.id, method.id);
      });
      const backupCodes =
        !hadActive && (await countUnusedBackupCodes(database.db, user.id)) === 0
          ? await newBackupCodes(user.id)
          : undefined;
      verifications.inc({ factor: method.type, outcome: 'success' });
      if (session.restriction === 'mfa_enrollment') {
        const factor = {
          amr: method.type === 'totp' ? ['otp'] : method.type === 'webauthn' ? ['hwk'] : [method.type],
          phishingResistant: method.type === 'webauthn',
        };
        await deps.sessions.reauthenticated(session.id, assuranceOf(session.amr, factor), {
          liftRestriction: true,
        });
      }
      record(
        {
          name: MfaEvents.enrolled,
          severity: 'medium',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { type: method.type, methodId: method.id, firstFactor: !hadActive },
        },
        context,
      );
      const updated = await findMethod(database.db, user.id, method.id);
      return { method: view(updated!, user.email), ...(backupCodes ? { backupCodes } : {}) };
    },

    async rename(session: AuthenticatedSession, methodId: string, name: string, context: RequestContext) {
      const user = await requireUser(session.userId);
      const method = await findMethod(database.db, user.id, methodId);
      if (!method) throw new GatehouseError(MfaErrors.mfa_method_not_found);
      await updateMethod(database.db, methodId, { name });
      record(
        {
          name: MfaEvents.renamed,
          severity: 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { methodId },
        },
        context,
      );
      return view({ ...method, name }, user.email);
    },

    async remove(session: AuthenticatedSession, methodId: string, context: RequestContext): Promise<void> {
      requireRecentAuth(session);
      const user = await requireUser(session.userId);
      const method = await findMethod(database.db, user.id, methodId);
      if (!method) throw new GatehouseError(MfaErrors.mfa_method_not_found);
      const remaining = (await activeMethods(user.id)).filter((candidate) => candidate.id !== methodId);
      if (method.status === 'active' && remaining.length === 0 && isRequired(user)) {
        throw new GatehouseError(MfaErrors.mfa_required_by_policy);
      }
      await database.transaction(async (trx) => {
        await deleteMethod(trx, user.id, methodId);
        if (remaining.length === 0) {
          // Without any factor, backup codes and remembered devices would be a second factor of nothing.
          await deleteBackupCodes(trx, user.id);
          await deleteRememberedDevicesOfUser(trx, user.id);
        } else if (method.is_primary === 1) {
          await setPrimaryMethod(trx, user.id, remaining[0]!.id);
        }
      });
      record(
        {
          name: MfaEvents.removed,
          severity: 'medium',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { methodId, type: method.type, mfaStillEnabled: remaining.length > 0 },
        },
        context,
      );
    },

    async setPrimary(session: AuthenticatedSession, methodId: string, context: RequestContext) {
      const user = await requireUser(session.userId);
      const method = (await activeMethods(user.id)).find((candidate) => candidate.id === methodId);
      if (!method) throw new GatehouseError(MfaErrors.mfa_method_not_found, 'No such active second factor');
      await setPrimaryMethod(database.db, user.id, methodId);
      record(
        {
          name: MfaEvents.primaryChanged,
          severity: 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { methodId },
        },
        context,
      );
      return status(user.id);
    },

    async regenerateBackupCodes(session: AuthenticatedSession, context: RequestContext): Promise<string[]> {
      requireRecentAuth(session);
      const user = await requireUser(session.userId);
      if ((await activeMethods(user.id)).length === 0) throw new GatehouseError(MfaErrors.mfa_not_enabled);
      const codes = await newBackupCodes(user.id);
      record(
        {
          name: MfaEvents.backupCodesGenerated,
          severity: 'medium',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { count: codes.length },
        },
        context,
      );
      return codes;
    },

    async disable(session: AuthenticatedSession, context: RequestContext): Promise<void> {
      requireRecentAuth(session);
      const user = await requireUser(session.userId);
      if (isRequired(user)) throw new GatehouseError(MfaErrors.mfa_required_by_policy);
      const removed = await database.transaction((trx) => deleteAllMfa(trx, user.id));
      record(
        {
          name: MfaEvents.disabled,
          severity: 'high',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { removed },
        },
        context,
      );
    },

    /** An administrator removes every factor of a user (a lost phone); the user can enrol again. */
    async adminReset(
      actorUserId: string | undefined,
      userId: string,
      context: RequestContext,
    ): Promise<number> {
      await requireUser(userId);
      // An administrator's change: removed together with its audit record, or not at all.
      const removed = await changeWithRecord<number>(
        database,
        deps.events,
        (count) => ({
          name: MfaEvents.reset,
          severity: 'high',
          outcome: 'success',
          actorUserId,
          targetUserId: userId,
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          details: { removed: count },
        }),
        (trx) => deleteAllMfa(trx, userId),
      );
      return removed;
    },

    async rememberedDevices(userId: string, currentCookie?: string): Promise<RememberedDeviceView[]> {
      const currentId = currentCookie?.split('.')[0];
      return (await listRememberedDevices(database.db, userId, clock.now())).map((row) => ({
        id: row.id,
        device: JSON.parse(row.device) as Record<string, string>,
        ip: row.ip,
        createdAt: iso(row.created_at)!,
        lastUsedAt: iso(row.last_used_at),
        expiresAt: iso(row.expires_at)!,
        current: row.id === currentId,
      }));
    },

    async forgetDevice(userId: string, deviceId: string, context: RequestContext): Promise<void> {
      if ((await deleteRememberedDevice(database.db, userId, deviceId)) === 0) {
        throw new GatehouseError('not_found', 'No such remembered device');
      }
      record(
        {
          name: MfaEvents.rememberedDeviceRevoked,
          severity: 'low',
          outcome: 'success',
          actorUserId: userId,
          targetUserId: userId,
          details: { deviceId },
        },
        context,
      );
    },

    /** Options for a passwordless sign-in with a discoverable credential (a passkey). */
    async passkeyOptions(): Promise<{ challengeId: string; options: unknown; expiresAt: number }> {
      const options = await relyingParty.authenticationOptions([], 'required');
      const { id: challengeId, expiresAt } = await openChallenge({
        kind: 'passkey_login',
        userId: null,
        secret: () => options.challenge,
        data: {},
        ttlSeconds: settings.webauthn.challengeTtlSeconds,
      });
      return { challengeId, options, expiresAt };
    },

    /**
     * Passwordless sign-in. User verification is required, so the passkey alone is two factors (something
     * held, and a PIN or biometric): amr is hwk/swk plus mfa, and the level is phishing-resistant.
     */
    async passkeyLogin(
      input: { challengeId: string; response: unknown; rememberDevice?: boolean | undefined },
      context: RequestContext,
    ) {
      const now = clock.now();
      const fail = async (reason: string, user?: MfaUser) => {
        verifications.inc({ factor: 'passkey', outcome: 'failure' });
        await hooks().recordFailure(user?.id, user?.email, context);
        record(
          {
            name: MfaEvents.passkeyFailed,
            severity: 'medium',
            outcome: 'failure',
            targetUserId: user?.id,
            details: { reason },
          },
          context,
        );
        return new GatehouseError(MfaErrors.passkey_invalid);
      };
      const wait = await hooks().throttledForSeconds(context.ip ?? 'unknown', '(passkey)');
      if (wait > 0) {
        throw new GatehouseError('too_many_requests', 'Too many failed attempts; try again later', {
          headers: { 'retry-after': String(wait) },
        });
      }
      const issued = await findLiveChallenge(database.db, 'passkey_login', { id: input.challengeId }, now);
      const signed = challengeOf(input.response);
      if (
        !issued ||
        !signed ||
        hash(signed) !== issued.secret_hash ||
        !isCredentialResponse(input.response)
      ) {
        throw await fail('unknown_challenge');
      }
      if (!(await consumeChallenge(database.db, issued.id, now))) throw await fail('challenge_used');
      const credential = await findActiveCredential(database.db, input.response.id);
      if (!credential) throw await fail('unknown_credential');
      const user = await hooks().loadUser(credential.user_id);
      if (!user?.canSignIn) throw await fail('account_unavailable', user);
      const verified = await verifyWebauthnAssertion(
        input.response as AuthenticationResponseJSON,
        signed,
        credential,
        {
          requireUserVerification: true,
        },
      );
      if (!verified) throw await fail('assertion_rejected', user);
      verifications.inc({ factor: 'passkey', outcome: 'success' });
      const authentication = {
        amr: [credential.device_type === 'singleDevice' ? 'hwk' : 'swk', 'mfa'],
        acr: '3',
      };
      record(
        {
          name: MfaEvents.passkeyLogin,
          severity: 'low',
          outcome: 'success',
          actorUserId: user.id,
          targetUserId: user.id,
          details: { methodId: credential.method_id },
        },
        context,
      );
      return finishSignIn(user.id, context, authentication, input.rememberDevice);
    },

    /** Housekeeping: spent and expired challenges, and enrolments never confirmed. */
    async deleteExpired(): Promise<number> {
      const now = clock.now();
      await deletePendingMethodsOlderThan(database.db, now - PENDING_METHOD_TTL_MS);
      return deleteExpiredChallenges(database.db, now);
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
