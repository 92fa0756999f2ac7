import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Platform } from './app.js';
import { createMailComposer, messages } from './modules/accounts/email-templates.js';
import { createAccountService, type OutgoingMail } from './modules/accounts/service.js';
import { createLoginThrottle } from './modules/accounts/throttle.js';
import { createAlertService, EVALUATE_JOB } from './modules/alerts/service.js';
import { AuditErrors } from './modules/audit/errors.js';
import { AuditEvents } from './modules/audit/events.js';
import { createForwarders, type Forwarding } from './modules/audit/forwarders.js';
import { createQueuedForwarding } from './modules/audit/queued-forwarding.js';
import { createAuditLog } from './modules/audit/service.js';
import { createApiKeyService } from './modules/authz/api-keys.js';
import { createAuthzService } from './modules/authz/service.js';
import { BackupEvents } from './modules/backup/events.js';
import { pruneScheduledBackups, scheduledBackupName } from './modules/backup/scheduled.js';
import { createBackup } from './modules/backup/service.js';
import { createFederationService } from './modules/federation/service.js';
import { createMfaService, type SignInHooks } from './modules/mfa/service.js';
import { createClientCache, deleteExpiredArtefacts } from './modules/oidc/adapter.js';
import { createClientService } from './modules/oidc/clients.js';
import { createConsentService } from './modules/oidc/consents.js';
import { createSigningKeys, OPTIONAL_ALGORITHMS, SIGNING_ALGORITHMS } from './modules/oidc/keys.js';
import { createResourceService } from './modules/oidc/resources.js';
import { createOrganizationService } from './modules/orgs/service.js';
import { createPasswordHasher } from './modules/passwords/hasher.js';
import { createPasswordPolicy } from './modules/passwords/policy.js';
import { createSamlService } from './modules/saml/service.js';
import { createBlockService } from './modules/security/blocks.js';
import { createDecoyService, createTripwire } from './modules/security/decoys.js';
import { createGeoLocator } from './modules/security/geo.js';
import { createRateLimiter } from './modules/security/rate-limit.js';
import { createRiskEngine } from './modules/security/risk.js';
import { createSessionService } from './modules/sessions/service.js';
import { createWebhookService } from './modules/webhooks/service.js';
import { auditKeysFrom } from './platform/audit/keys.js';
import type { AuditRecord } from './platform/audit/types.js';
import { createAuditWriter } from './platform/audit/writer.js';
import { createSealedBox, sealingKeysFrom } from './platform/crypto/sealed.js';
import { GatehouseError } from './platform/errors.js';
import { createAuditEventRecorder, type EventRecorder } from './platform/events.js';
import { createHousekeeping } from './platform/housekeeping.js';
import { createJobQueue } from './platform/jobs/queue.js';
import { createScheduler } from './platform/jobs/scheduler.js';
import { createMailer } from './platform/mailer/mailer.js';
import { createBreakers } from './platform/outbound/breakers.js';
import { createInProcessPubSub, createRedisPubSub, type PubSub } from './platform/pubsub.js';
import { createRedactor } from './platform/redaction.js';
import { createSmsSender, type SmsMessage } from './platform/sms/sms.js';

/** The services every entry point (HTTP app, CLI) builds from the platform, wired in one place. */
const BACKUP_JOB = 'backup.scheduled';

