/**
 * The OpenAI-compatible API: chat completions (plain and SSE), models, embeddings, and
 * `/v1/route` (the decision without a call). Every path ends in one answer or one error in
 * OpenAI's shape; a client that disconnects aborts the upstream call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';
import type { Gateway } from '../gateway/index.ts';
import { noRouteError } from '../gateway/plan.ts';
import {
  abortOnDisconnect,
  chatCompletionsEncoder,
  metaHeaders,
  openEventStream,
  pipeEventStream,
  requestOptionsFor,
} from './event-stream.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
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
    const requestOptions = requestOptionsFor(request, context, abort);
    if (body.stream !== true) {
      const { completion, meta, finish } = await gateway.chat(body, requestOptions);
      try {
        if (!abort.aborted) sendJson(response, 200, completion, metaHeaders(meta));
      } finally {
        finish?.();
      }
      return;
    }
    const { meta, chunks, finish } = await gateway.chatStream(body, requestOptions);
    try {
      openEventStream(response, metaHeaders(meta));
      await pipeEventStream(response, chatCompletionsEncoder(), chunks);
    } finally {
      finish?.();
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
        : (gateway.config.models.find((spec) => spec.name === id)?.provider ?? 'switchyard'); // read now: a reload may add models
    return { id, object: 'model', created, owned_by: owner };
  }

  async function embeddings(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    const body = validateEmbeddingsRequest(parseJson(await readBody(request, bodyLimit)));
    const abort = abortOnDisconnect(request, response);
    const result = await gateway.embeddings(
      body,
      requestOptionsFor(request, context, abort, { api: 'embeddings' }),
    );
    if (abort.aborted) return;
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
