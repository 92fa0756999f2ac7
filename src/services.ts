import { join } from 'node:path';
import type { Platform } from './app.js';
import { createMailComposer } from './modules/accounts/email-templates.js';
import { createAccountService, type OutgoingMail } from './modules/accounts/service.js';
import { createLoginThrottle } from './modules/accounts/throttle.js';
import { createPasswordHasher } from './modules/passwords/hasher.js';
import { createPasswordPolicy } from './modules/passwords/policy.js';
import { createSessionService } from './modules/sessions/service.js';
import { createLogEventRecorder, type EventRecorder } from './platform/events.js';
import { createMailer } from './platform/mailer/mailer.js';
import { createInProcessPubSub, createRedisPubSub, type PubSub } from './platform/pubsub.js';

/** The services every entry point (HTTP app, CLI) builds from the platform, wired in one place. */
export async function createServices(platform: Platform) {
  const { config, logger, clock, database, redis, metrics } = platform;
  const pubsub: PubSub = redis
    ? createRedisPubSub(redis, logger, config.redis.connectTimeoutMs)
    : createInProcessPubSub();
  const events: EventRecorder = createLogEventRecorder(logger);
  const mailer = createMailer(config.mail, {
    logger,
    outboxDir: config.mail.outboxDir ?? join(config.dataDir, 'outbox'),
    registry: metrics.registry,
  });

  // Mail leaves in the background so a slow mail server never delays an answer (or its timing tells
  // whether an account exists). Shutdown waits for what is still being sent.
  const pending = new Set<Promise<unknown>>();
  const sendInBackground = (message: OutgoingMail) => {
    const sending = mailer
      .send(message)
      .catch((error: unknown) => logger.error({ err: error, tag: message.tag }, 'e-mail could not be sent'))
      .finally(() => pending.delete(sending));
    pending.add(sending);
  };

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
    mail: {
      send: sendInBackground,
      compose: createMailComposer({ productName: config.accounts.productName }),
    },
  });

  return {
    pubsub,
    events,
    mailer,
    passwords,
    sessions,
    accounts,
    async close() {
      await Promise.allSettled([...pending]);
      await sessions.close();
      await pubsub.close();
      mailer.close();
    },
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
