/**
 * The Anthropic Messages API front door: `POST /v1/messages` (plain and streamed) and
 * `POST /v1/messages/count_tokens`. A request is translated to the internal ChatRequest, runs the
 * same pipeline as `/v1/chat/completions` (routing, rules, fail-over, breakers, accounting, the
 * request log with `api = messages`), and the answer is translated back. Every error, auth
 * failures included, is written in Anthropic's shape (`messagesErrorWriters`), with the
 * `request-id` header once the request has one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AnthropicApiError,
  chatToMessage,
  countRequestTokens,
  type MessagesRequest,
  MessagesStreamEncoder,
  messagesToChat,
  toAnthropicError,
  validateMessagesRequest,
} from '../front-doors/anthropic-messages/index.ts';
import type { Gateway } from '../gateway/index.ts';
import { newRequestId } from '../gateway/wiring.ts';
import {
  abortOnDisconnect,
  metaHeaders,
  openEventStream,
  pipeEventStream,
  requestOptionsFor,
} from './event-stream.ts';
import { parseJson, readBody, sendJson } from './http-io.ts';
import type { ErrorWriter, Handler, RequestContext, RouteTable } from './routes.ts';

/** A stream silent this long gets a `ping` event, so proxies and clients keep the connection. */
const pingAfterSilenceMs = 10_000;

export interface MessagesRoutesOptions {
  /** Silence before a keep-alive ping, ms (tests shorten it). */
  pingAfterSilenceMs?: number;
}

export function messagesRoutes(gateway: Gateway, options: MessagesRoutesOptions = {}): RouteTable {
  const { config } = gateway;
  const bodyLimit = config.server.body_limit;
  const silenceMs = options.pingAfterSilenceMs ?? pingAfterSilenceMs;

  async function createMessage(request: IncomingMessage, response: ServerResponse, context: RequestContext) {
    const requestId = newRequestId();
    response.setHeader('request-id', requestId);
    const body = validateMessagesRequest(parseJson(await readBody(request, bodyLimit)));
    refuseUnservableTools(body);
    const chat = messagesToChat(body, { betas: request.headers['anthropic-beta'] });
    const abort = abortOnDisconnect(request, response);
    const requestOptions = requestOptionsFor(request, context, abort, { requestId, api: 'messages' });
    if (body.stream !== true) {
      const { completion, meta, finish } = await gateway.chat(chat, requestOptions);
      try {
        if (!abort.aborted) sendJson(response, 200, chatToMessage(completion), metaHeaders(meta));
      } finally {
        finish?.();
      }
      return;
    }
    // The gateway pulls the first chunk before it answers: a failure before any output throws
    // here and becomes an HTTP error in Anthropic's shape.
    const { meta, chunks, finish } = await gateway.chatStream(chat, requestOptions);
    try {
      openEventStream(response, metaHeaders(meta));
      // A failure after the first byte is an `error` event; a silence gets a `ping`.
      await pipeEventStream(response, new MessagesStreamEncoder(), chunks, silenceMs);
    } finally {
      finish?.();
    }
  }

  /**
   * Anthropic-defined tools (web_search, bash, text_editor...) run only on an Anthropic backend;
   * a request that could only reach other backends is refused rather than answered without them.
   */
  function refuseUnservableTools(body: MessagesRequest): void {
    const builtin = body.tools?.find(
      (tool) => tool.type !== undefined && tool.type !== null && tool.type !== 'custom',
    );
    if (!builtin) return;
    const { models } = gateway.config; // read now: a reload may add or remove models
    const named = models.find((spec) => spec.name === body.model);
    const servable = named
      ? named.provider === 'anthropic'
      : models.some((spec) => spec.provider === 'anthropic');
    if (servable) return;
    throw new AnthropicApiError(
      'invalid_request_error',
      `tools: the Anthropic-defined tool type '${String(builtin.type)}' needs an Anthropic backend, and ${
        named ? `model '${body.model}' is not one` : 'none is configured'
      }.`,
    );
  }

  /** An estimate with the gateway's tokenizer (Claude's is not public), for context budgeting. */
  async function countTokens(request: IncomingMessage, response: ServerResponse) {
    const body = validateMessagesRequest(parseJson(await readBody(request, bodyLimit)), {
      countTokens: true,
    });
    if (!gateway.modelNames().includes(body.model)) {
      throw new AnthropicApiError('not_found_error', `model: ${body.model.slice(0, 256)}`);
    }
    sendJson(response, 200, { input_tokens: countRequestTokens(body) });
  }

  const routes: Record<string, Handler> = {
    'POST /v1/messages': createMessage,
    'POST /messages': createMessage,
    'POST /v1/messages/count_tokens': countTokens,
    'POST /messages/count_tokens': countTokens,
  };
  // Errors the translation layer throws (AnthropicApiError) are written here, in their own shape;
  // everything else goes to the server, which logs what it must and calls the error writer.
  const table: RouteTable = {};
  for (const [key, handler] of Object.entries(routes)) {
    table[key] = async (request, response, context) => {
      try {
        await handler(request, response, context);
      } catch (error) {
        if (!(error instanceof AnthropicApiError)) throw error;
        writeAnthropicError(response, error);
      }
    };
  }
  return table;
}

/** Any error as Anthropic's `{"type":"error","error":{...}}`, with the request id when there is one. */
export const writeAnthropicError: ErrorWriter = (response, error) => {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const apiError = toAnthropicError(error);
  const requestId = response.getHeader('request-id');
  sendJson(
    response,
    apiError.status,
    apiError.toJSON(typeof requestId === 'string' ? requestId : undefined),
    apiError.headers,
  );
};

/** For `ServerOptions.errorWriters`: the Messages API's paths answer errors in its shape. */
export const messagesErrorWriters: Array<[prefix: string, writer: ErrorWriter]> = [
  ['/v1/messages', writeAnthropicError],
  ['/messages', writeAnthropicError],
];
