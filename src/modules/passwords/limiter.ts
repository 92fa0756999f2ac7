import { GatehouseError } from '../../platform/errors.js';

/**
 * At most `maxConcurrent` jobs run at once and at most `maxQueued` wait. Past that, a job is refused at
 * once with 503: under a flood, a fast "try again" keeps the server responsive, where an unbounded queue
 * would make every sign-in wait behind thousands of hashes.
 */
export class BoundedConcurrency {
  #running = 0;
  #rejected = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
    private readonly retryAfterSeconds: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get rejected(): number {
    return this.#rejected;
  }

  /** Whether a job started now would be refused; lets callers fail before doing any other work. */
  get full(): boolean {
    return this.#running >= this.maxConcurrent && this.#waiting.length >= this.maxQueued;
  }

  /** Refuses at once when full, counting the refusal. */
  assertCapacity(): void {
    if (!this.full) return;
    this.#rejected++;
    throw new GatehouseError('overloaded', 'Too many sign-ins at once; try again shortly', {
      headers: { 'retry-after': String(this.retryAfterSeconds) },
    });
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.maxConcurrent) {
      this.assertCapacity();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await job();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so `running` never dips below the true count.
      if (next) next();
      else this.#running--;
    }
  }
}
