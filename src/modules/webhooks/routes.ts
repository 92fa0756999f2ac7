import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../../platform/http/problem.js';
import { requires } from '../authz/routes.js';
import {
  CreatedWebhookResponse,
  DeliveriesResponse,
  DeliveryDetailResponse,
  DeliveryParams,
  DeliveryQuery,
  DeliveryResponse,
  SecretResponse,
  WebhookBody,
  WebhookParams,
  WebhookPatch,
  WebhookResponse,
  WebhooksResponse,
} from './schemas.js';
import type { DeliveryView, WebhookService, WebhookView } from './service.js';

const iso = (time: number) => new Date(time).toISOString();
const webhookBody = (webhook: WebhookView) => ({
  ...webhook,
  events: [...webhook.events],
  createdAt: iso(webhook.createdAt),
  updatedAt: iso(webhook.updatedAt),
});
const deliveryBody = (delivery: DeliveryView) => ({
  ...delivery,
  createdAt: iso(delivery.createdAt),
  updatedAt: iso(delivery.updatedAt),
});
const none = { 204: { type: 'null' as const }, ...problemResponses };

/** Operators' webhooks: subscriptions to events, their signing secrets, deliveries with every try, replay. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (
  app,
  { webhooks },
) => {
  const tags = ['webhooks'];
  const read = requires('system:read');
  const write = requires('system:write');
  const actor = (request: FastifyRequest) => ({ actorUserId: request.session?.userId });

  app.get(
    '/api/v1/admin/webhooks',
    {
      config: read,
      schema: { tags, summary: 'Webhooks', response: { 200: WebhooksResponse, ...problemResponses } },
    },
    async () => ({ webhooks: (await webhooks.list()).map(webhookBody) }),
  );
  app.post(
    '/api/v1/admin/webhooks',
    {
      config: write,
      schema: {
        tags,
        summary: 'Subscribe an endpoint to events; the signing secret is shown once',
        body: WebhookBody,
        response: { 201: CreatedWebhookResponse, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { webhook, secret } = await webhooks.create(request.body, actor(request));
      return reply.code(201).send({ webhook: webhookBody(webhook), secret });
    },
  );
  app.get(
    '/api/v1/admin/webhooks/:webhookId',
    {
      config: read,
      schema: {
        tags,
        summary: 'One webhook',
        params: WebhookParams,
        response: { 200: WebhookResponse, ...problemResponses },
      },
    },
    async (request) => ({ webhook: webhookBody(await webhooks.get(request.params.webhookId)) }),
  );
  app.patch(
    '/api/v1/admin/webhooks/:webhookId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change a webhook (name, URL, events, enabled)',
        params: WebhookParams,
        body: WebhookPatch,
        response: { 200: WebhookResponse, ...problemResponses },
      },
    },
    async (request) => ({
      webhook: webhookBody(await webhooks.update(request.params.webhookId, request.body, actor(request))),
    }),
  );
  app.delete(
    '/api/v1/admin/webhooks/:webhookId',
    {
      config: write,
      schema: { tags, summary: 'Delete a webhook and its deliveries', params: WebhookParams, response: none },
    },
    async (request, reply) => {
      await webhooks.remove(request.params.webhookId, actor(request));
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/v1/admin/webhooks/:webhookId/rotate-secret',
    {
      config: write,
      schema: {
        tags,
        summary: 'A new signing secret, shown once; the old one stops at once',
        params: WebhookParams,
        response: { 200: SecretResponse, ...problemResponses },
      },
    },
    async (request) => ({ secret: await webhooks.rotateSecret(request.params.webhookId, actor(request)) }),
  );
  app.post(
    '/api/v1/admin/webhooks/:webhookId/test',
    {
      config: write,
      schema: {
        tags,
        summary: 'Send a webhook.test event to this endpoint now',
        params: WebhookParams,
        response: { 202: DeliveryResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(202).send({ delivery: deliveryBody(await webhooks.test(request.params.webhookId)) }),
  );
  app.get(
    '/api/v1/admin/webhooks/:webhookId/deliveries',
    {
      config: read,
      schema: {
        tags,
        summary: "A webhook's deliveries, newest first",
        params: WebhookParams,
        querystring: DeliveryQuery,
        response: { 200: DeliveriesResponse, ...problemResponses },
      },
    },
    async (request) => ({
      deliveries: (await webhooks.deliveries(request.params.webhookId, request.query)).map(deliveryBody),
    }),
  );
  app.get(
    '/api/v1/admin/webhooks/deliveries/:deliveryId',
    {
      config: read,
      schema: {
        tags,
        summary: 'One delivery, its body and every try',
        params: DeliveryParams,
        response: { 200: DeliveryDetailResponse, ...problemResponses },
      },
    },
    async (request) => {
      const delivery = await webhooks.delivery(request.params.deliveryId);
      return {
        delivery: {
          ...deliveryBody(delivery),
          body: delivery.body,
          tries: delivery.tries.map((attempt) => ({ ...attempt, at: iso(attempt.at) })),
        },
      };
    },
  );
  app.post(
    '/api/v1/admin/webhooks/deliveries/:deliveryId/replay',
    {
      config: write,
      schema: {
        tags,
        summary: 'Send a delivery again, with the same body',
        params: DeliveryParams,
        response: { 202: DeliveryResponse, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send({ delivery: deliveryBody(await webhooks.replay(request.params.deliveryId, actor(request))) }),
  );
};
