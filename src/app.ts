import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { DestinationStream } from 'pino';
import { Gauge } from 'prom-client';
import { createLiveSettings, type LiveSettings } from './config/live.js';
import { maskSecrets } from './config/load.js';
import type { Config } from './config/schema.js';
import { adminUserRoutes } from './modules/accounts/admin-routes.js';
import { registerAccountPages } from './modules/accounts/pages.js';
import { accountRoutes } from './modules/accounts/routes.js';
import { registerSignInPages } from './modules/accounts/sign-in-pages.js';
import { alertRoutes } from './modules/alerts/routes.js';
import { AuditErrors } from './modules/audit/errors.js';
import { auditRoutes } from './modules/audit/routes.js';
import { authzRoutes, registerPermissionGuard } from './modules/authz/routes.js';
import { registerConsole } from './modules/console/routes.js';
import { registerFederationPages } from './modules/federation/pages.js';
import { federationRoutes } from './modules/federation/routes.js';
import { mfaRoutes } from './modules/mfa/routes.js';
import { createApiTokenVerifier } from './modules/oidc/api-tokens.js';
import { registerInteractions } from './modules/oidc/interactions.js';
import { createOidcProvider } from './modules/oidc/provider.js';
import { clientAdminRoutes, connectedAppRoutes, mountOidcProvider } from './modules/oidc/routes.js';
import { registerOrganizationPages } from './modules/orgs/pages.js';
import { organizationRoutes } from './modules/orgs/routes.js';
import { registerSamlPages } from './modules/saml/pages.js';
import { samlRoutes } from './modules/saml/routes.js';
import { registerSessionContinuity } from './modules/security/continuity.js';
import { registerSecurityLayer } from './modules/security/plugin.js';
import { securityRoutes } from './modules/security/routes.js';
import { hostCookie, registerSessionAuth, sessionCookieFor } from './modules/sessions/plugin.js';
import { createSystemAdmin } from './modules/system/admin.js';
import { systemAdminRoutes } from './modules/system/admin-routes.js';
import { createConfigReloader } from './modules/system/config-reload.js';
import { jobRoutes } from './modules/system/jobs-routes.js';
import { systemRoutes } from './modules/system/routes.js';
import { createSystemService } from './modules/system/service.js';
import { webhookRoutes } from './modules/webhooks/routes.js';
import { requestFacts } from './platform/audit/context.js';
import { type Clock, systemClock } from './platform/clock.js';
import { loadSecretKey } from './platform/crypto/secret-key.js';
import { createDatabase, type DatabaseHandle } from './platform/db/connection.js';
import { assertNotNewerThanCode, migrateToLatest, migrationStatus } from './platform/db/migrate.js';
import { GatehouseError } from './platform/errors.js';
import { HealthRegistry } from './platform/health.js';
import { registerAssets } from './platform/http/assets.js';
import { registerHardening } from './platform/http/hardening.js';
import { installProblemHandling } from './platform/http/problem.js';
import { REQUEST_ID_HEADER, requestIdFor } from './platform/http/request-id.js';
import { createLogger, type Logger, lazyChildLogger } from './platform/logger.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { createRedis, type RedisHandle } from './platform/redis.js';
import { createTracing, registerTracing, type Tracing } from './platform/tracing.js';
import { VERSION } from './platform/version.js';
import { createServices, type Services } from './services.js';

/** The shared infrastructure, created once per app and handed to every module's factory. */
export interface Platform {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly secretKey: Buffer;
  readonly database: DatabaseHandle;
  readonly redis: RedisHandle | undefined;
  readonly health: HealthRegistry;
  /** The settings a reload may change (src/config/live.ts): read them here on each use, not from `config`. */
  readonly live: LiveSettings;
}

declare module 'fastify' {
  interface FastifyInstance {
    gatehouse: Platform;
    /** The feature services (set once the routes are registered); for the CLI, tests and operations. */
    services: Services;
    /** Registers cleanup that must run before the database and Redis close. */
    onShutdown(closer: () => Promise<void>): void;
  }
}

