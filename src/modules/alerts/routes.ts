import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../platform/http/problem.js';
import { requires } from '../authz/routes.js';
import {
  AlertRuleBody,
  AlertRuleParams,
  AlertRuleResponse,
  AlertRulesResponse,
  FiringsResponse,
  TestResponse,
} from './schemas.js';
import type { AlertRuleView, AlertService } from './service.js';

const ruleBody = (rule: AlertRuleView) => ({
  ...rule,
  channels: [...rule.channels],
  lastFiredAt: rule.lastFiredAt === null ? null : new Date(rule.lastFiredAt).toISOString(),
});

/** Alert rules: thresholds over audit events (or the audit writer failing) sent to e-mail, Slack, PagerDuty or a webhook. */
export const alertRoutes: FastifyPluginAsyncTypebox<{ alerts: AlertService }> = async (app, { alerts }) => {
  const tags = ['alerts'];
  const read = requires('system:read');
  const write = requires('system:write');

  app.get(
    '/api/v1/admin/alerts',
    {
      config: read,
      schema: {
        tags,
        summary: 'Alert rules (channel secrets masked)',
        response: { 200: AlertRulesResponse, ...problemResponses },
      },
    },
    async () => ({ rules: (await alerts.list()).map(ruleBody) }),
  );
  app.post(
    '/api/v1/admin/alerts',
    {
      config: write,
      schema: {
        tags,
        summary: 'Add an alert rule',
        body: AlertRuleBody,
        response: { 201: AlertRuleResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ rule: ruleBody(await alerts.create(request.body, request.session?.userId)) }),
  );
  app.get(
    '/api/v1/admin/alerts/:ruleId',
    {
      config: read,
      schema: {
        tags,
        summary: 'One alert rule',
        params: AlertRuleParams,
        response: { 200: AlertRuleResponse, ...problemResponses },
      },
    },
    async (request) => ({ rule: ruleBody(await alerts.get(request.params.ruleId)) }),
  );
  app.put(
    '/api/v1/admin/alerts/:ruleId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Replace an alert rule (give its channels again: their secrets are never shown back)',
        params: AlertRuleParams,
        body: AlertRuleBody,
        response: { 200: AlertRuleResponse, ...problemResponses },
      },
    },
    async (request) => ({
      rule: ruleBody(await alerts.replace(request.params.ruleId, request.body, request.session?.userId)),
    }),
  );
  app.delete(
    '/api/v1/admin/alerts/:ruleId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete an alert rule',
        params: AlertRuleParams,
        response: { 204: { type: 'null' }, ...problemResponses },
      },
    },
    async (request, reply) => {
      await alerts.remove(request.params.ruleId, request.session?.userId);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/api/v1/admin/alerts/:ruleId/firings',
    {
      config: read,
      schema: {
        tags,
        summary: 'When the rule fired, newest first',
        params: AlertRuleParams,
        response: { 200: FiringsResponse, ...problemResponses },
      },
    },
    async (request) => ({
      firings: (await alerts.firings(request.params.ruleId)).map((firing) => ({
        ...firing,
        firedAt: new Date(firing.firedAt).toISOString(),
      })),
    }),
  );
  app.post(
    '/api/v1/admin/alerts/:ruleId/test',
    {
      config: write,
      schema: {
        tags,
        summary: 'Send a test notification on every channel now and report how each went',
        params: AlertRuleParams,
        response: { 200: TestResponse, ...problemResponses },
      },
    },
    async (request) => ({ channels: await alerts.test(request.params.ruleId) }),
  );
};