export async function createServices(platform: Platform) {
  const { config, logger, clock, database, redis, metrics } = platform;
  const pubsub: PubSub = redis
    ? createRedisPubSub(redis, logger, config.redis.connectTimeoutMs)
    : createInProcessPubSub();
  const sealingKeys = sealingKeysFrom(config.secrets.encryptionKeys, platform.secretKey);
  // Every call to another system goes through a breaker and a time limit (see platform/outbound).
  const breakers = createBreakers({ settings: config.outbound, logger, registry: metrics.registry });
  const audit = createAuditLog({
    database,
    clock,
    keys: auditKeysFrom(sealingKeys),
    logger,
    settings: config.audit,
    registry: metrics.registry,
    // The URL comes from the operators' own configuration, so it may be internal; it still goes through a breaker.
    async postCheckpoint(url, checkpoint) {
      await breakers.get('audit:checkpoints', { timeoutMs: 5_000 }).execute(async (signal) => {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(checkpoint),
          signal,
        });
        await response.body?.cancel().catch(() => {});
        if (!response.ok) throw new Error(`checkpoint webhook answered ${response.status}`);
      });
    },
  });
  const forwarders = createForwarders(config.audit.forwarding);
  // Set once the job queue exists (below), before anything is recorded.
  let forwarding: Forwarding | undefined;
  // Each committed batch of audit records goes to forwarding and to webhooks (registered once they exist).
  const committedListeners: ((records: readonly AuditRecord[]) => void)[] = [];
  if (forwarders.length > 0) committedListeners.push((records) => forwarding?.forward(records));
  const onCommitted = (records: readonly AuditRecord[]) => {
    for (const listener of committedListeners) listener(records);
  };
  const auditWriter = createAuditWriter({
    ...config.audit.writer,
    append: audit.append,
    onCommitted,
    logger,
    registry: metrics.registry,
  });
  const events: EventRecorder = createAuditEventRecorder({
    writer: auditWriter,
    logger,
    redactor: createRedactor(config.security.redaction),
    clock,
    registry: metrics.registry,
    appendWithin: audit.appendWithin,
    committed: onCommitted,
    unavailable: (cause) => new GatehouseError(AuditErrors.audit_unavailable, undefined, { cause }),
  });
  platform.health.register({
    name: 'audit',
    critical: true,
    async check() {
      const state = auditWriter.state();
      if (state.failing) {
        throw new Error(
          `the audit writer cannot commit (${state.lastError ?? 'unknown error'}); events are buffered`,
        );
      }
      return { details: { buffered: state.buffered, forwarding: forwarding?.state() ?? {} } };
    },
  });
  let checkpointTimer: NodeJS.Timeout | undefined;
  let checkpointing: Promise<unknown> | undefined;
  const checkpointNow = () =>
    (checkpointing ??= audit
      .checkpoint()
      .catch((error: unknown) => logger.error({ err: error }, 'audit checkpoint failed; retrying next time'))
      .finally(() => {
        checkpointing = undefined;
      }));
  const mailer = createMailer(config.mail, {
    logger,
    outboxDir: config.mail.outboxDir ?? join(config.dataDir, 'outbox'),
    registry: metrics.registry,
  });

  const sms = createSmsSender(config.sms, {
    logger,
    outboxDir: config.sms.outboxDir ?? join(config.dataDir, 'outbox'),
    registry: metrics.registry,
  });

  const sealedBox = createSealedBox(sealingKeys);
  const jobs = createJobQueue({
    database,
    clock,
    logger,
    settings: config.jobs,
    registry: metrics.registry,
    sealedBox,
  });
  // Audit forwarding: a job per forwarder and committed batch (see queued-forwarding.ts).
  forwarding =
    forwarders.length > 0
      ? createQueuedForwarding(forwarders, {
          jobs,
          breakers,
          readRange: (from, to) => audit.range(from, to),
          logger,
          registry: metrics.registry,
          maxAttempts: config.audit.forwarding.maxAttempts,
          retryBaseMs: config.audit.forwarding.retryBaseMs,
        })
      : undefined;
  // Mail and SMS go through the durable queue: a slow or failing provider never delays an answer (or lets its
  // timing tell whether an account exists), failures are retried, and nothing is lost on a restart. Even the
  // enqueue happens after the answer; shutdown waits for those still being written. The payloads carry links
  // and codes, so they are sealed at rest.
  // SMTP sets its own socket time limits; the breaker's is the backstop above them.
  const smtpBreaker = breakers.get('smtp', { timeoutMs: config.mail.smtp.connectionTimeoutMs * 4 });
  const smsBreaker = breakers.get('sms');
  jobs.define<OutgoingMail>(
    'mail.send',
    async (mail) => {
      await smtpBreaker.execute(() => mailer.send(mail));
    },
    { sensitive: true, maxAttempts: 10 },
  );
  jobs.define<SmsMessage>(
    'sms.send',
    async (text) => {
      await smsBreaker.execute(() => sms.send(text));
    },
    { sensitive: true, maxAttempts: 5 },
  );
  const webhooks = createWebhookService({
    database,
    clock,
    logger,
    jobs,
    breakers,
    sealedBox,
    events,
    pubsub,
    settings: { ...config.webhooks, allowPrivateNetworks: config.outbound.allowPrivateNetworks },
    registry: metrics.registry,
  });
  committedListeners.push((records) => void webhooks.dispatch(records));
  const alerts = createAlertService({
    database,
    clock,
    logger,
    jobs,
    breakers,
    sealedBox,
    events,
    countEvents: (filter) => audit.count(filter),
    sendMail: (mail) => smtpBreaker.execute(() => mailer.send(mail)),
    auditWriterFailing: () => auditWriter.state(),
    settings: {
      allowPrivateNetworks: config.outbound.allowPrivateNetworks,
      timeoutMs: config.outbound.timeoutMs,
    },
    productName: config.accounts.productName,
    publicUrl: config.server.publicUrl,
    registry: metrics.registry,
  });
  platform.health.register({
    name: 'outbound',
    critical: false,
    async check() {
      const states = breakers.states();
      const open = Object.entries(states).filter(([, state]) => state === 'open');
      if (open.length > 0) throw new Error(`circuit open for ${open.map(([name]) => name).join(', ')}`);
      return { details: states };
    },
  });
  platform.health.register({
    name: 'jobs',
    critical: false,
    async check() {
      const stats = await jobs.stats();
      const dead = Object.values(stats).reduce((sum, counts) => sum + counts.dead, 0);
      return { details: { worker: jobs.workerId, active: jobs.active, dead } };
    },
  });
  const pending = new Set<Promise<unknown>>();
  const inBackground = (sending: Promise<unknown>, failure: Record<string, unknown>, message: string) => {
    const tracked = sending
      .catch((error: unknown) => logger.error({ err: error, ...failure }, message))
      .finally(() => pending.delete(tracked));
    pending.add(tracked);
  };
  const sendInBackground = (mail: OutgoingMail) =>
    inBackground(
      jobs.enqueue('mail.send', mail, { priority: 10 }),
      { tag: mail.tag },
      'e-mail could not be queued',
    );
  const sendSmsInBackground = (text: SmsMessage) =>
    inBackground(
      jobs.enqueue('sms.send', text, { priority: 10 }),
      { tag: text.tag },
      'SMS could not be queued',
    );
  const composer = createMailComposer({ productName: config.accounts.productName });

  const passwords = createPasswordHasher(config.passwords, { registry: metrics.registry });
  const policy = createPasswordPolicy(config.passwords);
  const sessions = await createSessionService({
    database,
    clock,
    settings: config.sessions,
    secretKey: platform.secretKey,
    pubsub,
    events,
    logger,
  });
  // Accounts ask MFA what a correct password leads to, and MFA calls back into accounts to finish a sign-in.
  let signInHooks: SignInHooks | undefined;
  const mfa = createMfaService({
    database,
    clock,
    settings: config.mfa,
    publicUrl: config.server.publicUrl,
    productName: config.accounts.productName,
    secretKey: platform.secretKey,
    sealedBox,
    sessions,
    events,
    logger,
    registry: metrics.registry,
    mail: { send: sendInBackground, compose: composer },
    sms: { enabled: sms.enabled, send: sendSmsInBackground },
    smsText: (code, minutes) => messages.mfaCode.sms(config.accounts.productName, code, minutes),
    signIn: () => {
      if (!signInHooks) throw new Error('sign-in hooks used before the account service exists');
      return signInHooks;
    },
  });
  // Decoys are registered at the end; modules report uses to this from the start.
  const tripwire = createTripwire();
  const risk = createRiskEngine({
    database,
    clock,
    events,
    logger,
    settings: config.security.risk,
    secretKey: platform.secretKey,
    geo: createGeoLocator(config.security.risk.geoip),
    redis,
    registry: metrics.registry,
  });
  const accounts = createAccountService({
    database,
    clock,
    settings: config.accounts,
    publicUrl: config.server.publicUrl,
    secretKey: platform.secretKey,
    passwords,
    policy,
    sessions,
    throttle: createLoginThrottle(config.accounts.throttle, redis),
    events,
    logger,
    mail: { send: sendInBackground, compose: composer },
    secondFactor: mfa,
    risk,
    tripwire,
  });
  signInHooks = accounts.signInHooks();

  const clientCache = createClientCache(database);
  const unsubscribeClients = await pubsub.subscribe('oidc.clients.changed', (clientId) =>
    clientCache.forget(clientId),
  );
  const signingAlgorithms = [...SIGNING_ALGORITHMS, ...(config.oidc.enableEdDSA ? OPTIONAL_ALGORITHMS : [])];
  const clients = createClientService({
    signingAlgorithms,
    database,
    clock,
    secretKey: platform.secretKey,
    events,
    async changed(clientId) {
      clientCache.forget(clientId);
      await pubsub.publish('oidc.clients.changed', clientId).catch((error: unknown) => {
        // Other nodes drop their copy when it expires (30 s) instead.
        logger.warn({ err: error }, 'could not broadcast a client change');
      });
    },
  });
  const signingKeys = createSigningKeys({
    database,
    clock,
    sealedBox,
    events,
    algorithms: signingAlgorithms,
  });
  const resources = createResourceService({ database, clock, events });
  const consents = createConsentService({ database, clock, events });
  const authz = createAuthzService({ database, clock, events, pubsub, logger, settings: config.authz });
  const unsubscribeAuthz = await authz.listen();
  const apiKeys = createApiKeyService({ database, clock, secretKey: platform.secretKey, events, tripwire });
  const organizations = createOrganizationService({
    database,
    clock,
    events,
    authz,
    secretKey: platform.secretKey,
    publicUrl: config.server.publicUrl,
    invitationTtlSeconds: config.accounts.invitationTtlSeconds,
    mail: { send: sendInBackground, compose: composer },
  });

  const federation = createFederationService({
    database,
    clock,
    settings: config.federation,
    publicUrl: config.server.publicUrl,
    sealedBox,
    events,
    logger,
    registry: metrics.registry,
    accounts,
    hasPasskey: async (userId) =>
      (await mfa.listMethods(userId)).some(
        (method) => method.type === 'webauthn' && method.status === 'active',
      ),
    roles: {
      holds: async (userId, role) => (await authz.effectiveAccess(userId)).roles.includes(role),
      assign: (userId, role) => authz.assign({ type: 'user', id: userId }, role, {}),
      unassign: (userId, role) => authz.unassign({ type: 'user', id: userId }, role, {}, { ifHeld: true }),
    },
    breaker: (name) => breakers.get(name, { timeoutMs: config.federation.timeoutMs * 2 }),
  });

  const saml = createSamlService({
    database,
    clock,
    settings: config.saml,
    publicUrl: config.server.publicUrl,
    secretKey: platform.secretKey,
    sealedBox,
    events,
    logger,
    federation,
    accounts,
    organizationId: async (idOrSlug) => (await organizations.membership(idOrSlug, undefined))?.id,
    async joinOrganization(organizationId, userId) {
      if ((await organizations.membership(organizationId, userId))?.member) return;
      await organizations.addMember(organizationId, userId, {});
    },
    access: (userId) => authz.effectiveAccess(userId),
    endSessions: async (userId, reason) => (await sessions.revokeAll(userId, { reason })) ?? 0,
  });

  const security = {
    limiter: createRateLimiter({
      settings: platform.live.rateLimits,
      redis,
      registry: metrics.registry,
      logger,
      events,
    }),
    blocks: createBlockService({
      database,
      clock,
      events,
      pubsub,
      logger,
      settings: config.security,
      lists: platform.live.blockLists,
      redis,
      registry: metrics.registry,
    }),
  };

  const decoys = createDecoyService({
    database,
    clock,
    events,
    pubsub,
    logger,
    tripwire,
    blocks: security.blocks,
    accounts,
    authz,
    apiKeys,
    clients,
  });

  const housekeeping = createHousekeeping(
    [
      { name: 'sessions', run: () => sessions.deleteExpired() },
      { name: 'email_tokens', run: () => accounts.deleteExpiredTokens() },
      { name: 'mfa_challenges', run: () => mfa.deleteExpired() },
      { name: 'oidc_artefacts', run: () => deleteExpiredArtefacts(database, clock) },
      { name: 'sign_in_history', run: () => risk.deleteOld() },
      { name: 'federation_single_use', run: () => federation.deleteExpired() },
      { name: 'jobs', run: () => jobs.prune() },
      {
        name: 'audit_retention',
        async run() {
          const pruned = await audit.prune();
          const total = Object.values(pruned).reduce((sum, count) => sum + count, 0);
          if (total > 0) {
            events.record({
              name: AuditEvents.pruned,
              severity: 'medium',
              outcome: 'success',
              details: pruned,
            });
          }
          return total;
        },
      },
    ],
    { logger, registry: metrics.registry },
  );
  jobs.define(
    BACKUP_JOB,
    async () => {
      const directory = config.backup.directory ?? join(config.dataDir, 'backups');
      await mkdir(directory, { recursive: true, mode: 0o700 });
      const now = clock.now();
      const path = join(directory, scheduledBackupName(now));
      const manifest = await createBackup(
        database,
        { path, key: { masterKey: platform.secretKey }, now },
        { logger, metrics },
      );
      const removed = await pruneScheduledBackups(
        directory,
        now,
        config.backup.keepDaily,
        config.backup.keepWeekly,
      );
      events.record({
        name: BackupEvents.created,
        severity: 'low',
        outcome: 'success',
        details: { path, schema: manifest.schemaVersion, removed },
      });
    },
    { maxAttempts: 3, timeoutMs: 3_600_000 },
  );
  jobs.define(
    'housekeeping.run',
    async () => {
      await housekeeping.runOnce();
    },
    { maxAttempts: 3, timeoutMs: 300_000 },
  );
  const scheduler = createScheduler({
    database,
    clock,
    logger,
    queue: jobs,
    tickMs: config.jobs.schedulerTickMs,
    tasks: [
      {
        name: 'housekeeping',
        cron: config.jobs.schedules.housekeeping.cron,
        timezone: config.jobs.schedules.housekeeping.timezone ?? config.jobs.timezone,
        jobType: 'housekeeping.run',
      },
      {
        name: 'backup',
        cron: config.backup.schedule,
        timezone: config.jobs.timezone,
        jobType: BACKUP_JOB,
      },
      {
        name: 'alerts',
        cron: config.jobs.schedules.alerts.cron,
        timezone: config.jobs.schedules.alerts.timezone ?? config.jobs.timezone,
        jobType: EVALUATE_JOB,
      },
    ],
  });

  return {
    database,
    pubsub,
    events,
    audit,
    auditWriter,
    /** Starts the periodic signing of tree heads. */
    startCheckpoints() {
      const seconds = config.audit.checkpoints.intervalSeconds;
      if (seconds <= 0 || checkpointTimer) return;
      checkpointTimer = setInterval(checkpointNow, seconds * 1000);
      checkpointTimer.unref();
    },
    checkpointNow,
    mailer,
    passwords,
    sessions,
    accounts,
    mfa,
    sms,
    sealedBox,
    housekeeping,
    jobs,
    scheduler,
    breakers,
    webhooks,
    alerts,
    federation,
    saml,
    /** Starts this node's job worker and scheduler (when `jobs.enabled`). */
    startJobs() {
      if (!config.jobs.enabled) return;
      jobs.start();
      scheduler.start();
      alerts.startLocalChecks();
    },
    clients,
    clientCache,
    resources,
    consents,
    authz,
    apiKeys,
    organizations,
    signingKeys,
    security,
    risk,
    tripwire,
    decoys,
    async close() {
      alerts.stopLocalChecks();
      await webhooks.close();
      await scheduler.stop();
      await unsubscribeClients();
      await unsubscribeAuthz();
      await Promise.allSettled([...pending]);
      // Jobs queued while closing stay in the database for the next node or start.
      await jobs.stop();
      await sessions.close();
      // Events recorded while closing are in the buffer: written, signed, and forwarded before the end.
      if (checkpointTimer) clearInterval(checkpointTimer);
      await auditWriter.close(config.audit.writer.shutdownFlushMs);
      if (checkpointTimer) await checkpointNow();
      await forwarding?.close();
      await pubsub.close();
      mailer.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