export interface BuildAppOptions {
  /** Where log lines go (tests capture them); stdout by default. */
  readonly logDestination?: DestinationStream;
  readonly clock?: Clock;
  /**
   * Reads the configuration sources again (loadConfig with the same environment), for reloads (SIGHUP, the
   * admin API). Without it a reload finds the configuration the app was built with, so nothing changes.
   */
  readonly reloadConfig?: () => Config;
}

export type GatehouseApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

function registerPlatformHealth(platform: Platform): void {
  const { database, redis, health } = platform;
  health.register({
    name: 'database',
    critical: true,
    async check() {
      await database.ping();
      return { details: { dialect: database.dialect, driver: database.driver, pool: database.poolStats() } };
    },
  });
  health.register({
    name: 'migrations',
    critical: true,
    async check() {
      const status = await migrationStatus(database.db);
      if (status.unknown.length > 0)
        throw new Error(`database is newer than this code: ${status.unknown.join(', ')}`);
      if (status.pending.length > 0)
        throw new Error(`${status.pending.length} pending: ${status.pending.join(', ')}`);
      return { details: { applied: status.applied.length, latest: status.applied.at(-1) } };
    },
  });
  if (redis) {
    health.register({
      name: 'redis',
      critical: true,
      async check() {
        await redis.ping();
        return { details: { mode: redis.mode, status: redis.status() } };
      },
    });
  }
}

