import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../platform/http/problem.js';
import { requires } from '../authz/routes.js';
import type { SystemAdmin } from './admin.js';
import type { ConfigReloader } from './config-reload.js';

const Overview = Type.Object({
  version: Type.String(),
  node: Type.Object({ hostname: Type.String(), pid: Type.Integer(), nodeVersion: Type.String() }),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSeconds: Type.Integer(),
  database: Type.String(),
  redis: Type.String(),
  migrations: Type.Object({
    applied: Type.Integer(),
    latest: Type.Union([Type.String(), Type.Null()]),
    pending: Type.Array(Type.String()),
    unknown: Type.Array(Type.String()),
  }),
});
const PoolStats = Type.Object({ total: Type.Integer(), idle: Type.Integer(), waiting: Type.Integer() });
const DatabaseReport = Type.Object({
  dialect: Type.String(),
  driver: Type.String(),
  latencyMs: Type.Number({ description: 'One round trip to the primary (and replica)' }),
  sizeBytes: Type.Integer(),
  pool: Type.Union([Type.Object({ primary: PoolStats, replica: Type.Optional(PoolStats) }), Type.Null()]),
  tables: Type.Record(Type.String(), Type.Integer(), { description: 'Rows per table' }),
});
const CacheReport = Type.Object({
  configured: Type.Boolean(),
  mode: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
  latencyMs: Type.Optional(Type.Number()),
  version: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  usedMemoryBytes: Type.Optional(Type.Integer()),
  connectedClients: Type.Optional(Type.Integer()),
  keys: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  error: Type.Optional(Type.String()),
});
const Cleared = Type.Object({ cleared: Type.Record(Type.String(), Type.Integer()) });
const Reloaded = Type.Object({
  result: Type.Union([Type.Literal('applied'), Type.Literal('unchanged')]),
  revision: Type.Integer({
    description: "This node's configuration revision: 1 at start, one more per reload that applied something",
  }),
  hash: Type.String({
    description: 'A keyed hash of the settings this node now runs with: equal on nodes running the same ones',
  }),
  applied: Type.Array(Type.String(), {
    description: 'Reloadable settings that changed and are now in force',
  }),
  restartRequired: Type.Array(Type.String(), {
    description: 'Settings whose sources changed but that apply only after a restart (not applied)',
  }),
  propagated: Type.Boolean({
    description: 'Whether the other nodes were asked (through Redis) to reload their own sources',
  }),
});

/** `/api/v1/admin/system`: the running installation, its database and Redis, for operators. */
export const systemAdminRoutes: FastifyPluginAsyncTypebox<{
  admin: SystemAdmin;
  reloader?: ConfigReloader | undefined;
}> = async (app, { admin, reloader }) => {
  const tags = ['system'];
  const read = requires('system:read');
  app.get(
    '/api/v1/admin/system',
    {
      config: read,
      schema: {
        tags,
        summary: 'Version, uptime, this node, and the migration state',
        response: { 200: Overview, ...problemResponses },
      },
    },
    async () => {
      const overview = await admin.overview();
      return { ...overview, startedAt: new Date(overview.startedAt).toISOString() };
    },
  );
  app.get(
    '/api/v1/admin/system/database',
    {
      config: read,
      schema: {
        tags,
        summary: 'The database: a connection test, its size, the pool and rows per table',
        response: { 200: DatabaseReport, ...problemResponses },
      },
    },
    async () => admin.database(),
  );
  app.get(
    '/api/v1/admin/system/cache',
    {
      config: read,
      schema: {
        tags,
        summary: 'Redis: a round trip, memory, clients and keys (configured: false without it)',
        response: { 200: CacheReport, ...problemResponses },
      },
    },
    async () => admin.cache(),
  );
  app.post(
    '/api/v1/admin/system/cache/clear',
    {
      config: { ...requires('system:write'), auth: 'session' as const },
      schema: {
        tags,
        summary:
          "Clear every node's in-process caches (sessions, authorization, clients); needs a second factor in the last few minutes",
        response: { 200: Cleared, ...problemResponses },
      },
    },
    async (request) => admin.clearCaches(request.session),
  );
  if (reloader) {
    app.post(
      '/api/v1/admin/system/config/reload',
      {
        config: requires('system:write'),
        schema: {
          tags,
          summary:
            'Read the configuration file and environment again on every node and apply what can change without a restart',
          description:
            'This node reloads and answers; the others (through Redis) reload their own sources. Invalid sources change nothing (422 config_reload_invalid, the problems in errors[]).',
          response: { 200: Reloaded, ...problemResponses },
        },
      },
      async (request) => {
        const outcome = await reloader.reloadEverywhere(request.id);
        return { ...outcome, applied: [...outcome.applied], restartRequired: [...outcome.restartRequired] };
      },
    );
  }
};
