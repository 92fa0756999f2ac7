import { isDeepStrictEqual } from 'node:util';
import type { Config } from './schema.js';

/**
 * The settings a running node can take from its sources again without a restart (`SIGHUP`, or
 * `POST /api/v1/admin/system/config/reload`), as setting paths: the path and everything below it. Each is
 * read by its module on every use, through a `Live` view. Everything else is read once at start and needs a
 * restart; a reload reports those changes and leaves them alone.
 *
 * Why these: each is consulted per request or per page and holds no state that a change would invalidate
 * (rate-limit budgets of a changed class restart on nodes without Redis). Settings that shape connections,
 * keys, URLs, cookies, the schema of stored data, registered routes, schedules or the OpenID provider are not.
 */
export const RELOADABLE_SETTINGS = [
  'log.level',
  'security.rateLimits',
  'security.allowList',
  'security.denyList',
  'security.userAgentDenyList',
  'security.honeypotPaths',
  'accounts.branding',
] as const;

/** The reloadable subset of the configuration. */
export interface ReloadableSettings {
  readonly log: Pick<Config['log'], 'level'>;
  readonly security: Pick<
    Config['security'],
    'rateLimits' | 'allowList' | 'denyList' | 'userAgentDenyList' | 'honeypotPaths'
  >;
  readonly accounts: Pick<Config['accounts'], 'branding'>;
}

/** A value that may change while the process runs: read it with `get()` on each use, never keep a copy. */
export interface Live<T> {
  get(): T;
  /** Calls `listener` after each change (values compared deeply); returns a function that stops it. */
  onChange(listener: (next: T, previous: T) => void): () => void;
}

/** The holder a reload writes to; modules get `Live` views of it. */
export interface Reloadable<T> extends Live<T> {
  set(next: T): void;
}

export function reloadable<T>(initial: T, onListenerError?: (error: unknown) => void): Reloadable<T> {
  let current = initial;
  const listeners = new Set<(next: T, previous: T) => void>();
  return {
    get: () => current,
    set(next) {
      const previous = current;
      if (isDeepStrictEqual(previous, next)) return;
      current = next;
      // A listener that fails must not keep the others from seeing the change.
      for (const listener of listeners) {
        try {
          listener(next, previous);
        } catch (error) {
          onListenerError?.(error);
        }
      }
    },
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/** A view of part of a live value; its listeners hear only changes to that part. */
export function select<T, U>(source: Live<T>, pick: (value: T) => U): Live<U> {
  return {
    get: () => pick(source.get()),
    onChange(listener) {
      return source.onChange((next, previous) => {
        const [after, before] = [pick(next), pick(previous)];
        if (!isDeepStrictEqual(after, before)) listener(after, before);
      });
    },
  };
}

/** A value that never changes (tools, tests). */
export function fixed<T>(value: T): Live<T> {
  return { get: () => value, onChange: () => () => {} };
}

export function reloadableSubset(config: Config): ReloadableSettings {
  const { rateLimits, allowList, denyList, userAgentDenyList, honeypotPaths } = config.security;
  return {
    log: { level: config.log.level },
    security: { rateLimits, allowList, denyList, userAgentDenyList, honeypotPaths },
    accounts: { branding: config.accounts.branding },
  };
}

/** What each module reads: narrow views of one holder that a reload replaces at once. */
export interface LiveSettings {
  readonly all: Reloadable<ReloadableSettings>;
  readonly logLevel: Live<Config['log']['level']>;
  readonly rateLimits: Live<Config['security']['rateLimits']>;
  readonly blockLists: Live<Pick<Config['security'], 'allowList' | 'denyList' | 'userAgentDenyList'>>;
  readonly honeypotPaths: Live<readonly string[]>;
  readonly branding: Live<Config['accounts']['branding']>;
}

export function createLiveSettings(config: Config, onListenerError?: (error: unknown) => void): LiveSettings {
  const all = reloadable(reloadableSubset(config), onListenerError);
  return {
    all,
    logLevel: select(all, (settings) => settings.log.level),
    rateLimits: select(all, (settings) => settings.security.rateLimits),
    blockLists: select(all, ({ security }) => ({
      allowList: security.allowList,
      denyList: security.denyList,
      userAgentDenyList: security.userAgentDenyList,
    })),
    honeypotPaths: select(all, (settings) => settings.security.honeypotPaths),
    branding: select(all, (settings) => settings.accounts.branding),
  };
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The setting paths whose values differ (lists compare whole); `sources` is not a setting. */
export function changedSettings(before: unknown, after: unknown, prefix = ''): string[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys
      .filter((key) => prefix !== '' || key !== 'sources')
      .flatMap((key) => changedSettings(before[key], after[key], prefix ? `${prefix}.${key}` : key));
  }
  return isDeepStrictEqual(before, after) ? [] : [prefix || '(root)'];
}

export function isReloadable(path: string): boolean {
  return RELOADABLE_SETTINGS.some((setting) => path === setting || path.startsWith(`${setting}.`));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** `running` with its reloadable settings taken from `next`: what a node runs with after a reload. */
export function withReloaded(running: Config, next: Config): Config {
  const subset = reloadableSubset(next);
  return deepFreeze({
    ...running,
    log: { ...running.log, ...subset.log },
    security: { ...running.security, ...subset.security },
    accounts: { ...running.accounts, ...subset.accounts },
  });
}

/** JSON with object keys sorted, so equal settings give equal text whatever order their sources had. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
