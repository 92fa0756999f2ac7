import type { Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { deriveKey, keyedHash, randomToken } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { Tables } from '../../platform/db/tables.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { MfaUser, SignInGate, SignInHooks } from '../mfa/service.js';
import type { Tripwire } from '../security/decoys.js';
import type { RiskAssessment, RiskEngine } from '../security/risk.js';
import type {
  Authentication,
  RequestContext,
  SessionRestriction,
  SessionService,
} from '../sessions/service.js';
import { AccountErrors } from './errors.js';
import { AccountEvents } from './events.js';
import {
  consumeEmailToken,
  deleteExpiredEmailTokens,
  deleteUser,
  type EmailTokenPurpose,
  findLiveEmailToken,
  findPasswordHash,
  findUserByEmail,
  findUserById,
  findUserWithPassword,
  incrementFailedLogins,
  insertEmailToken,
  insertUser,
  retireEmailTokens,
  searchUsers,
  type UserRow,
  type UserSearch,
  type UserStatus,
  updateUser,
  upsertPasswordHash,
} from './queries.js';
import type { AccountSettings, LockoutSettings } from './settings.js';
import type { LoginThrottle } from './throttle.js';

/** What accounts need from the passwords module. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<{ valid: boolean; needsRehash: boolean }>;
  /** Costs what a real verification costs, for accounts that do not exist. */
  dummyVerify(password: string): Promise<void>;
  /** Throws 503 at once when no hash could start or queue now, so a flood costs no database work. */
  readonly limiter: { assertCapacity(): void };
}

export interface PasswordPolicy {
  /** Throws a 400 naming the rule the password breaks. */
  assertAcceptable(password: string, context: { email: string; name?: string | null | undefined }): void;
}

export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly tag: string;
}

export interface MailComposer {
  verifyEmail(input: {
    name?: string | null;
    url: string;
    expiresInMinutes: number;
  }): Omit<OutgoingMail, 'to' | 'tag'>;
  passwordReset(input: { url: string; expiresInMinutes: number }): Omit<OutgoingMail, 'to' | 'tag'>;
  emailChange(input: {
    url: string;
    newEmail: string;
    expiresInMinutes: number;
  }): Omit<OutgoingMail, 'to' | 'tag'>;
  passwordChanged(input: { when: string; ip?: string }): Omit<OutgoingMail, 'to' | 'tag'>;
  emailChanged(input: { oldEmail: string; newEmail: string }): Omit<OutgoingMail, 'to' | 'tag'>;
  newSignIn(input: {
    when: string;
    device: string;
    ip: string;
    location?: string;
  }): Omit<OutgoingMail, 'to' | 'tag'>;
  mfaCode(input: { code: string; expiresInMinutes: number }): Omit<OutgoingMail, 'to' | 'tag'>;
  invitation(input: {
    url: string;
    invitedBy?: string;
    expiresInMinutes: number;
  }): Omit<OutgoingMail, 'to' | 'tag'>;
  organizationInvitation(input: {
    organization: string;
    url: string;
    expiresInMinutes: number;
  }): Omit<OutgoingMail, 'to' | 'tag'>;
}

export interface AccountServiceDependencies {
  readonly database: DatabaseHandle;
  readonly clock: Clock;
  readonly settings: AccountSettings;
  readonly publicUrl: string;
  readonly secretKey: Buffer;
  readonly passwords: PasswordHasher;
  readonly policy: PasswordPolicy;
  readonly sessions: SessionService;
  readonly throttle: LoginThrottle;
  readonly events: EventRecorder;
  readonly logger: Logger;
  /** Sends in the background: a slow or failing mail server never delays or fails the request. */
  readonly mail: { send(message: OutgoingMail): void; compose: MailComposer };
  /** Decides whether a correct password needs a second factor (the MFA module). */
  readonly secondFactor?: {
    afterFirstFactor(
      user: MfaUser,
      context: RequestContext & { rememberedDevice?: string | undefined },
      options?: { ignoreRememberedDevice?: boolean; firstFactor?: Authentication },
    ): Promise<SignInGate>;
  };
  /** Scores sign-ins and keeps their history (the security layer's risk engine). */
  readonly risk?: RiskEngine | undefined;
  /** Honeytokens: a decoy account or reset link being used raises the alarm. */
  readonly tripwire?: Tripwire | undefined;
}

export interface UserView {
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string | null;
  readonly status: UserStatus;
  readonly isAdmin: boolean;
  readonly metadata: Record<string, unknown>;
  readonly lockedUntil: string | null;
  readonly passwordResetRequired: boolean;
  /** An administrator requires a second factor for this account. */
  readonly mfaRequired: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastLoginAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toUserView(row: UserRow): UserView {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified_at !== null,
    name: row.display_name,
    status: row.status,
    isAdmin: row.is_admin === 1,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    lockedUntil: iso(row.locked_until),
    passwordResetRequired: row.password_reset_required === 1,
    mfaRequired: row.mfa_required === 1,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    lastLoginAt: iso(row.last_login_at),
  };
}

/** One spelling per mailbox: NFKC, trimmed, lower-case. Uniqueness is on this form. */
export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

