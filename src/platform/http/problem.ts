import { type Static, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { errorDefinition, type FieldProblem, GatehouseError } from '../errors.js';
import { escapeHtml, failureMessage, page } from '../html.js';
import { en, format } from '../messages/en.js';
import { createRedactor } from '../redaction.js';

/** RFC 9457 problem details, as every error leaves Gatehouse. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URN naming the problem type: urn:gatehouse:problem:<code>.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable, machine-readable error code.' }),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, title: 'Problem' },
);
export type Problem = Static<typeof ProblemSchema>;

/** Response schemas for the error statuses a route can answer, for route definitions and OpenAPI. */
export const problemResponses = {
  '4xx': ProblemSchema,
  '5xx': ProblemSchema,
} as const;

const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_body',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'validation_failed',
  FST_UNDER_PRESSURE: 'overloaded',
};

const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  503: 'service_unavailable',
};

function validationProblems(error: FastifyError): FieldProblem[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((issue) => {
    const missing = (issue.params as { missingProperty?: string }).missingProperty;
    const pointer = [issue.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.'), missing]
      .filter(Boolean)
      .join('.');
    const unexpected = (issue.params as { additionalProperty?: string }).additionalProperty;
    return {
      path: [context, pointer, unexpected].filter(Boolean).join('.'),
      message: unexpected ? 'is not allowed' : (issue.message ?? 'is invalid'),
    };
  });
}

/** Turns anything thrown into a GatehouseError, keeping safe client errors and hiding everything else. */
export function toGatehouseError(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError?.validation) {
    const errors = validationProblems(fastifyError);
    const summary = errors.map((problem) => `${problem.path} ${problem.message}`).join('; ');
    return new GatehouseError('validation_failed', summary || 'The request is not valid', {
      errors,
      cause: error,
    });
  }
  const mapped = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new GatehouseError(mapped, errorDefinition(mapped)?.title, { cause: error });
  const status = fastifyError?.statusCode;
  if (status && status >= 400 && status < 500) {
    const code = STATUS_CODES[status] ?? 'bad_request';
    // Framework client errors carry messages written for clients (e.g. "Unsupported Media Type").
    return new GatehouseError(code, fastifyError.message, { cause: error });
  }
  return new GatehouseError('internal_error', undefined, { cause: error });
}

/** Built-in patterns only: an error detail never echoes a card number, key or token back. */
const errorRedactor = createRedactor();

export function problemBody(error: GatehouseError, requestId: string): Problem {
  return {
    type: `urn:gatehouse:problem:${error.code}`,
    title: errorDefinition(error.code)?.title ?? 'Error',
    status: error.status,
    detail: errorRedactor.text(error.publicDetail),
    code: error.code,
    requestId,
    ...(error.errors ? { errors: [...error.errors] } : {}),
    ...error.extensions,
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, thrown: unknown): FastifyReply {
  const error = toGatehouseError(thrown);
  if (error.status >= 500 && error.code !== 'overloaded' && error.code !== 'shutting_down') {
    request.log.error({ err: thrown }, 'request failed');
  } else {
    request.log.info({ errorCode: error.code, status: error.status }, 'request rejected');
  }
  for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
  return reply
    .code(error.status)
    .type('application/problem+json; charset=utf-8')
    .send(problemBody(error, request.id));
}

const ALL_METHODS: readonly HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * Installs the one error handler and the not-found handler. Fastify answers 404 for a known path with an
 * unknown method; a shadow router of every registered route lets us answer 405 with an Allow header instead.
 */
export function installProblemHandling(app: FastifyInstance, options: { productName?: string } = {}): void {
  const routes = FindMyWay({ ignoreTrailingSlash: false });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (!ALL_METHODS.includes(method as HTTPMethod)) continue;
      if (routes.hasRoute(method as HTTPMethod, route.url)) continue;
      routes.on(method as HTTPMethod, route.url, () => {});
    }
  });

  /** A person's browser (not an API client) asked for a page: they get one, with the reference to quote. */
  const wantsPage = (request: FastifyRequest, path: string) =>
    (request.method === 'GET' || request.method === 'POST') &&
    !path.startsWith('/api/') &&
    // The engine's JSON endpoints (token, introspection…) answer clients; its interaction pages are people's.
    (!path.startsWith('/oauth2/') || path.startsWith('/oauth2/interaction/')) &&
    /text\/html/.test(request.headers.accept ?? '') &&
    options.productName !== undefined;
  const reference = (request: FastifyRequest) =>
    `<p class="hint">${format(en.notFound.reference, { id: escapeHtml(request.id) })}</p>`;

  app.setErrorHandler((error, request, reply) => {
    if (!wantsPage(request, request.url.split('?')[0] ?? '/')) return sendProblem(request, reply, error);
    const problem = toGatehouseError(error);
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ errorCode: problem.code, status: problem.status }, 'request rejected');
    for (const [name, value] of Object.entries(problem.headers ?? {})) reply.header(name, value);
    return page(
      reply,
      options.productName as string,
      {
        title: en.failure.title,
        body: `<h1>${en.failure.title}</h1>${failureMessage(problem)}<p>${en.failure.back}</p><p class="links"><a href="/login">${en.notFound.signIn}</a></p>${reference(request)}`,
      },
      problem.status,
    );
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = ALL_METHODS.filter(
      (method) => method !== request.method && routes.find(method, path) !== null,
    );
    if (allowed.length > 0 && request.method !== 'OPTIONS') {
      return sendProblem(
        request,
        reply,
        new GatehouseError('method_not_allowed', `${request.method} is not allowed on this endpoint`, {
          headers: { allow: allowed.join(', ') },
        }),
      );
    }
    // A person who follows a broken link gets a page, not JSON; API clients keep their problem details.
    if (request.method === 'GET' && wantsPage(request, path)) {
      return page(
        reply,
        options.productName as string,
        {
          title: en.notFound.title,
          body: `<h1>${en.notFound.title}</h1><p>${en.notFound.text}</p><p class="links"><a href="/account">${en.notFound.account}</a> · <a href="/login">${en.notFound.signIn}</a></p>${reference(request)}`,
        },
        404,
      );
    }
    return sendProblem(request, reply, new GatehouseError('not_found', 'No such endpoint'));
  });
}