function registerPlatformMetrics(platform: Platform): void {
  const { database, metrics, redis } = platform;
  if (redis) {
    new Gauge({
      name: 'gatehouse_redis_up',
      help: 'Whether the Redis connection is ready (1) or not (0).',
      registers: [metrics.registry],
      collect() {
        this.set(redis.status() === 'ready' ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'gatehouse_db_pool_connections',
    help: 'Database pool connections by state (PostgreSQL).',
    labelNames: ['pool', 'state'],
    registers: [metrics.registry],
    collect() {
      const stats = database.poolStats();
      if (!stats) return;
      for (const [pool, values] of Object.entries(stats)) {
        for (const [state, value] of Object.entries(values)) this.set({ pool, state }, value);
      }
    },
  });
}

/** Connects to the database (and Redis), applies or checks migrations. Closes what it opened on failure. */
export async function createPlatform(config: Config, options: BuildAppOptions = {}): Promise<Platform> {
  const logger = createLogger(
    { ...config.log, redaction: config.security.redaction },
    options.logDestination,
  );
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const { key: secretKey } = loadSecretKey(config, logger);
  const database = createDatabase(config.database, { logger, metrics });
  let redis: RedisHandle | undefined;
  try {
    const status = await migrationStatus(database.db);
    assertNotNewerThanCode(status);
    if (config.database.migrateOnStart) {
      await migrateToLatest(database.db, logger);
    } else if (status.pending.length > 0) {
      logger.warn(
        { pending: status.pending },
        'migrations are pending and database.migrateOnStart is off: run `gatehouse migrate`',
      );
    }
    redis = createRedis(config.redis, logger);
    await redis?.firstConnection();
  } catch (error) {
    await redis?.close();
    await database.close();
    throw error;
  }
  const health = new HealthRegistry(clock, config.health.checkTimeoutMs);
  const live = createLiveSettings(config, (error) =>
    logger.error({ err: error }, 'a module could not take a reloaded setting'),
  );
  live.logLevel.onChange((level) => {
    logger.level = level;
  });
  const platform: Platform = { config, logger, metrics, clock, secretKey, database, redis, health, live };
  registerPlatformHealth(platform);
  registerPlatformMetrics(platform);
  return platform;
}

/** Builds the Fastify app from plugins. Business logic lives in the modules, not here. */
export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<GatehouseApp> {
  const platform = await createPlatform(config, options);
  // Set before the first request when tracing.enabled is on (platform/tracing.ts).
  let tracing: Tracing | undefined;
  const app = Fastify({
    loggerInstance: platform.logger as FastifyBaseLogger,
    genReqId: requestIdFor,
    // With tracing on, the request's span starts here so that every line it logs carries trace_id and span_id.
    childLoggerFactory: (logger, bindings, childOptions, rawRequest) =>
      lazyChildLogger(
        logger as Logger,
        tracing ? { ...bindings, ...tracing.startRequest(rawRequest) } : bindings,
        childOptions,
      ) as FastifyBaseLogger,
    // Probes run every few seconds; logging each would drown the lines that matter.
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      disableRequestLogging: (request) => request.routeOptions.config?.probe === true,
    }),
    bodyLimit: config.server.bodyLimitBytes,
    // Fastify accepts a hop count at run time although its types do not say so.
    trustProxy: config.server.trustProxy as boolean | string,
    requestTimeout: config.server.requestTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('gatehouse', platform);
  // A getter: pages read the branding on each request, so a reload reaches them.
  app.decorate('branding', { getter: () => platform.live.branding.get() });
  // Closers run last-registered first, so services stop before the connections they use.
  const closers: (() => Promise<void>)[] = [
    async () => {
      await platform.redis?.close();
      await platform.database.close();
    },
  ];
  app.decorate('onShutdown', (closer: () => Promise<void>) => {
    closers.push(closer);
  });
  app.addHook('onClose', async () => {
    for (const closer of closers.reverse()) await closer();
  });

  try {
    tracing = await createTracing(config.tracing, platform.logger);
    if (tracing) registerTracing(app, tracing);
    await registerPlugins(app, config, platform, options);
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

async function registerPlugins(
  app: GatehouseApp,
  config: Config,
  platform: Platform,
  options: BuildAppOptions,
): Promise<void> {
  installProblemHandling(app, { productName: config.accounts.productName });
  // Events recorded while serving a request name its caller and address without each call passing them.
  app.addHook('onRequest', (request, _reply, done) => {
    requestFacts.run(
      () => ({
        actor: request.apiKey
          ? { type: 'api_key', id: request.apiKey.keyId }
          : request.apiClient
            ? { type: 'client', id: request.apiClient }
            : request.session
              ? { type: 'user', id: request.session.userId }
              : undefined,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        requestId: request.id,
      }),
      done,
    );
  });
  // Hooks on every request are plain callbacks, not async functions: each promise costs more once
  // oidc-provider's AsyncLocalStorage tracks them all.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    platform.metrics.httpRequestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
  await registerHardening(app, config);

  const services = await createServices(platform);
  app.onShutdown(() => services.close());
  app.decorate('services', services);
  services.startJobs();
  services.startCheckpoints();
  // Backpressure: while the audit buffer is full, new work waits (503) rather than act without a record.
  app.addHook('onRequest', (request, _reply, done) => {
    if (services.auditWriter.saturated() && request.routeOptions.config?.probe !== true) {
      done(
        new GatehouseError(AuditErrors.audit_backpressure, undefined, { headers: { 'retry-after': '1' } }),
      );
      return;
    }
    done();
  });
  // Blocks and rate limits come before everything else a request does (sessions, routes, the engine).
  const stopBlocks = await services.security.blocks.start().catch((error: unknown) => {
    platform.logger.error({ err: error }, 'security blocks could not be loaded; retrying every minute');
    return async () => {};
  });
  app.onShutdown(stopBlocks);
  const stopDecoys = await services.decoys.start().catch((error: unknown) => {
    platform.logger.error({ err: error }, 'decoys could not be loaded; retrying every minute');
    return async () => {};
  });
  app.onShutdown(stopDecoys);
  platform.health.register({
    name: 'rate_limits',
    critical: false,
    async check() {
      const state = services.security.limiter.state();
      if (state.degraded) {
        throw new Error('Redis is unavailable: rate limits are enforced per node until it returns');
      }
      return { details: state };
    },
  });
  registerSecurityLayer(app, {
    honeypotPaths: platform.live.honeypotPaths,
    blocks: services.security.blocks,
    limiter: services.security.limiter,
    events: services.events,
    sessionCookieName: sessionCookieFor(config.server.publicUrl).name,
    tripwire: services.tripwire,
  });

  if (config.docs.enabled) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Gatehouse API', version: VERSION, description: 'Identity and security platform.' },
        servers: [{ url: config.server.publicUrl }],
        tags: [
          { name: 'auth', description: 'Sign-up, sign-in and e-mail links' },
          {
            name: 'me',
            description: 'The signed-in user: profile, password, e-mail, sessions, export, deletion',
          },
          { name: 'mfa', description: 'The signed-in user’s second factors and remembered devices' },
          { name: 'admin', description: 'User administration (administrators only)' },
          { name: 'system', description: 'Health, readiness and metrics' },
          {
            name: 'audit',
            description: 'The tamper-evident audit log: search, export, proofs, verification',
          },
        ],
      },
    });
    const https = config.server.publicUrl.startsWith('https://');
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      // Swagger UI sets its own policy; keep it from being framed, and only upgrade requests behind https.
      transformStaticCSP: (header) =>
        header
          .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
          .replace(/upgrade-insecure-requests;?/, https ? 'upgrade-insecure-requests;' : ''),
      uiConfig: { deepLinking: true },
    });
    app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  const cookie = await registerSessionAuth(app, {
    sessions: services.sessions,
    events: services.events,
    publicUrl: config.server.publicUrl,
    trustedOrigins: config.http.corsOrigins.filter((origin) => origin !== '*'),
  });
  registerSessionContinuity(app, {
    settings: config.security.risk,
    events: services.events,
    // The security.session.moved event carries the reason; session.revoked follows it.
    endSession: (session) => services.sessions.revokeOne(session.userId, session.id, {}),
  });
  const pendingCookie = hostCookie(config.server.publicUrl, 'gh_mfa');
  const deviceCookie = hostCookie(config.server.publicUrl, 'gh_device');
  await app.register(accountRoutes, {
    accounts: services.accounts,
    sessions: services.sessions,
    cookie,
    pendingCookie,
    deviceCookie,
    rememberedDevices: (userId, current) => services.mfa.rememberedDevices(userId, current),
    exportSecondFactors: async (userId) => ({
      mfaMethods: await services.mfa.listMethods(userId),
      rememberedDevices: await services.mfa.rememberedDevices(userId),
    }),
  });
  await app.register(mfaRoutes, {
    mfa: services.mfa,
    sessions: services.sessions,
    cookie,
    pendingCookie,
    deviceCookie,
  });
  registerPermissionGuard(
    app,
    services.authz,
    createApiTokenVerifier({
      issuer: config.server.publicUrl,
      publicJwks: () => services.signingKeys.publicJwks(),
    }),
    services.apiKeys,
  );
  await app.register(authzRoutes, { authz: services.authz, apiKeys: services.apiKeys });
  await app.register(organizationRoutes, { organizations: services.organizations });
  await app.register(auditRoutes, {
    audit: services.audit,
    events: services.events,
    clock: platform.clock,
    checkpointNow: services.checkpointNow,
  });
  await app.register(securityRoutes, {
    blocks: services.security.blocks,
    risk: services.risk,
    decoys: services.decoys,
  });
  registerOrganizationPages(app, services.organizations, config.accounts.productName);
  await app.register(adminUserRoutes, {
    accounts: services.accounts,
    sessions: services.sessions,
    async setAdministrator(userId, isAdmin, context) {
      if (isAdmin) await services.authz.assign({ type: 'user', id: userId }, 'admin', context);
      else await services.authz.unassign({ type: 'user', id: userId }, 'admin', context, { ifHeld: true });
    },
  });
  await app.register(clientAdminRoutes, { clients: services.clients, resources: services.resources });
  await app.register(connectedAppRoutes, { consents: services.consents });

  // The OpenID provider signs with keys from the database; a rotation on any node rebuilds it everywhere.
  const buildProvider = async () => {
    await services.signingKeys.ensure();
    return createOidcProvider({
      issuer: config.server.publicUrl,
      database: platform.database,
      clock: platform.clock,
      secretKey: platform.secretKey,
      jwks: await services.signingKeys.privateJwks(),
      clients: services.clients,
      clientCache: services.clientCache,
      redis: platform.redis?.client,
      refreshTokenReuseGraceSeconds: config.oidc.refreshTokenReuseGraceSeconds,
      resources: services.resources,
      logger: platform.logger,
      events: services.events,
      trustProxy: config.server.trustProxy !== false,
      findAccount: (id) => services.accounts.oidcAccount(id),
      async authzFacts(accountId, organizationId) {
        const access = organizationId
          ? await services.authz.organizationAccess(accountId, organizationId)
          : await services.authz.effectiveAccess(accountId);
        return {
          roles: access.roles,
          groups: access.groups,
          permissions: [...access.permissions.keys()].sort(),
        };
      },
      organization: (idOrSlug, accountId) => services.organizations.membership(idOrSlug, accountId),
      async assessRefresh({ accountId, ip, userAgent }) {
        const account = await services.accounts.oidcAccount(accountId);
        if (!account) return 'deny';
        return services.risk.refresh({ userId: accountId, email: account.email, ip, userAgent });
      },
      productName: config.accounts.productName,
      branding: () => platform.live.branding.get(),
      allowPrivateNetworkCalls: config.oidc.allowPrivateNetworkCalls,
      enableEdDSA: config.oidc.enableEdDSA,
      async onLogout(cookieHeader) {
        const token = cookieHeader
          ?.split(';')
          .map((part) => part.trim())
          .find((part) => part.startsWith(`${cookie.name}=`))
          ?.slice(cookie.name.length + 1);
        const session = token ? await services.sessions.authenticate(token) : undefined;
        if (session) await services.accounts.logout(session.userId, session.id, {});
      },
      ttl: {
        accessTokenSeconds: config.oidc.accessTokenTtlSeconds,
        idTokenSeconds: config.oidc.idTokenTtlSeconds,
        refreshTokenSeconds: config.oidc.refreshTokenTtlSeconds,
      },
    });
  };
  let provider: Awaited<ReturnType<typeof buildProvider>> | undefined;
  try {
    provider = await buildProvider();
  } catch (error) {
    // Only while migrations are pending (database.migrateOnStart off): the first OAuth request retries.
    platform.logger.warn({ err: error }, 'OpenID provider not started yet');
  }
  // A key rotation (gatehouse keys rotate) reaches every node at once through pub/sub when Redis is set;
  // without Redis, each node notices within a minute by comparing key ids.
  let loadedKids = provider ? await services.signingKeys.kids() : '';
  const reloadKeys = async () => {
    const kids = await services.signingKeys.kids();
    if (kids === loadedKids) return;
    provider = await buildProvider();
    loadedKids = kids;
    platform.logger.info({ kids }, 'signing keys reloaded');
  };
  const reloadQuietly = () => {
    reloadKeys().catch((error: unknown) =>
      platform.logger.error({ err: error }, 'could not reload the signing keys'),
    );
  };
  const unsubscribeKeys = await services.pubsub.subscribe('oidc.keys.changed', reloadQuietly);
  const keyCheck = setInterval(reloadQuietly, 60_000);
  keyCheck.unref();
  app.onShutdown(async () => {
    clearInterval(keyCheck);
    await unsubscribeKeys();
  });
  const currentProvider = async () => {
    if (!provider) {
      try {
        provider = await buildProvider();
      } catch (error) {
        throw new GatehouseError('service_unavailable', 'The OpenID provider is not ready', { cause: error });
      }
    }
    return provider;
  };
  await mountOidcProvider(app, currentProvider);
  const freshCookie = hostCookie(config.server.publicUrl, 'gh_federation_fresh');
  registerInteractions(app, {
    provider: currentProvider,
    accounts: services.accounts,
    mfa: services.mfa,
    productName: config.accounts.productName,
    cookie,
    pendingCookie,
    isFirstParty: (clientId) =>
      services.clients.get(clientId).then(
        (client) => client.firstParty,
        () => false,
      ),
    isOrganizationMember: async (idOrSlug, accountId) =>
      (await services.organizations.membership(idOrSlug, accountId))?.member === true,
    now: () => platform.clock.now(),
    csrfToken: (sessionId) => services.sessions.csrfToken(sessionId),
    signInProviders: () => services.federation.signInOptions(),
    signedInForThis: (request) =>
      services.federation.freshSignIn.check(
        request.cookies[freshCookie.name],
        request.session?.id,
        request.url.split('?')[0]!,
      ),
  });
  registerAccountPages(app, services.accounts, config.accounts.productName);
  registerSignInPages(app, {
    accounts: services.accounts,
    mfa: services.mfa,
    cookie,
    pendingCookie,
    deviceCookie,
    productName: config.accounts.productName,
    signInProviders: () => services.federation.signInOptions(),
  });
  const flowCookie = hostCookie(config.server.publicUrl, 'gh_federation');
  const responders = registerFederationPages(app, {
    federation: services.federation,
    accounts: services.accounts,
    cookie,
    pendingCookie,
    deviceCookie,
    flowCookie,
    linkCookie: hostCookie(config.server.publicUrl, 'gh_federation_link'),
    freshCookie,
    productName: config.accounts.productName,
  });
  await app.register(federationRoutes, { federation: services.federation, flowCookie });
  registerSamlPages(app, {
    saml: services.saml,
    responders,
    deviceCookie,
    requestCookie: hostCookie(config.server.publicUrl, 'gh_saml_request'),
  });
  await app.register(samlRoutes, { saml: services.saml });
  registerAssets(app);
  registerConsole(app, config.accounts.productName);

  const system = createSystemService({
    database: platform.database,
    health: platform.health,
    clock: platform.clock,
    version: VERSION,
    startedAt: platform.clock.now(),
    healthToken: config.health.token,
    metricsToken: config.metrics.token,
    events: services.events,
    secretKey: platform.secretKey,
  });
  await system.recordConfiguration(config).catch((error: unknown) => {
    platform.logger.warn({ err: error }, 'could not compare the configuration with the last one recorded');
  });
  await system.ensureInstallation().catch((error: unknown) => {
    // Only possible while migrations are pending (database.migrateOnStart off); readiness reports that.
    platform.logger.warn({ err: error }, 'installation id not created yet');
  });
  const systemAdmin = await createSystemAdmin({
    database: platform.database,
    redis: platform.redis,
    pubsub: services.pubsub,
    clock: platform.clock,
    logger: platform.logger,
    events: services.events,
    version: VERSION,
    startedAt: platform.clock.now(),
    recentAuthSeconds: config.mfa.recentAuthSeconds,
    clearLocalCaches: () => {
      const sessions = services.sessions.clearCache();
      services.authz.clearCache();
      services.clientCache.forget();
      return { sessions };
    },
  });
  app.onShutdown(() => systemAdmin.close());
  // SIGHUP (server.ts) and POST /api/v1/admin/system/config/reload: see src/config/live.ts for what reloads.
  const reloader = await createConfigReloader({
    config,
    load: options.reloadConfig ?? (() => config),
    live: platform.live.all,
    logger: platform.logger,
    events: services.events,
    pubsub: services.pubsub,
    registry: platform.metrics.registry,
    secretKey: platform.secretKey,
  });
  app.onShutdown(() => reloader.close());
  app.decorate('configReloader', reloader);
  await app.register(systemAdminRoutes, { admin: systemAdmin, reloader });
  await app.register(webhookRoutes, { webhooks: services.webhooks });
  await app.register(alertRoutes, { alerts: services.alerts });
  await app.register(jobRoutes, {
    jobs: services.jobs,
    scheduler: services.scheduler,
    settings: config.jobs,
    events: services.events,
  });
  await app.register(systemRoutes, {
    service: system,
    metricsRegistry: config.metrics.enabled ? platform.metrics.registry : undefined,
    effectiveSettings: () => maskSecrets(reloader.current()),
  });
}
