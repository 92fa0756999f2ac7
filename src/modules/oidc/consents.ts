import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import type { RequestContext } from '../sessions/service.js';
import { OidcErrors } from './errors.js';
import { OidcEvents } from './events.js';
import { destroyGrants, findClient, listAccountGrants, type OidcModelRow } from './queries.js';

export interface ConnectedApp {
  readonly clientId: string;
  readonly name: string;
  /** OpenID scopes the user allowed (openid, email, profile, offline_access). */
  readonly scopes: string[];
  /** APIs the app may call on the user's behalf, with the scopes allowed for each. */
  readonly apis: { identifier: string; scopes: string[] }[];
  readonly grantedAt: string;
}

/** What oidc-provider keeps in a Grant. */
interface GrantPayload {
  clientId: string;
  iat?: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

const words = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean);

/**
 * The apps a user has allowed (oidc-provider grants) and withdrawing that consent: the grant goes, with every
 * code and token issued under it, so the app must ask again (and the user sees the consent page again).
 */
export function createConsentService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
}) {
  const { database, clock } = deps;

  const grantsOf = async (userId: string, clientId?: string) =>
    (await listAccountGrants(database.db, userId, clock.now()))
      .map((row) => ({ row, payload: JSON.parse(row.payload) as GrantPayload }))
      .filter(({ payload }) => clientId === undefined || payload.clientId === clientId);

  return {
    async list(userId: string): Promise<ConnectedApp[]> {
      const byClient = new Map<string, { row: OidcModelRow; payload: GrantPayload }[]>();
      for (const grant of await grantsOf(userId)) {
        byClient.set(grant.payload.clientId, [...(byClient.get(grant.payload.clientId) ?? []), grant]);
      }
      const apps: ConnectedApp[] = [];
      for (const [clientId, grants] of byClient) {
        const client = await findClient(database.db, clientId);
        const apis = new Map<string, Set<string>>();
        for (const { payload } of grants) {
          for (const [identifier, scope] of Object.entries(payload.resources ?? {})) {
            apis.set(identifier, new Set([...(apis.get(identifier) ?? []), ...words(scope)]));
          }
        }
        apps.push({
          clientId,
          name: client?.name ?? clientId,
          scopes: [...new Set(grants.flatMap(({ payload }) => words(payload.openid?.scope)))].sort(),
          apis: [...apis].map(([identifier, scopes]) => ({ identifier, scopes: [...scopes].sort() })),
          grantedAt: new Date(
            Math.min(...grants.map(({ payload }) => (payload.iat ?? 0) * 1000)),
          ).toISOString(),
        });
      }
      return apps.sort((a, b) => a.name.localeCompare(b.name));
    },

    async revoke(userId: string, clientId: string, context: RequestContext): Promise<number> {
      const grants = await grantsOf(userId, clientId);
      if (grants.length === 0) throw new GatehouseError(OidcErrors.consent_not_found);
      await database.transaction((trx) =>
        destroyGrants(
          trx,
          grants.map(({ row }) => row.id),
        ),
      );
      deps.events.record({
        name: OidcEvents.consentRevoked,
        severity: 'low',
        outcome: 'success',
        actorUserId: userId,
        targetUserId: userId,
        ip: context.ip,
        userAgent: context.userAgent,
        requestId: context.requestId,
        details: { clientId, grants: grants.length },
      });
      return grants.length;
    },
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;