/** How long the next lock lasts: it grows with each lock, up to the maximum. */
export function lockDurationMs(lockout: LockoutSettings, previousLocks: number): number {
  const seconds = lockout.durationSeconds * lockout.growthFactor ** previousLocks;
  return Math.min(seconds, lockout.maxDurationSeconds) * 1000;
}

export type LoginResult = {
  status: 'ok' | 'mfa_enrollment_required';
  user: UserView;
  token: string;
  sessionId: string;
  expiresAt: number;
  authentication: Authentication;
};

export type MfaPendingResult = Extract<SignInGate, { next: 'mfa' }> & { status: 'mfa_required' };

export function createAccountService(deps: AccountServiceDependencies) {
  const { database, clock, settings } = deps;
  const emailTokenKey = deriveKey(deps.secretKey, 'email-token');
  const hashEmailToken = (token: string) => keyedHash(emailTokenKey, token);
  const invalidCredentials = () =>
    new GatehouseError(AccountErrors.invalid_credentials, 'Invalid e-mail or password');
  const link = (path: string, token: string) => `${deps.publicUrl}${path}?token=${encodeURIComponent(token)}`;

  async function issueEmailToken(
    purpose: EmailTokenPurpose,
    input: { userId: string | null; email: string; ttlSeconds: number; createdBy?: string },
  ): Promise<string> {
    const now = clock.now();
    // 256 bits from the CSPRNG; only a keyed hash is stored, so a database leak yields no usable links.
    const token = randomToken(32);
    if (input.userId) await retireEmailTokens(database.db, input.userId, purpose, now);
    await insertEmailToken(database.db, {
      id: newId(),
      user_id: input.userId,
      purpose,
      token_hash: hashEmailToken(token),
      email: input.email,
      created_by: input.createdBy ?? null,
      created_at: now,
      expires_at: now + input.ttlSeconds * 1000,
      consumed_at: null,
    });
    return token;
  }

  async function sendVerification(user: UserRow): Promise<void> {
    const token = await issueEmailToken('verify_email', {
      userId: user.id,
      email: user.email,
      ttlSeconds: settings.verifyEmailTtlSeconds,
    });
    const message = deps.mail.compose.verifyEmail({
      name: user.display_name,
      url: link('/auth/verify-email', token),
      expiresInMinutes: Math.round(settings.verifyEmailTtlSeconds / 60),
    });
    deps.mail.send({ ...message, to: user.email, tag: 'verify-email' });
  }

  async function sendResetLink(userId: string, email: string): Promise<void> {
    const token = await issueEmailToken('reset_password', {
      userId,
      email,
      ttlSeconds: settings.resetPasswordTtlSeconds,
    });
    const message = deps.mail.compose.passwordReset({
      url: link('/auth/reset-password', token),
      expiresInMinutes: Math.round(settings.resetPasswordTtlSeconds / 60),
    });
    deps.mail.send({ ...message, to: email, tag: 'reset-password' });
  }

  function notifyPasswordChanged(email: string, now: number, context: RequestContext): void {
    const message = deps.mail.compose.passwordChanged({
      when: new Date(now).toUTCString(),
      ...(context.ip ? { ip: context.ip } : {}),
    });
    deps.mail.send({ ...message, to: email, tag: 'password-changed' });
  }

  async function requireUser(id: string): Promise<UserRow> {
    const user = await findUserById(database.db, id);
    if (!user) throw new GatehouseError(AccountErrors.user_not_found);
    return user;
  }

  /**
   * A new account, with its password when it has one (an account made by an upstream provider has none), and
   * whatever else must commit with it (`alongside`: the provider's link).
   */
  async function createUserRecord(
    input: {
      email: string;
      password?: string | undefined;
      name?: string | null | undefined;
      isAdmin?: boolean;
      verified?: boolean;
    },
    alongside?: (trx: Transaction<Tables>, row: UserRow) => Promise<void>,
  ): Promise<UserRow> {
    const email = normalizeEmail(input.email);
    const password = input.password;
    if (password !== undefined) deps.policy.assertAcceptable(password, { email, name: input.name });
    const hash = password !== undefined ? await deps.passwords.hash(password) : undefined;
    const now = clock.now();
    const row: UserRow = {
      id: newId(),
      email,
      email_verified_at: input.verified ? now : null,
      display_name: input.name ?? null,
      status: 'active',
      is_admin: input.isAdmin ? 1 : 0,
      metadata: '{}',
      failed_login_count: 0,
      locked_until: null,
      lock_count: 0,
      password_reset_required: 0,
      mfa_required: 0,
      created_at: now,
      updated_at: now,
      last_login_at: null,
    };
    try {
      await database.transaction(async (trx) => {
        await insertUser(trx, row);
        if (hash !== undefined) await upsertPasswordHash(trx, row.id, hash, now);
        await alongside?.(trx, row);
      });
    } catch (error) {
      if (await findUserByEmail(database.db, email)) {
        throw new GatehouseError(
          AccountErrors.email_taken,
          'An account with that e-mail address already exists',
        );
      }
      throw error;
    }
    return row;
  }

  async function failLogin(
    user: UserRow | undefined,
    email: string,
    context: RequestContext,
    reason: string,
  ) {
    await deps.throttle.recordFailure(context.ip ?? 'unknown', email);
    if (deps.risk?.enabled) {
      await deps.risk.failed(
        { userId: user?.id, email, ip: context.ip, userAgent: context.userAgent },
        'pwd',
      );
    }
    deps.events.record({
      name: AccountEvents.loginFailed,
      severity: 'low',
      outcome: 'failure',
      targetUserId: user?.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details: { reason },
    });
    return invalidCredentials();
  }

  /** Counts a wrong password and locks the account when the threshold is reached. */
  async function countFailure(user: UserRow, context: RequestContext): Promise<void> {
    const now = clock.now();
    const failures = await incrementFailedLogins(database.db, user.id, now);
    if (failures < settings.lockout.threshold) return;
    const locks = user.lock_count + 1;
    const permanent = settings.lockout.permanentAfter > 0 && locks >= settings.lockout.permanentAfter;
    const lockedUntil = now + lockDurationMs(settings.lockout, user.lock_count);
    await updateUser(database.db, user.id, {
      failed_login_count: 0,
      lock_count: locks,
      locked_until: lockedUntil,
      ...(permanent ? { status: 'locked' as const } : {}),
      updated_at: now,
    });
    deps.logger.warn({ userId: user.id, locks, permanent }, 'account locked after repeated failed sign-ins');
    deps.events.record({
      name: AccountEvents.lockout,
      severity: permanent ? 'high' : 'medium',
      outcome: 'success',
      targetUserId: user.id,
      ip: context.ip,
      requestId: context.requestId,
      details: { failures, locks, permanent, lockedUntil: iso(lockedUntil) },
    });
  }

  function toMfaUser(user: UserRow): MfaUser {
    return {
      id: user.id,
      email: user.email,
      name: user.display_name,
      emailVerified: user.email_verified_at !== null,
      isAdmin: user.is_admin === 1,
      mfaRequired: user.mfa_required === 1,
      canSignIn: user.status === 'active' && (user.locked_until === null || user.locked_until <= clock.now()),
    };
  }

  /** The end of every successful sign-in, whatever proved it: counters cleared, a session, an event, a notice. */
  /** A new account, whichever way it came (sign-up form, invitation, upstream provider). */
  function recordSignedUp(row: UserRow, context: RequestContext, details: Record<string, unknown>): void {
    deps.events.record({
      name: AccountEvents.signedUp,
      severity: 'low',
      outcome: 'success',
      actorUserId: row.id,
      targetUserId: row.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details,
    });
  }

  /**
   * The first factor is proven (a password, an upstream provider): the MFA policy asks for a second one, or
   * the session starts. A risky sign-in proves its second factor even on a remembered device.
   */
  async function afterFirstFactor(
    user: UserRow,
    context: RequestContext & { rememberedDevice?: string | undefined },
    attempt: Parameters<NonNullable<typeof deps.risk>['assess']>[0],
    assessment: RiskAssessment | undefined,
    amr: string,
  ): Promise<LoginResult | MfaPendingResult> {
    const firstFactor: Authentication = { amr: [amr], acr: '1' };
    const gate: SignInGate = deps.secondFactor
      ? await deps.secondFactor.afterFirstFactor(toMfaUser(user), context, {
          ignoreRememberedDevice: assessment?.action === 'mfa',
          firstFactor,
        })
      : { next: 'session', authentication: firstFactor };
    if (gate.next === 'mfa') {
      if (assessment) await deps.risk!.decided(attempt, assessment, amr, 'challenged');
      return { status: 'mfa_required', ...gate };
    }
    return completeSignIn(
      user,
      context,
      { ...gate.authentication, ...(gate.restriction ? { restriction: gate.restriction } : {}) },
      assessment,
    );
  }

  async function completeSignIn(
    user: UserRow,
    context: RequestContext,
    authentication: Authentication & { restriction?: SessionRestriction | undefined },
    assessed?: RiskAssessment,
  ): Promise<LoginResult> {
    const now = clock.now();
    // Scored again after a second factor (nothing it looks at has changed, and the challenge row is not a success).
    const attempt = { userId: user.id, email: user.email, ...context };
    const assessment = assessed ?? (deps.risk?.enabled ? await deps.risk.assess(attempt) : undefined);
    if (assessment) await deps.risk!.decided(attempt, assessment, authentication.amr.join('+'), 'succeeded');
    await deps.throttle.recordSuccess(context.ip ?? 'unknown', user.email);
    await updateUser(database.db, user.id, {
      failed_login_count: 0,
      locked_until: null,
      last_login_at: now,
      updated_at: now,
    });
    const session = await deps.sessions.create(user.id, { ...context, ...authentication });
    deps.events.record({
      name: AccountEvents.loginSucceeded,
      severity: 'low',
      outcome: 'success',
      actorUserId: user.id,
      targetUserId: user.id,
      ip: context.ip,
      userAgent: context.userAgent,
      requestId: context.requestId,
      details: { sessionId: session.sessionId, amr: authentication.amr, acr: authentication.acr },
    });
    if (settings.notifyNewSignIn || (assessment !== undefined && assessment.action !== 'allow')) {
      const device = context.userAgent ? context.userAgent.slice(0, 200) : 'an unknown device';
      const message = deps.mail.compose.newSignIn({
        when: new Date(now).toUTCString(),
        device,
        ip: context.ip ?? 'unknown',
      });
      deps.mail.send({ ...message, to: user.email, tag: 'new-sign-in' });
    }
    const fresh = { ...user, failed_login_count: 0, locked_until: null, last_login_at: now, updated_at: now };
    return {
      status: authentication.restriction === 'mfa_enrollment' ? 'mfa_enrollment_required' : 'ok',
      user: toUserView(fresh),
      authentication: { amr: authentication.amr, acr: authentication.acr },
      ...session,
    };
  }

  return {
    async signup(
      input: { email: string; password: string; name?: string | undefined; invitation?: string | undefined },
      context: RequestContext,
    ): Promise<UserView> {
      // An invitation admits its invitee whatever the sign-up mode; without one, only open sign-up does.
      const email = normalizeEmail(input.email);
      let invitedBy: string | null = null;
      if (input.invitation !== undefined || settings.signup !== 'open') {
        if (input.invitation === undefined) {
          throw new GatehouseError(
            settings.signup === 'closed' ? AccountErrors.signup_closed : AccountErrors.invitation_required,
          );
        }
        const invitation = await findLiveEmailToken(
          database.db,
          hashEmailToken(input.invitation),
          'invitation',
          clock.now(),
        );
        if (!invitation || invitation.email !== email)
          throw new GatehouseError(AccountErrors.invitation_required);
        invitedBy = invitation.created_by;
      }
      const row = await createUserRecord({ ...input, email, verified: false });
      if (input.invitation !== undefined) {
        await consumeEmailToken(database.db, hashEmailToken(input.invitation), 'invitation', clock.now());
      }
      recordSignedUp(row, context, { via: invitedBy ? 'invitation' : 'signup', invitedBy });
      await sendVerification(row);
      return toUserView(row);
    },

    /**
     * Password sign-in. Every failure (unknown e-mail, wrong password, disabled or locked account) costs one
     * password verification and ends in the same error, so neither the answer nor its timing tells them apart.
     */
    async login(
      input: { email: string; password: string },
      context: RequestContext & { rememberedDevice?: string | undefined },
    ): Promise<LoginResult | MfaPendingResult> {
      deps.passwords.limiter.assertCapacity();
      const email = normalizeEmail(input.email);
      const ip = context.ip ?? 'unknown';
      const wait = await deps.throttle.blockedForSeconds(ip, email);
      if (wait > 0) {
        deps.events.record({
          name: AccountEvents.throttled,
          severity: 'medium',
          outcome: 'failure',
          ip: context.ip,
          requestId: context.requestId,
          details: { retryAfterSeconds: wait },
        });
        throw new GatehouseError('too_many_requests', 'Too many failed sign-ins; try again later', {
          headers: { 'retry-after': String(wait) },
        });
      }

      if (deps.risk?.enabled) deps.risk.notePassword(email, input.password);
      const found = await findUserWithPassword(database.db, email);
      // A decoy account goes through every step a real one does, then fails like a wrong password.
      const decoy = found !== undefined && deps.tripwire?.check('account', found.id, context) === true;
      if (!found?.password_hash) {
        await deps.passwords.dummyVerify(input.password);
        throw await failLogin(found, email, context, found ? 'no_password' : 'unknown_email');
      }
      const { password_hash: storedHash, ...user } = found;
      const { valid, needsRehash } = await deps.passwords.verify(storedHash, input.password);
      const now = clock.now();
      if (user.status !== 'active') throw await failLogin(user, email, context, `status_${user.status}`);
      if (user.locked_until !== null && user.locked_until > now)
        throw await failLogin(user, email, context, 'locked');
      if (!valid) {
        await countFailure(user, context);
        throw await failLogin(user, email, context, 'wrong_password');
      }
      if (decoy) throw await failLogin(user, email, context, 'decoy');

      if (user.password_reset_required === 1) {
        // The password was right, but an administrator asked for a new one: only the reset link helps now.
        await deps.throttle.recordSuccess(ip, email);
        throw new GatehouseError(
          AccountErrors.password_reset_required,
          'Set a new password with the link sent by e-mail',
        );
      }
      if (needsRehash) {
        // The stored hash uses old parameters or an imported algorithm: replace it while we have the password.
        await upsertPasswordHash(database.db, user.id, await deps.passwords.hash(input.password), now);
        deps.events.record({
          name: AccountEvents.passwordHashUpgraded,
          severity: 'low',
          outcome: 'success',
          targetUserId: user.id,
          requestId: context.requestId,
        });
      }
      const attempt = { userId: user.id, email, ...context };
      const assessment = deps.risk?.enabled ? await deps.risk.assess(attempt) : undefined;
      if (assessment?.action === 'deny') {
        // Answered like a wrong password, so a credential-stuffing run learns nothing; the owner is told.
        await deps.risk!.decided(attempt, assessment, 'pwd', 'refused');
        const message = deps.mail.compose.newSignIn({
          when: new Date(now).toUTCString(),
          device: `${context.userAgent?.slice(0, 200) ?? 'an unknown device'} (refused as too risky)`,
          ip: context.ip ?? 'unknown',
        });
        deps.mail.send({ ...message, to: user.email, tag: 'sign-in-refused' });
        throw invalidCredentials();
      }
      // Failure counters are cleared only when every factor is proven; otherwise a known password could be
      // replayed between guesses at the second factor to dodge the lockout.
      return afterFirstFactor(user, context, attempt, assessment, 'pwd');
    },

    /**
     * Sign-in through an upstream identity provider: the provider proved the first factor; the account's
     * state, the risk engine and the MFA policy decide the rest exactly as they do after a correct password.
     * A disabled or locked account is told so (the person proved who they are upstream, so there is nothing to
     * hide from them), and the attempt is recorded as a failed sign-in.
     */
    async signInExternally(
      userId: string,
      context: RequestContext & { rememberedDevice?: string | undefined },
      via: { amr: string; provider: string },
    ): Promise<LoginResult | MfaPendingResult> {
      const user = await requireUser(userId);
      const now = clock.now();
      const attempt = { userId: user.id, email: user.email, ...context };
      const refuse = async (reason: string) => {
        if (deps.risk?.enabled) await deps.risk.failed(attempt, via.amr);
        deps.events.record({
          name: AccountEvents.loginFailed,
          severity: 'low',
          outcome: 'failure',
          targetUserId: user.id,
          ip: context.ip,
          userAgent: context.userAgent,
          requestId: context.requestId,
          details: { reason, provider: via.provider },
        });
        return new GatehouseError(AccountErrors.account_unavailable);
      };
      if (user.status !== 'active') throw await refuse(`status_${user.status}`);
      if (user.locked_until !== null && user.locked_until > now) throw await refuse('locked');
      if (deps.tripwire?.check('account', user.id, context) === true) throw await refuse('decoy');
      const assessment = deps.risk?.enabled ? await deps.risk.assess(attempt) : undefined;
      if (assessment?.action === 'deny') {
        await deps.risk!.decided(attempt, assessment, via.amr, 'refused');
        throw await refuse('risk');
      }
      return afterFirstFactor(user, context, attempt, assessment, via.amr);
    },

    /**
     * An account created by a first sign-in through an upstream provider: no password (the person may set one
     * later with a reset link), e-mail verified only when the provider vouched for it.
     */
    async createExternal(
      input: { email: string; name?: string | undefined; emailVerified: boolean; provider: string },
      context: RequestContext,
      link: (trx: Transaction<Tables>, user: UserView) => Promise<void>,
    ): Promise<UserView> {
      if (settings.signup !== 'open') throw new GatehouseError(AccountErrors.signup_closed);
      const row = await createUserRecord(
        { email: input.email, name: input.name, verified: input.emailVerified },
        (trx, created) => link(trx, toUserView(created)),
      );
      recordSignedUp(row, context, { via: 'federation', provider: input.provider });
      // The provider did not vouch for the address: the person confirms it as after a sign-up.
      if (!input.emailVerified) await sendVerification(row);
      return toUserView(row);
    },

    /** The account with this e-mail address, if any (federation's linking rules look it up). */
    async findByEmail(email: string): Promise<UserView | undefined> {
      const user = await findUserByEmail(database.db, normalizeEmail(email));
      return user ? toUserView(user) : undefined;
    },

    /** Whether the account has a password it can sign in with (unlinking a provider must leave a way in). */
    async hasPassword(userId: string): Promise<boolean> {
      return (await findPasswordHash(database.db, userId)) !== undefined;
    },

    /** The claims the OpenID provider puts in tokens; undefined for accounts that cannot sign in. */
    async oidcAccount(userId: string) {
      const user = await findUserById(database.db, userId);
      if (user?.status !== 'active') return undefined;
      return {
        id: user.id,
        email: user.email,
        emailVerified: user.email_verified_at !== null,
        name: user.display_name,
      };
    },

    /** Housekeeping: e-mail links past their expiry. */
    async deleteExpiredTokens(): Promise<number> {
      return deleteExpiredEmailTokens(database.db, clock.now());
    },

    /** What the MFA module calls back into: account state, failure counting, and finishing a sign-in. */
    signInHooks(): SignInHooks {
      return {
        async loadUser(userId) {
          const user = await findUserById(database.db, userId);
          return user ? toMfaUser(user) : undefined;
        },
        async recordFailure(userId, email, context) {
          const user = userId ? await findUserById(database.db, userId) : undefined;
          if (user) await countFailure(user, context);
          await deps.throttle.recordFailure(context.ip ?? 'unknown', email ?? '(none)');
        },
        throttledForSeconds: (ip, email) => deps.throttle.blockedForSeconds(ip, email),
        async completeSignIn(userId, context, authentication) {
          return completeSignIn(await requireUser(userId), context, authentication);
        },
      };
    },

    /** Proves the password again inside a session, for actions that need a recent sign-in. */
    async reauthenticate(
      userId: string,
      sessionId: string,
      password: string,
      context: RequestContext,
    ): Promise<Authentication & { authTime: number }> {
      const user = await requireUser(userId);
      const wait = await deps.throttle.blockedForSeconds(context.ip ?? 'unknown', user.email);
      if (wait > 0) {
        throw new GatehouseError('too_many_requests', 'Too many failed attempts; try again later', {
          headers: { 'retry-after': String(wait) },
        });
      }
      const stored = await findPasswordHash(database.db, userId);
      const { valid } = stored ? await deps.passwords.verify(stored, password) : { valid: false };
      if (!valid) {
        await countFailure(user, context);
        await deps.throttle.recordFailure(context.ip ?? 'unknown', user.email);
        throw new GatehouseError(AccountErrors.current_password_invalid);
      }
      const result = await deps.sessions.reauthenticated(sessionId, { amr: ['pwd'], acr: '1' });
      deps.events.record({
        name: AccountEvents.reauthenticated,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
        details: { sessionId },
      });
      return result;
    },

    async logout(userId: string, sessionId: string, context: RequestContext) {
      await deps.sessions.revokeOne(userId, sessionId, { ...context, actorUserId: userId });
      deps.events.record({
        name: AccountEvents.logout,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
    },

    async get(userId: string): Promise<UserView> {
      return toUserView(await requireUser(userId));
    },

    async updateProfile(
      userId: string,
      changes: { name?: string | null | undefined; metadata?: Record<string, unknown> | undefined },
      context: RequestContext & { actorUserId?: string | undefined },
    ): Promise<UserView> {
      const user = await requireUser(userId);
      const now = clock.now();
      const values: Partial<UserRow> = { updated_at: now };
      if (changes.name !== undefined) values.display_name = changes.name;
      if (changes.metadata !== undefined) values.metadata = JSON.stringify(changes.metadata);
      await updateUser(database.db, userId, values);
      deps.events.record({
        name: AccountEvents.updated,
        severity: 'low',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        requestId: context.requestId,
        details: { fields: Object.keys(changes) },
      });
      return toUserView({ ...user, ...values });
    },

    /** Needs the current password. Other sessions end; the caller's session is replaced by a new one. */
    async changePassword(
      userId: string,
      input: { currentPassword: string; newPassword: string },
      context: RequestContext & { sessionId: string },
    ) {
      const user = await requireUser(userId);
      const stored = await findPasswordHash(database.db, userId);
      const { valid } = stored
        ? await deps.passwords.verify(stored, input.currentPassword)
        : { valid: false };
      if (!valid) throw new GatehouseError(AccountErrors.current_password_invalid);
      deps.policy.assertAcceptable(input.newPassword, { email: user.email, name: user.display_name });
      const now = clock.now();
      await upsertPasswordHash(database.db, userId, await deps.passwords.hash(input.newPassword), now);
      await updateUser(database.db, userId, { password_reset_required: 0, updated_at: now });
      await deps.sessions.revokeAll(userId, { ...context, actorUserId: userId, reason: 'password_changed' });
      const session = await deps.sessions.create(userId, { ...context, amr: ['pwd'], acr: '1' });
      deps.events.record({
        name: AccountEvents.passwordChanged,
        severity: 'medium',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
      notifyPasswordChanged(user.email, now, context);
      return session;
    },

    async resendVerification(userId: string): Promise<void> {
      const user = await requireUser(userId);
      if (user.email_verified_at === null) await sendVerification(user);
    },

    async verifyEmail(token: string, context: RequestContext): Promise<UserView> {
      const used = await consumeEmailToken(database.db, hashEmailToken(token), 'verify_email', clock.now());
      const user = used?.user_id ? await findUserById(database.db, used.user_id) : undefined;
      // A token for an address the account no longer has proves nothing.
      if (!used || !user || user.email !== used.email) throw new GatehouseError(AccountErrors.invalid_token);
      const now = clock.now();
      await updateUser(database.db, user.id, { email_verified_at: now, updated_at: now });
      deps.events.record({
        name: AccountEvents.emailVerified,
        severity: 'low',
        outcome: 'success',
        targetUserId: user.id,
        ip: context.ip,
        requestId: context.requestId,
      });
      return toUserView({ ...user, email_verified_at: now, updated_at: now });
    },

    /** Always answers the same, whether or not the address has an account. */
    async requestPasswordReset(emailInput: string, context: RequestContext): Promise<void> {
      const email = normalizeEmail(emailInput);
      const user = await findUserByEmail(database.db, email);
      deps.events.record({
        name: AccountEvents.passwordResetRequested,
        severity: 'low',
        outcome: user ? 'success' : 'failure',
        targetUserId: user?.id,
        ip: context.ip,
        requestId: context.requestId,
      });
      if (!user || user.status === 'disabled') return;
      await sendResetLink(user.id, email);
    },

    /**
     * A password-reset link that resets nothing (a honeytoken): shaped like a real one, never stored as a live
     * token. Only the keyed hash of its token is returned besides the link, for the decoy registry.
     */
    decoyResetLink(): { url: string; tokenHash: string } {
      const token = randomToken(32);
      return { url: link('/auth/reset-password', token), tokenHash: hashEmailToken(token) };
    },

    /** Sets a new password from a reset link; every session of the account ends. */
    async resetPassword(input: { token: string; password: string }, context: RequestContext): Promise<void> {
      const tokenHash = hashEmailToken(input.token);
      deps.tripwire?.check('reset_link', tokenHash, context);
      const live = await findLiveEmailToken(database.db, tokenHash, 'reset_password', clock.now());
      const user = live?.user_id ? await findUserById(database.db, live.user_id) : undefined;
      if (!live || !user || user.email !== live.email) throw new GatehouseError(AccountErrors.invalid_token);
      // Check the policy before spending the token, so a rejected password does not burn the link.
      deps.policy.assertAcceptable(input.password, { email: user.email, name: user.display_name });
      const hash = await deps.passwords.hash(input.password);
      const now = clock.now();
      const consumed = await database.transaction(async (trx) => {
        const used = await consumeEmailToken(trx, tokenHash, 'reset_password', now);
        if (!used) return false;
        await upsertPasswordHash(trx, user.id, hash, now);
        // Proving control of the mailbox also verifies it, and lifts a temporary lock.
        await updateUser(trx, user.id, {
          password_reset_required: 0,
          failed_login_count: 0,
          locked_until: null,
          email_verified_at: user.email_verified_at ?? now,
          updated_at: now,
        });
        return true;
      });
      if (!consumed) throw new GatehouseError(AccountErrors.invalid_token);
      await deps.sessions.revokeAll(user.id, { ...context, reason: 'password_reset' });
      deps.events.record({
        name: AccountEvents.passwordReset,
        severity: 'medium',
        outcome: 'success',
        targetUserId: user.id,
        ip: context.ip,
        requestId: context.requestId,
      });
      notifyPasswordChanged(user.email, now, context);
    },

    /** Sends a confirmation link to the new address; nothing changes until it is used. Needs the password. */
    async requestEmailChange(
      userId: string,
      input: { newEmail: string; password: string },
      context: RequestContext,
    ): Promise<void> {
      await requireUser(userId);
      const stored = await findPasswordHash(database.db, userId);
      const { valid } = stored ? await deps.passwords.verify(stored, input.password) : { valid: false };
      if (!valid) throw new GatehouseError(AccountErrors.current_password_invalid);
      const newEmail = normalizeEmail(input.newEmail);
      if (await findUserByEmail(database.db, newEmail)) {
        throw new GatehouseError(AccountErrors.email_taken, 'That e-mail address is already in use');
      }
      const token = await issueEmailToken('change_email', {
        userId,
        email: newEmail,
        ttlSeconds: settings.changeEmailTtlSeconds,
      });
      const message = deps.mail.compose.emailChange({
        url: link('/auth/confirm-email-change', token),
        newEmail,
        expiresInMinutes: Math.round(settings.changeEmailTtlSeconds / 60),
      });
      deps.mail.send({ ...message, to: newEmail, tag: 'change-email' });
      deps.events.record({
        name: AccountEvents.emailChangeRequested,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
    },

    async confirmEmailChange(token: string, context: RequestContext): Promise<UserView> {
      const now = clock.now();
      const used = await consumeEmailToken(database.db, hashEmailToken(token), 'change_email', now);
      const user = used?.user_id ? await findUserById(database.db, used.user_id) : undefined;
      if (!used || !user) throw new GatehouseError(AccountErrors.invalid_token);
      if (await findUserByEmail(database.db, used.email)) {
        throw new GatehouseError(AccountErrors.email_taken, 'That e-mail address is already in use');
      }
      await updateUser(database.db, user.id, { email: used.email, email_verified_at: now, updated_at: now });
      await deps.sessions.invalidateUser(user.id);
      deps.events.record({
        name: AccountEvents.emailChanged,
        severity: 'medium',
        outcome: 'success',
        targetUserId: user.id,
        ip: context.ip,
        requestId: context.requestId,
      });
      const message = deps.mail.compose.emailChanged({ oldEmail: user.email, newEmail: used.email });
      deps.mail.send({ ...message, to: user.email, tag: 'email-changed' });
      return toUserView({ ...user, email: used.email, email_verified_at: now, updated_at: now });
    },

    /** Deletes the caller's own account after checking the password. */
    async deleteOwnAccount(userId: string, password: string, context: RequestContext): Promise<void> {
      const stored = await findPasswordHash(database.db, userId);
      const { valid } = stored ? await deps.passwords.verify(stored, password) : { valid: false };
      if (!valid) throw new GatehouseError(AccountErrors.current_password_invalid);
      await this.erase(userId, { ...context, actorUserId: userId });
    },

    /**
     * Erases the account and everything personal tied to it (sessions, credentials, tokens cascade).
     * Security events keep the user id only, so the record of what happened survives without personal data.
     */
    async erase(
      userId: string,
      context: RequestContext & { actorUserId?: string | undefined },
    ): Promise<void> {
      await requireUser(userId);
      await deps.sessions.revokeAll(userId, { ...context, reason: 'account_deleted' });
      await deleteUser(database.db, userId);
      await deps.events.recordDurably({
        name: AccountEvents.deleted,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
    },

    /** Everything Gatehouse stores about the user, for a GDPR access request. Secrets excluded. */
    async exportData(userId: string, context: RequestContext) {
      const user = await requireUser(userId);
      const sessions = await deps.sessions.list(userId);
      deps.events.record({
        name: AccountEvents.exported,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        requestId: context.requestId,
      });
      return {
        exportedAt: new Date(clock.now()).toISOString(),
        profile: toUserView(user),
        sessions,
        hasPassword: (await findPasswordHash(database.db, userId)) !== undefined,
      };
    },

    // ---- administration ----

    /** The id of the account with this e-mail address (any spelling of it), for tools that name users so. */
    async idForEmail(email: string): Promise<string> {
      const user = await findUserByEmail(database.db, normalizeEmail(email));
      if (!user) throw new GatehouseError(AccountErrors.user_not_found, `No account for ${email}`);
      return user.id;
    },

    async list(search: UserSearch) {
      const rows = await searchUsers(database.reader, { ...search, limit: search.limit + 1 });
      const page = rows.slice(0, search.limit);
      return {
        users: page.map(toUserView),
        nextCursor: rows.length > search.limit ? (page.at(-1)?.id ?? null) : null,
      };
    },

    async adminCreate(
      input: {
        email: string;
        password: string;
        name?: string | undefined;
        isAdmin?: boolean;
        verified?: boolean;
      },
      context: RequestContext & { actorUserId?: string },
    ): Promise<UserView> {
      const row = await createUserRecord(input);
      deps.events.record({
        name: AccountEvents.signedUp,
        severity: input.isAdmin ? 'medium' : 'low',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: row.id,
        ip: context.ip,
        requestId: context.requestId,
        details: { via: context.actorUserId ? 'admin' : 'cli', isAdmin: Boolean(input.isAdmin) },
      });
      return toUserView(row);
    },

    async adminUpdate(
      userId: string,
      changes: {
        name?: string | null | undefined;
        metadata?: Record<string, unknown> | undefined;
        isAdmin?: boolean | undefined;
        emailVerified?: boolean | undefined;
        mfaRequired?: boolean | undefined;
      },
      context: RequestContext & { actorUserId?: string | undefined },
    ): Promise<UserView> {
      const user = await requireUser(userId);
      const now = clock.now();
      const values: Partial<UserRow> = { updated_at: now };
      if (changes.name !== undefined) values.display_name = changes.name;
      if (changes.metadata !== undefined) values.metadata = JSON.stringify(changes.metadata);
      if (changes.isAdmin !== undefined) values.is_admin = changes.isAdmin ? 1 : 0;
      if (changes.emailVerified !== undefined) values.email_verified_at = changes.emailVerified ? now : null;
      if (changes.mfaRequired !== undefined) values.mfa_required = changes.mfaRequired ? 1 : 0;
      await updateUser(database.db, userId, values);
      if (changes.isAdmin !== undefined) await deps.sessions.invalidateUser(userId);
      await deps.events.recordDurably({
        name: AccountEvents.updated,
        severity: changes.isAdmin !== undefined || changes.mfaRequired !== undefined ? 'high' : 'low',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
        details: { fields: Object.keys(changes) },
      });
      return toUserView({ ...user, ...values });
    },

    async setStatus(
      userId: string,
      status: 'active' | 'disabled',
      context: RequestContext & { actorUserId?: string | undefined },
    ) {
      const user = await requireUser(userId);
      const now = clock.now();
      await updateUser(database.db, userId, { status, updated_at: now });
      if (status === 'disabled')
        await deps.sessions.revokeAll(userId, { ...context, reason: 'account_disabled' });
      await deps.events.recordDurably({
        name: status === 'disabled' ? AccountEvents.disabled : AccountEvents.enabled,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
      return toUserView({ ...user, status, updated_at: now });
    },

    /** Lifts a temporary or permanent lock and forgets past failures. */
    async unlock(userId: string, context: RequestContext & { actorUserId?: string | undefined }) {
      const user = await requireUser(userId);
      const now = clock.now();
      const values = {
        locked_until: null,
        failed_login_count: 0,
        lock_count: 0,
        status: user.status === 'locked' ? ('active' as const) : user.status,
        updated_at: now,
      };
      await updateUser(database.db, userId, values);
      await deps.events.recordDurably({
        name: AccountEvents.unlocked,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
      return toUserView({ ...user, ...values });
    },

    /** Ends every session and e-mails a reset link; until a new password is set, sign-in leads to the reset. */
    async forcePasswordReset(userId: string, context: RequestContext & { actorUserId?: string | undefined }) {
      const user = await requireUser(userId);
      const now = clock.now();
      await updateUser(database.db, userId, { password_reset_required: 1, updated_at: now });
      await deps.sessions.revokeAll(userId, { ...context, reason: 'password_reset_forced' });
      await sendResetLink(userId, user.email);
      await deps.events.recordDurably({
        name: AccountEvents.forcedPasswordReset,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        targetUserId: userId,
        ip: context.ip,
        requestId: context.requestId,
      });
      return toUserView({ ...user, password_reset_required: 1, updated_at: now });
    },

    async invite(
      email: string,
      context: RequestContext & { actorUserId?: string | undefined },
    ): Promise<{ expiresAt: string }> {
      const normalized = normalizeEmail(email);
      if (await findUserByEmail(database.db, normalized)) {
        throw new GatehouseError(
          AccountErrors.email_taken,
          'An account with that e-mail address already exists',
        );
      }
      const token = await issueEmailToken('invitation', {
        userId: null,
        email: normalized,
        ttlSeconds: settings.invitationTtlSeconds,
        createdBy: context.actorUserId,
      });
      const message = deps.mail.compose.invitation({
        url: link('/auth/accept-invitation', token),
        expiresInMinutes: Math.round(settings.invitationTtlSeconds / 60),
      });
      deps.mail.send({ ...message, to: normalized, tag: 'invitation' });
      deps.events.record({
        name: AccountEvents.invited,
        severity: 'low',
        outcome: 'success',
        actorUserId: context.actorUserId,
        ip: context.ip,
        requestId: context.requestId,
      });
      return { expiresAt: new Date(clock.now() + settings.invitationTtlSeconds * 1000).toISOString() };
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
