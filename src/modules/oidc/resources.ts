import type { Clock } from '../../platform/clock.js';
import type { DatabaseHandle } from '../../platform/db/connection.js';
import { GatehouseError } from '../../platform/errors.js';
import type { EventRecorder } from '../../platform/events.js';
import { newId } from '../../platform/ids.js';
import type { RequestContext } from '../sessions/service.js';
import { OidcErrors } from './errors.js';
import { OidcEvents } from './events.js';
import {
  deleteResource,
  findResourceByIdentifier,
  insertResource,
  listResources,
  type ResourceRow,
} from './queries.js';

export interface ResourceView {
  readonly id: string;
  readonly identifier: string;
  readonly name: string;
  readonly scopes: string[];
  readonly accessTokenTtlSeconds: number | null;
  readonly createdAt: string;
}

const toView = (row: ResourceRow): ResourceView => ({
  id: row.id,
  identifier: row.identifier,
  name: row.name,
  scopes: JSON.parse(row.scopes) as string[],
  accessTokenTtlSeconds: row.access_token_ttl_seconds,
  createdAt: new Date(row.created_at).toISOString(),
});

/** APIs registered with their audience and scopes; their access tokens are JWTs (RFC 9068). */
export function createResourceService(deps: {
  database: DatabaseHandle;
  clock: Clock;
  events: EventRecorder;
}) {
  const { database } = deps;
  return {
    async create(
      input: {
        identifier: string;
        name: string;
        scopes: readonly string[];
        accessTokenTtlSeconds?: number | undefined;
      },
      context: RequestContext & { actorUserId?: string | undefined },
    ): Promise<ResourceView> {
      if (await findResourceByIdentifier(database.db, input.identifier)) {
        throw new GatehouseError('conflict', 'A resource with that identifier exists');
      }
      const row: ResourceRow = {
        id: newId(),
        identifier: input.identifier,
        name: input.name,
        scopes: JSON.stringify([...input.scopes]),
        access_token_ttl_seconds: input.accessTokenTtlSeconds ?? null,
        created_at: deps.clock.now(),
      };
      await insertResource(database.db, row);
      deps.events.record({
        name: OidcEvents.resourceCreated,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        requestId: context.requestId,
        details: { identifier: input.identifier, scopes: input.scopes },
      });
      return toView(row);
    },
    async list(): Promise<ResourceView[]> {
      return (await listResources(database.db)).map(toView);
    },
    async byIdentifier(identifier: string): Promise<ResourceView | undefined> {
      const row = await findResourceByIdentifier(database.db, identifier);
      return row ? toView(row) : undefined;
    },
    async remove(id: string, context: RequestContext & { actorUserId?: string | undefined }): Promise<void> {
      if ((await deleteResource(database.db, id)) === 0)
        throw new GatehouseError(OidcErrors.resource_not_found);
      deps.events.record({
        name: OidcEvents.resourceDeleted,
        severity: 'medium',
        outcome: 'success',
        actorUserId: context.actorUserId,
        requestId: context.requestId,
        details: { resourceId: id },
      });
    },
  };
}

export type ResourceService = ReturnType<typeof createResourceService>;
