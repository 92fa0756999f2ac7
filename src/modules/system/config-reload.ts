import { hostname } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  canonicalJson,
  changedSettings,
  isReloadable,
  type Reloadable,
  type ReloadableSettings,
  reloadableSubset,
  withReloaded,
} from '../../config/live.js';
import { ConfigError } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { deriveKey, keyedHash } from '../../platform/crypto/tokens.js';
import { type FieldProblem, GatehouseError } from '../../platform/errors.js';
import type { EventRecorder, SecurityEvent } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { PubSub } from '../../platform/pubsub.js';
import { SystemAdminErrors } from './errors.js';
import { SystemEvents } from './events.js';

const RELOAD_CHANNEL = 'system.config.reload';

/** What asked for a reload: a SIGHUP to this process, the admin API on this node, or that API on another. */
export type ReloadTrigger = 'signal' | 'api' | 'broadcast';

export interface ReloadOutcome {
  readonly result: 'applied' | 'unchanged';
  /** This node's configuration revision: 1 at start, one more for each reload that applied something. */
  readonly revision: number;
  /** A keyed hash of the settings this node runs with: equal on nodes that run the same configuration. */
  readonly hash: string;
  /** Reloadable settings that changed, now in force. */
  readonly applied: readonly string[];
  /** Settings whose sources changed but that are read only at start: not applied until a restart. */
  readonly restartRequired: readonly string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Re-reads the configuration sources and applies what can change without a restart. */
    configReloader: ConfigReloader;
  }
}

/** `server.port: must be a port number` as a field problem; other lines (file errors) as `(sources)`. */
function fieldProblem(line: string): FieldProblem {
  const at = line.indexOf(': ');
  return at > 0 && /^[\w.[\]() -]+$/.test(line.slice(0, at))
    ? { path: line.slice(0, at), message: line.slice(at + 2) }
    : { path: '(sources)', message: line };
}

/**
 * Configuration reload without a restart. A reload reads the same sources as the start did (the config file
 * and the environment, through `load`), validates the whole configuration, and then either changes nothing
 * (invalid: the running configuration stays, the problems are reported) or applies the reloadable settings
 * (`RELOADABLE_SETTINGS`) to the live holder the modules read from, and reports the other changed settings as
 * needing a restart. Every reload is logged, recorded as an audit event and counted, on the node that does it.
 * Through the admin API, the node reloads and then asks every other node (pub/sub) to reload its own sources.
 */
