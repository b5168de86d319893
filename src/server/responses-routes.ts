/**
 * The OpenAI Responses API front door: `POST /v1/responses` (plain and streamed), and
 * `GET`/`DELETE /v1/responses/{id}` for stored responses. A request is translated to the
 * internal ChatRequest and runs the same pipeline as `/v1/chat/completions` (the request log
 * says `api = responses`); errors keep OpenAI's shape, the server's default.
 *
 * `store` (OpenAI's default is true) keeps the response and the conversation it answered in the
 * response store, owned by the client key, so `previous_response_id` can continue it; a
 * `previous_response_id` with nothing stored under it is a 400. An `item_reference` to an item of
 * a stored response (the Vercel AI SDK sends them for earlier assistant turns when `store` is on)
 * is replaced by that item; one to nothing stored is a 400 too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, invalidRequest } from '../errors.ts';
import {
  chatToResponse,
  conversationInput,
  type InputItem,
  type ResponseObject,
  ResponsesStreamEncoder,
  responsesToChat,
  type StoredResponse,
  validateResponsesRequest,
} from '../front-doors/openai-responses/index.ts';
import { isObject } from '../front-doors/shared.ts';
import type { Gateway } from '../gateway/index.ts';
import type { ResponseStore } from '../state/response-store.ts';
import {
  abortOnDisconnect,
  metaHeaders,
  openEventStream,
  pipeEventStream,
  requestOptionsFor,
} from './event-stream.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import type { RequestContext, RouteTable } from './routes.ts';

/** What the store keeps per response: the object itself and the items it answered. */
interface StoredDocument {
  response: ResponseObject;
  input: InputItem[];
}

export function responsesRoutes(gateway: Gateway, store: ResponseStore): RouteTable {
  const bodyLimit = gateway.config.server.body_limit;

  async function createResponse(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    const owner = ownerOf(context);
    const body = validateResponsesRequest(
      resolveReferences(parseJson(await readBody(request, bodyLimit)), owner),
    );
    const previous = body.previous_response_id ? stored(body.previous_response_id, owner) : undefined;
    // Throws the 400 for a previous_response_id that names nothing stored.
    const chat = responsesToChat(body, { previous });
    const keep = (object: ResponseObject) => {
      if (body.store === false) return;
      save(object, conversationInput(body, previous), owner);
    };
    const abort = abortOnDisconnect(request, response);
    const requestOptions = requestOptionsFor(request, context, abort, { api: 'responses' });
    if (body.stream !== true) {
      const { completion, meta, finish } = await gateway.chat(chat, requestOptions);
      try {
        if (abort.aborted) return;
        const object = chatToResponse(completion, body);
        keep(object);
        sendJson(response, 200, object, metaHeaders(meta));
      } finally {
        finish?.();
      }
      return;
    }
    // A failure before the first chunk throws here: a plain HTTP error in OpenAI's shape.
    const { meta, chunks, finish } = await gateway.chatStream(chat, requestOptions);
    try {
      openEventStream(response, metaHeaders(meta));
      // A failure after the first byte is an `error` event and `response.failed`.
      const encoder = new ResponsesStreamEncoder(body);
      if (await pipeEventStream(response, encoder, chunks)) {
        const object = encoder.completedResponse;
        if (object) keep(object);
      }
    } finally {
      finish?.();
    }
  }

  function stored(id: string, owner: string): StoredResponse | undefined {
    const document = store.get<StoredDocument>(id, owner);
    return document && { id, input: document.input, output: document.response.output };
  }

  /** `item_reference`s replaced by the items of stored responses they name. */
  function resolveReferences(body: unknown, owner: string): unknown {
    if (!isObject(body) || !Array.isArray(body.input) || !body.input.some(isReference)) return body;
    const input = body.input.map((item: unknown, index: number) => {
      if (!isReference(item)) return item;
      const param = `input[${index}]`;
      if (typeof item.id !== 'string' || item.id.length === 0) {
        throw invalidRequest(`${param}.id must be a non-empty string.`, `${param}.id`);
      }
      const id = item.id;
      const found = store
        .getByItem<StoredDocument>(id, owner)
        ?.response.output.find((output) => output.id === id);
      if (!found) throw invalidRequest(`Item with id '${id.slice(0, 256)}' not found.`, param);
      return found.type === 'message'
        ? { type: 'message', id, role: 'assistant', content: found.content, status: found.status }
        : found;
    });
    return { ...body, input };
  }

  function save(object: ResponseObject, input: InputItem[], owner: string): void {
    const itemIds = object.output.map((item) => item.id);
    const outcome = store.put(
      object.id,
      owner,
      { response: object, input } satisfies StoredDocument,
      itemIds,
    );
    if (outcome === 'too_large') {
      gateway.logger.warn(
        { responseId: object.id, maxBytes: gateway.config.responses.store_max_bytes },
        'response not stored: larger than responses.store_max_bytes (previous_response_id to it will be a 400)',
      );
    }
  }

  /** `GET /v1/responses/{id}` (the openai client's `responses.retrieve`). */
  function retrieve(_request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
    const id = responseIdOf(context);
    const document = store.get<StoredDocument>(id, ownerOf(context));
    if (!document) throw notFound(id);
    sendJson(response, 200, document.response);
  }

  /** `DELETE /v1/responses/{id}` (`responses.delete`). */
  function remove(_request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
    const id = responseIdOf(context);
    if (!store.delete(id, ownerOf(context))) throw notFound(id);
    sendJson(response, 200, { id, object: 'response', deleted: true });
  }

  return {
    'POST /v1/responses': createResponse,
    'POST /responses': createResponse,
    'GET /v1/responses/*': retrieve,
    'GET /responses/*': retrieve,
    'DELETE /v1/responses/*': remove,
    'DELETE /responses/*': remove,
  };
}

/** `{"type": "item_reference", "id": ...}`; OpenAI lets the type be left out of one. */
function isReference(item: unknown): item is { type?: string; id?: unknown } {
  if (!isObject(item)) return false;
  return (
    item.type === 'item_reference' || (item.type === undefined && item.role === undefined && 'id' in item)
  );
}

/** Stored responses belong to the client key that made them ('' when the API takes no key). */
function ownerOf(context: RequestContext): string {
  return context.clientKeyId ?? '';
}

function responseIdOf(context: RequestContext): string {
  const rest = context.url.pathname.replace(/^\/(v1\/)?responses\//, '');
  // Sub-resources (input_items, cancel) are not served: the id has no slash.
  if (rest.length === 0 || rest.includes('/')) {
    throw new GatewayError('not_found', `Unknown endpoint: ${context.url.pathname.slice(0, 256)}`);
  }
  return decodeURIComponent(rest);
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `Response with id '${id.slice(0, 256)}' not found.`);
}
