import type { Clock } from './clock.js';

export interface ComponentCheckResult {
  /** Operator-only facts about the component (pool sizes, versions); never secrets. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface HealthCheck {
  readonly name: string;
  /** A critical component failing makes the node not ready (it should get no traffic). */
  readonly critical: boolean;
  check(): Promise<ComponentCheckResult | undefined>;
}

export interface ComponentHealth {
  readonly status: 'up' | 'down';
  readonly critical: boolean;
  readonly latencyMs: number;
  readonly error?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface HealthReport {
  readonly status: 'up' | 'down';
  readonly shuttingDown: boolean;
  readonly components: Readonly<Record<string, ComponentHealth>>;
}

/** Components register their checks here; the system routes and the CLI read the results. */
export class HealthRegistry {
  readonly #checks = new Map<string, HealthCheck>();
  #shuttingDown = false;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {}

  register(check: HealthCheck): void {
    if (this.#checks.has(check.name)) throw new Error(`health check ${check.name} is already registered`);
    this.#checks.set(check.name, check);
  }

  /** From now on the node reports not ready, so load balancers stop sending it traffic. */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  async report(options: { criticalOnly?: boolean } = {}): Promise<HealthReport> {
    const checks = [...this.#checks.values()].filter((check) => !options.criticalOnly || check.critical);
    const entries = await Promise.all(
      checks.map(async (check) => [check.name, await this.#run(check)] as const),
    );
    const components = Object.fromEntries(entries);
    const failed = entries.some(([, result]) => result.status === 'down' && result.critical);
    return {
      status: failed || this.#shuttingDown ? 'down' : 'up',
      shuttingDown: this.#shuttingDown,
      components,
    };
  }

  async #run(check: HealthCheck): Promise<ComponentHealth> {
    const started = this.clock.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        timer.unref();
      });
      const result = await Promise.race([check.check(), timeout]);
      return {
        status: 'up',
        critical: check.critical,
        latencyMs: this.clock.now() - started,
        ...(result?.details ? { details: result.details } : {}),
      };
    } catch (error) {
      return {
        status: 'down',
        critical: check.critical,
        latencyMs: this.clock.now() - started,
        error: error instanceof Error ? error.message : String(error),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