export async function createConfigReloader(deps: {
  /** The configuration this node started with. */
  config: Config;
  /** Reads and validates the sources again; throws ConfigError. */
  load: () => Config;
  live: Reloadable<ReloadableSettings>;
  logger: Logger;
  events: EventRecorder;
  pubsub: PubSub;
  registry: Registry;
  secretKey: Buffer;
}) {
  const { logger, events } = deps;
  const node = `${hostname()}:${process.pid}`;
  const nodeId = newId();
  const hashKey = deriveKey(deps.secretKey, 'config-revision');
  const fingerprint = (config: Config) => {
    const { sources: _sources, ...settings } = config;
    return keyedHash(hashKey, canonicalJson(settings)).slice(0, 16);
  };

  let running = deps.config;
  let revision = 1;
  let hash = fingerprint(running);
  let restartRequired: readonly string[] = [];

  const reloads = new Counter({
    name: 'gatehouse_config_reloads_total',
    help: 'Configuration reloads by result (applied, unchanged, failed) and trigger (signal, api, broadcast).',
    labelNames: ['result', 'trigger'],
    registers: [deps.registry],
  });
  const revisionGauge = new Gauge({
    name: 'gatehouse_config_revision',
    help: "This node's configuration revision (1 at start, +1 per reload that applied something); the hash label is equal on nodes running the same settings.",
    labelNames: ['hash'],
    registers: [deps.registry],
  });
  revisionGauge.set({ hash }, revision);
  const pendingGauge = new Gauge({
    name: 'gatehouse_config_restart_pending',
    help: 'Settings whose sources changed but that apply only after a restart, as of the last reload.',
    registers: [deps.registry],
  });
  pendingGauge.set(0);

  async function reloadHere(
    trigger: ReloadTrigger,
    origin?: Record<string, unknown>,
  ): Promise<ReloadOutcome> {
    const context = { trigger, node, ...(origin ? { origin } : {}) };
    let next: Config;
    try {
      next = deps.load();
    } catch (error) {
      const problems =
        error instanceof ConfigError ? [...error.problems] : [String((error as Error)?.message ?? error)];
      reloads.inc({ result: 'failed', trigger });
      logger.error(
        { ...context, problems },
        'configuration reload failed: the running configuration is kept unchanged',
      );
      events.record({
        name: SystemEvents.configReloadFailed,
        // The file that failed here would also stop the next start.
        severity: 'high',
        outcome: 'failure',
        details: { ...context, problems },
      });
      throw new GatehouseError(
        SystemAdminErrors.config_reload_invalid,
        `The configuration sources are not valid, so nothing was changed (this node keeps running with revision ${revision}): ${problems.join('; ')}`,
        { errors: problems.map(fieldProblem), cause: error },
      );
    }

    const changed = changedSettings(running, next);
    const applied = changed.filter(isReloadable);
    const pending = changed.filter((path) => !isReloadable(path));
    const after = applied.length > 0 ? withReloaded(running, next) : running;
    const outcome: ReloadOutcome = {
      result: applied.length > 0 ? 'applied' : 'unchanged',
      revision: applied.length > 0 ? revision + 1 : revision,
      hash: applied.length > 0 ? fingerprint(after) : hash,
      applied,
      restartRequired: pending,
    };
    const event: SecurityEvent = {
      name: SystemEvents.configReloaded,
      severity: applied.length > 0 || pending.length > 0 ? 'medium' : 'low',
      outcome: 'success',
      // Setting names only, never values.
      details: { ...context, ...outcome },
    };
    // An operator's change is on record before it takes effect; signals and broadcasts queue theirs.
    if (trigger === 'api') await events.recordDurably(event);
    else events.record(event);

    if (applied.length > 0) {
      running = after;
      revision = outcome.revision;
      hash = outcome.hash;
      deps.live.set(reloadableSubset(running));
      revisionGauge.reset();
      revisionGauge.set({ hash }, revision);
    }
    restartRequired = pending;
    pendingGauge.set(pending.length);
    reloads.inc({ result: outcome.result, trigger });
    logger.info(
      { ...context, ...outcome },
      applied.length > 0 ? 'configuration reloaded' : 'configuration reloaded: nothing to apply',
    );
    if (pending.length > 0) {
      logger.warn(
        { restartRequired: pending },
        'changed settings that apply only after a restart were not applied',
      );
    }
    return outcome;
  }

  // One reload at a time on a node: a signal during an API call waits for it.
  let queue: Promise<unknown> = Promise.resolve();
  const reload = (trigger: ReloadTrigger, origin?: Record<string, unknown>): Promise<ReloadOutcome> => {
    const run = queue.then(() => reloadHere(trigger, origin));
    queue = run.catch(() => {});
    return run;
  };

  const unsubscribe = await deps.pubsub.subscribe(RELOAD_CHANNEL, (message) => {
    let origin: { nodeId?: unknown; node?: unknown; requestId?: unknown };
    try {
      origin = JSON.parse(message) as typeof origin;
    } catch {
      return;
    }
    if (origin.nodeId === nodeId) return;
    // Failures are logged, recorded and counted by the reload itself.
    reload('broadcast', { node: origin.node, requestId: origin.requestId }).catch(() => {});
  });

  return {
    /** The settings this node runs with now: those of the start, with the reloadable ones reloaded. */
    current: (): Config => running,

    state: () => ({ revision, hash, restartRequired }),

    /** Reloads this node only (SIGHUP). Throws GatehouseError `config_reload_invalid` when invalid. */
    reload: (trigger: Exclude<ReloadTrigger, 'broadcast'> = 'signal') => reload(trigger),

    /**
     * Reloads this node, then asks the others to reload their own sources (when this node's configuration
     * was valid). `propagated` says whether the others were reached (only through Redis).
     */
    async reloadEverywhere(requestId?: string): Promise<ReloadOutcome & { propagated: boolean }> {
      const outcome = await reload('api');
      let propagated = false;
      if (deps.pubsub.kind === 'redis') {
        try {
          await deps.pubsub.publish(RELOAD_CHANNEL, JSON.stringify({ nodeId, node, requestId }));
          propagated = true;
        } catch (error) {
          logger.warn({ err: error }, 'could not ask the other nodes to reload their configuration');
        }
      }
      return { ...outcome, propagated };
    },

    close: unsubscribe,
  };
}

export type ConfigReloader = Awaited<ReturnType<typeof createConfigReloader>>;
