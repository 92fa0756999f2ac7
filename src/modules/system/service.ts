import type { Clock } from '../../platform/clock.js';
import { constantTimeEqual, deriveKey, keyedHash } from '../../platform/crypto/tokens.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import type { EventRecorder } from '../../platform/events.js';
import type { HealthRegistry } from '../../platform/health.js';
import { newId } from '../../platform/ids.js';
import { SystemEvents } from './events.js';
import { findSetting, insertSettingIfAbsent, saveSetting } from './queries.js';

export const INSTALLATION_ID_KEY = 'installation.id';
const CONFIG_FINGERPRINT_KEY = 'config.fingerprint';

export interface SystemServiceDependencies {
  readonly database: DatabaseHandle;
  readonly health: HealthRegistry;
  readonly clock: Clock;
  readonly version: string;
  readonly startedAt: number;
  readonly healthToken?: string | undefined;
  readonly metricsToken?: string | undefined;
  readonly events?: EventRecorder | undefined;
  readonly secretKey?: Buffer | undefined;
}

function bearer(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return match?.[1];
}

export function createSystemService(deps: SystemServiceDependencies) {
  const tokenMatches = (expected: string | undefined, authorization: string | undefined): boolean => {
    const presented = bearer(authorization);
    return expected !== undefined && presented !== undefined && constantTimeEqual(presented, expected);
  };

  return {
    /** Creates the installation id on first start; every node of a cluster agrees on the first one written. */
    async ensureInstallation(): Promise<string> {
      const existing = await findSetting(deps.database.db, INSTALLATION_ID_KEY);
      if (existing) return JSON.parse(existing) as string;
      const stored = await insertSettingIfAbsent(
        deps.database.db,
        INSTALLATION_ID_KEY,
        JSON.stringify(newId()),
        deps.clock.now(),
      );
      return JSON.parse(stored) as string;
    },

    /**
     * Records `config.changed` when this node starts with settings that differ from the last ones seen: which
     * sections changed, never their values. Sections are compared by keyed hashes, so secrets stay secret.
     */
    async recordConfiguration(config: Readonly<Record<string, unknown>>): Promise<string[]> {
      if (!deps.events || !deps.secretKey) return [];
      const key = deriveKey(deps.secretKey, 'config-fingerprint');
      const fingerprint: Record<string, string> = {};
      for (const [section, value] of Object.entries(config)) {
        if (section === 'sources') continue;
        fingerprint[section] = keyedHash(key, JSON.stringify(value) ?? 'undefined');
      }
      const stored = await findSetting(deps.database.db, CONFIG_FINGERPRINT_KEY);
      const previous = stored ? (JSON.parse(stored) as Record<string, string>) : undefined;
      const sections = Object.keys({ ...previous, ...fingerprint }).filter(
        (section) => previous?.[section] !== fingerprint[section],
      );
      if (sections.length === 0) return [];
      await saveSetting(
        deps.database.db,
        CONFIG_FINGERPRINT_KEY,
        JSON.stringify(fingerprint),
        deps.clock.now(),
      );
      deps.events.record({
        name: previous ? SystemEvents.configChanged : SystemEvents.configInitialized,
        severity: previous ? 'medium' : 'low',
        outcome: 'success',
        details: { sections: previous ? sections : [] },
      });
      return sections;
    },

    /** Operators see component details; until accounts exist that means presenting health.token. */
    isOperator(authorization: string | undefined): boolean {
      return tokenMatches(deps.healthToken, authorization);
    },

    /** Metrics are open unless metrics.token is set. */
    mayReadMetrics(authorization: string | undefined): boolean {
      return deps.metricsToken === undefined || tokenMatches(deps.metricsToken, authorization);
    },

    async readiness() {
      const report = await deps.health.report({ criticalOnly: true });
      const failed = Object.entries(report.components)
        .filter(([, component]) => component.status === 'down')
        .map(([name]) => name);
      return { status: report.status, shuttingDown: report.shuttingDown, failed };
    },

    async health(operator: boolean) {
      const report = await deps.health.report();
      const components = Object.fromEntries(
        Object.entries(report.components).map(([name, { error, details, ...component }]) => [
          name,
          operator
            ? { ...component, ...(error ? { error } : {}), ...(details ? { details } : {}) }
            : component,
        ]),
      );
      const base = {
        status: report.status,
        shuttingDown: report.shuttingDown,
        version: deps.version,
        components,
      };
      if (!operator) return base;
      const installation = await findSetting(deps.database.reader, INSTALLATION_ID_KEY).catch(
        () => undefined,
      );
      return {
        ...base,
        ...(installation ? { installationId: JSON.parse(installation) as string } : {}),
        uptimeSeconds: Math.round((deps.clock.now() - deps.startedAt) / 1000),
      };
    },
  };
}

export type SystemService = ReturnType<typeof createSystemService>;
