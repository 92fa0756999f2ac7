import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { Counter, Gauge, type Registry } from 'prom-client';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../logger.js';
import { OutboundErrors } from './errors.js';
import type { OutboundSettings } from './settings.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
};
const STATE_VALUES: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface Breaker {
  readonly name: string;
  readonly state: BreakerState;
  /** Runs `call` with the target's time limit, unless the circuit is open (then it fails at once). */
  execute<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/**
 * One circuit breaker (with a time limit) per outbound target: SMTP, SMS, each webhook or alert channel, later
 * each upstream identity provider. After `consecutiveFailures` failures in a row the circuit opens and calls
 * fail at once (`outbound_unavailable`) instead of piling up on a dead provider; after `halfOpenAfterMs` one
 * trial call goes through, and its outcome closes or reopens the circuit. Jobs that hit an open circuit are
 * retried later by the queue, so nothing is lost.
 *
 * cockatiel does the breaking and timing out (well kept, typed, no dependencies; its 3.x line runs on Node
 * 20). The state is per node: each node learns on its own that a provider is down.
 */
export function createBreakers(options: {
  settings: OutboundSettings;
  logger: Logger;
  registry?: Registry | undefined;
}) {
  const { settings, logger } = options;
  const registers = options.registry ? [options.registry] : [];
  const breakers = new Map<string, Breaker>();
  const stateGauge = new Gauge({
    name: 'gatehouse_circuit_state',
    help: 'Outbound circuit per target: 0 closed, 1 half-open, 2 open.',
    labelNames: ['target'],
    registers,
  });
  const rejected = new Counter({
    name: 'gatehouse_circuit_rejected_total',
    help: 'Outbound calls refused at once because the circuit was open.',
    labelNames: ['target'],
    registers,
  });
  const failures = new Counter({
    name: 'gatehouse_outbound_failures_total',
    help: 'Outbound calls that failed or timed out, by target.',
    labelNames: ['target'],
    registers,
  });

  function get(name: string, overrides: { timeoutMs?: number } = {}): Breaker {
    const existing = breakers.get(name);
    if (existing) return existing;
    const breaker = circuitBreaker(handleAll, {
      halfOpenAfter: settings.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(settings.consecutiveFailures),
    });
    const limit = timeout(overrides.timeoutMs ?? settings.timeoutMs, TimeoutStrategy.Aggressive);
    const policy = wrap(breaker, limit);
    stateGauge.set({ target: name }, 0);
    breaker.onStateChange((state) => {
      const named = STATE_NAMES[state];
      stateGauge.set({ target: name }, STATE_VALUES[named]);
      const log = { target: name, state: named };
      if (named === 'open')
        logger.warn(log, 'outbound circuit opened: calls fail at once until a trial succeeds');
      else
        logger.info(
          log,
          named === 'closed'
            ? 'outbound circuit closed again'
            : 'outbound circuit half-open: trying one call',
        );
    });
    const entry: Breaker = {
      name,
      get state() {
        return STATE_NAMES[breaker.state];
      },
      async execute(call) {
        try {
          return await policy.execute(({ signal }) => call(signal));
        } catch (error) {
          if (error instanceof BrokenCircuitError) {
            rejected.inc({ target: name });
            throw new GatehouseError(
              OutboundErrors.outbound_unavailable,
              `${name} is failing; calls are paused for a while`,
              {
                cause: error,
              },
            );
          }
          failures.inc({ target: name });
          if (error instanceof TaskCancelledError) {
            throw new GatehouseError(OutboundErrors.outbound_timeout, `${name} did not answer in time`, {
              cause: error,
            });
          }
          throw error;
        }
      },
    };
    breakers.set(name, entry);
    return entry;
  }

  return {
    get,
    /** Every target's state, for `/health` and the system API. */
    states(): Record<string, BreakerState> {
      return Object.fromEntries([...breakers.values()].map((breaker) => [breaker.name, breaker.state]));
    },
  };
}

export type Breakers = ReturnType<typeof createBreakers>;
