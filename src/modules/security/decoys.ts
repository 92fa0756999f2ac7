import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { Logger } from '../../platform/logger.js';
import type { PubSub } from '../../platform/pubsub.js';
import type { AccountService } from '../accounts/service.js';
import type { ApiKeyService } from '../authz/api-keys.js';
import type { AuthzService } from '../authz/service.js';
import type { ClientService } from '../oidc/clients.js';
import type { RequestContext } from '../sessions/service.js';
import type { BlockService } from './blocks.js';
import { SecurityErrors } from './errors.js';
import { type DecoyRow, deleteDecoy, insertDecoy, listDecoys } from './queries.js';

export type DecoyKind = DecoyRow['kind'];
const CHANGED_CHANNEL = 'security.decoys.changed';

/**
 * Where modules report the use of an object that might be a decoy (an account signed in to, an API key or a
 * client presented, a reset link followed). Synchronous and in memory: the request goes on exactly as it
 * would for a real object, so neither the answer nor its timing gives the decoy away.
 */
export interface Tripwire {
  check(kind: DecoyKind, ref: string, context: RequestContext): boolean;
}

export function createTripwire() {
  let decoys = new Map<string, DecoyRow>();
  let onTrip: ((decoy: DecoyRow, context: RequestContext) => void) | undefined;
  return {
    check(kind: DecoyKind, ref: string, context: RequestContext): boolean {
      const decoy = decoys.get(`${kind}:${ref}`);
      if (decoy) onTrip?.(decoy, context);
      return decoy !== undefined;
    },
    load(rows: readonly DecoyRow[]) {
      decoys = new Map(rows.map((row) => [`${row.kind}:${row.ref}`, row]));
    },
    whenTripped(handler: (decoy: DecoyRow, context: RequestContext) => void) {
      onTrip = handler;
    },
  };
}

export type TripwireHandle = ReturnType<typeof createTripwire>;

export interface DecoyView {
  readonly id: string;
  readonly kind: DecoyKind;
  readonly label: string;
  /** The decoy object's id (user, API key, client); absent for reset links, kept only as a hash. */
  readonly objectId: string | null;
  readonly createdAt: string;
}

const toView = (row: DecoyRow): DecoyView => ({
  id: row.id,
  kind: row.kind,
  label: row.label,
  objectId: row.kind === 'reset_link' ? null : row.ref,
  createdAt: new Date(row.created_at).toISOString(),
});

type Actor = RequestContext & { actorUserId?: string | undefined };

/**
 * Honeytokens: administrators plant decoy accounts, API keys, OAuth clients and password-reset links where an
 * intruder would find them (a config file, a wiki page, a mailbox). Each is a real object of its kind, made by
 * the same code as any other, so nothing in the API's answers or timing sets it apart; real users have no
 * reason to touch one. Any use raises a critical `security.honeytoken.used` event with the request's context
 * and, with `security.honeypotBlocks`, blocks the source.
 */
export function createDecoyService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
  pubsub: PubSub;
  logger: Logger;
  tripwire: TripwireHandle;
  blocks: BlockService;
  accounts: AccountService;
  authz: AuthzService;
  apiKeys: ApiKeyService;
  clients: ClientService;
}) {
  const { database, clock } = deps;
  const reload = async () => deps.tripwire.load(await listDecoys(database.db));
  /** This node at once, the others through pub/sub (or their minute's reload if it fails). */
  const changed = async () => {
    await reload();
    await deps.pubsub.publish(CHANGED_CHANNEL, '1').catch((error: unknown) => {
      deps.logger.warn(
        { err: error },
        'could not broadcast a decoy change; other nodes reload within a minute',
      );
    });
  };

  deps.tripwire.whenTripped((decoy, context) => {
    deps.blocks
      .honeytokenUsed(
        context,
        { decoy: decoy.kind, decoyId: decoy.id, label: decoy.label },
        `decoy ${decoy.kind} ${decoy.label}`,
      )
      .catch((error: unknown) => deps.logger.error({ err: error }, 'could not block a honeytoken user'));
  });

  async function register(kind: DecoyKind, ref: string, label: string, context: Actor): Promise<DecoyRow> {
    const row: DecoyRow = {
      id: newId(),
      kind,
      ref,
      label,
      created_by: context.actorUserId ?? null,
      created_at: clock.now(),
    };
    await insertDecoy(database.db, row);
    await changed();
    return row;
  }

  return {
    async start(): Promise<() => Promise<void>> {
      await reload();
      const unsubscribe = await deps.pubsub.subscribe(CHANGED_CHANNEL, () => {
        reload().catch((error: unknown) => deps.logger.error({ err: error }, 'could not load decoys'));
      });
      const timer = setInterval(() => void reload().catch(() => {}), 60_000);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await unsubscribe();
      };
    },

    async list(): Promise<DecoyView[]> {
      return (await listDecoys(database.db)).map(toView);
    },

    /**
     * Plants a decoy. What an intruder would use comes back once: the account's e-mail and password, the API
     * key, the client id and secret, or the reset link.
     */
    async create(
      input: { kind: DecoyKind; label: string; email?: string | undefined },
      context: Actor,
    ): Promise<{ decoy: DecoyView; credentials: Record<string, string> }> {
      switch (input.kind) {
        case 'account': {
          if (!input.email)
            throw new GatehouseError(SecurityErrors.decoy_invalid, 'an account decoy needs an email');
          const password = randomBytes(18).toString('base64url');
          const user = await deps.accounts.adminCreate(
            { email: input.email, password, verified: true },
            context,
          );
          const row = await register('account', user.id, input.label, context);
          return { decoy: toView(row), credentials: { email: user.email, password } };
        }
        case 'api_key': {
          // A service account named like a real one, with no roles: the key opens nothing.
          const account = await deps.authz.createServiceAccount(
            { name: input.label, description: 'deployment automation' },
            context,
          );
          const issued = await deps.apiKeys.create(
            { type: 'service_account', id: account.id },
            { name: input.label },
            context,
          );
          const row = await register('api_key', issued.key.id, input.label, context);
          return { decoy: toView(row), credentials: { apiKey: issued.token } };
        }
        case 'client': {
          const made = await deps.clients.create(
            { name: input.label, grants: ['client_credentials'] },
            context,
          );
          // Disabled: presented, it fails like any unknown or wrong client, and only the alarm tells.
          await deps.clients.setEnabled(made.client.id, false, context);
          const row = await register('client', made.client.id, input.label, context);
          return {
            decoy: toView(row),
            credentials: { clientId: made.client.id, clientSecret: made.secret ?? '' },
          };
        }
        case 'reset_link': {
          const link = deps.accounts.decoyResetLink();
          const row = await register('reset_link', link.tokenHash, input.label, context);
          return { decoy: toView(row), credentials: { url: link.url } };
        }
      }
    },

    /** Stops watching a decoy (its object stays; remove it through its own API). */
    async remove(id: string): Promise<void> {
      if ((await deleteDecoy(database.db, id)) === 0)
        throw new GatehouseError(SecurityErrors.decoy_not_found);
      await changed();
    },
  };
}

export type DecoyService = ReturnType<typeof createDecoyService>;
