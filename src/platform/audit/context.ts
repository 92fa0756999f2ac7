import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditActor } from './types.js';

/** What the request being served says about who acts and from where; read when an event is recorded. */
export interface RequestFacts {
  readonly actor?: AuditActor | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

/**
 * The request an event is recorded in. Services only pass what they know (the user, the target); the actor
 * behind an API key or a client token, and the request's address, come from here, so no call site has to
 * thread them through.
 */
export const requestFacts = new AsyncLocalStorage<() => RequestFacts>();
