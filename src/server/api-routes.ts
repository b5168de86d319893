/**
 * The OpenAI-compatible API: chat completions (plain and SSE), models, embeddings, and
 * `/v1/route` (the decision without a call). Every path ends in one answer or one error in
 * OpenAI's shape; a client that disconnects aborts the upstream call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';
import { asGatewayError, type Gateway, type ResponseMeta } from '../gateway/index.ts';
import { noRouteError } from '../gateway/plan.ts';
import { parseJson, readBody, sendJson, writeWithBackpressure } from './http-io.ts';
import type { RequestContext, RouteTable } from './routes.ts';
import { validateChatRequest, validateEmbeddingsRequest } from './validate.ts';

export function apiRoutes(gateway: Gateway): RouteTable {
  const { config } = gateway;
  const bodyLimit = config.server.body_limit;

  async function chatCompletions(
    request: IncomingMessage,
    response: ServerResponse,
    context: RequestContext,
  ) {
    const body = validateChatRequest(parseJson(await readBody(request, bodyLimit)));
    const abort = abortOnDisconnect(request, response);
    const requestOptions = {
      signal: abort.signal,
      headers: request.headers,
      clientKeyId: context.clientKeyId,
      clientRequestId: clientRequestId(request),
      access: context.access,
    };
    if (body.stream !== true) {
      const { completion, meta } = await gateway.chat(body, requestOptions);
      if (abort.signal.aborted) return;
      sendJson(response, 200, completion, metaHeaders(meta));
      return;
    }
    const { meta, chunks } = await gateway.chatStream(body, requestOptions);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...metaHeaders(meta),
    });
    // No flushHeaders(): the first chunk is ready, and the headers go out in the same write.
    try {
      for await (const chunk of chunks) {
        if (!(await writeWithBackpressure(response, `data: ${JSON.stringify(chunk)}\n\n`))) return;
      }
      response.end('data: [DONE]\n\n');
    } catch (error) {
      // Headers are out: the failure is an SSE error event, and no [DONE] follows it.
      const gatewayError = asGatewayError(error);
      if (!response.destroyed) response.end(`data: ${JSON.stringify(gatewayError.toJSON())}\n\n`);
    }
  }

  function listModels(_request: IncomingMessage, response: ServerResponse): void {
    sendJson(response, 200, { object: 'list', data: gateway.modelNames().map(modelObject) });
  }

  /** `GET /v1/models/{id}` (the openai client's `models.retrieve`). */
  function retrieveModel(_request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
    const id = decodeURIComponent(context.url.pathname.replace(/^\/(v1\/)?models\//, ''));
    if (!gateway.modelNames().includes(id)) {
      throw new GatewayError('model_not_found', `The model "${id.slice(0, 256)}" does not exist.`, {
        param: 'model',
      });
    }
    sendJson(response, 200, modelObject(id));
  }

  const created = Math.floor(Date.now() / 1000);
  function modelObject(id: string) {
    const owner =
      id === 'auto' || id.startsWith('auto:')
        ? 'switchyard'
        : (config.models.find((spec) => spec.name === id)?.provider ?? 'switchyard');
    return { id, object: 'model', created, owned_by: owner };
  }

  async function embeddings(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    const body = validateEmbeddingsRequest(parseJson(await readBody(request, bodyLimit)));
    const abort = abortOnDisconnect(request, response);
    const result = await gateway.embeddings(body, {
      signal: abort.signal,
      headers: request.headers,
      clientKeyId: context.clientKeyId,
      clientRequestId: clientRequestId(request),
      access: context.access,
      api: 'embeddings',
    });
    if (abort.signal.aborted) return;
    sendJson(response, 200, result.response, {
      'x-switchyard-model': result.model,
      'x-switchyard-fallbacks': String(result.fallbacks),
      'x-switchyard-request-id': result.requestId,
    });
  }

  async function routeOnly(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    const body = validateChatRequest(parseJson(await readBody(request, bodyLimit)));
    const decision = gateway.route(body, { headers: request.headers, access: context.access });
    if (decision.model !== undefined) {
      sendJson(response, 200, decision);
      return;
    }
    // No route: the error in OpenAI's shape, the decision's details beside it.
    const error = noRouteError(decision);
    sendJson(response, error.status, { ...error.toJSON(), decision }, error.headers);
  }

  return {
    'POST /v1/chat/completions': chatCompletions,
    'POST /chat/completions': chatCompletions,
    'GET /v1/models': listModels,
    'GET /models': listModels,
    'GET /v1/models/*': retrieveModel,
    'GET /models/*': retrieveModel,
    'POST /v1/embeddings': embeddings,
    'POST /embeddings': embeddings,
    'POST /v1/route': routeOnly,
  };
}

export function metaHeaders(meta: ResponseMeta): Record<string, string> {
  return {
    ...meta.rateLimitHeaders,
    ...(meta.cache ? { 'x-switchyard-cache': meta.cache } : {}),
    'x-switchyard-model': meta.model,
    'x-switchyard-task': meta.task,
    'x-switchyard-fallbacks': String(meta.fallbacks),
    'x-switchyard-request-id': meta.requestId,
    'x-switchyard-priority': meta.priority,
  };
}

/** An AbortSignal that fires if the client goes away before the response is complete. */
export function abortOnDisconnect(request: IncomingMessage, response: ServerResponse): AbortController {
  const controller = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) controller.abort(clientDisconnected);
  };
  response.once('close', onClose);
  request.once('aborted', onClose);
  return controller;
}

const clientDisconnected = new Error('client disconnected');

/** The client's `x-request-id`, when it is a short safe token; logged beside our own id, never used as it. */
export function clientRequestId(request: IncomingMessage): string | undefined {
  const value = request.headers['x-request-id'];
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) return undefined;
  return /^[A-Za-z0-9._:-]+$/.test(value) ? value : undefined;
}
