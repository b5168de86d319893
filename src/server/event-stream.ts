/**
 * One way every front door streams: the SSE headers with the gateway's own, then the encoder's
 * frames for each chunk under backpressure, and a failure after the first byte as the API's own
 * error event (the headers are out, so it cannot be an HTTP status any more).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestOptions, ResponseMeta } from '../gateway/index.ts';
import { asGatewayError } from '../gateway/index.ts';
import { Cancellation, type CancelSignal } from '../lib/cancel.ts';
import { type ChatCompletionChunk, verbatim } from '../types/openai.ts';
import { writeWithBackpressure } from './http-io.ts';
import type { RequestContext } from './routes.ts';

/** Chat chunks -> one API's SSE frames. */
export interface StreamEncoder {
  push(chunk: ChatCompletionChunk): string[];
  /** The frames that close a stream that ended whole. */
  finish(): string[];
  /** The frames that close a stream cut by `error`. */
  fail(error: unknown): string[];
  /** A keep-alive frame, for APIs that define one. */
  ping?(): string;
}

/**
 * Chat Completions' own framing, one encoder per stream: each chunk as `data:`, `[DONE]` at the
 * end, no `[DONE]` after an error.
 */
export function chatCompletionsEncoder(): StreamEncoder {
  const quoted = quotedNames();
  return {
    push: (chunk) => [`data: ${chatChunkJson(chunk, quoted)}\n\n`],
    finish: () => ['data: [DONE]\n\n'],
    fail: (error) => [`data: ${JSON.stringify(asGatewayError(error).toJSON())}\n\n`],
  };
}

/**
 * A stream's `id` and `model` as JSON, kept from chunk to chunk: every chunk of a stream has the
 * same ones (the model changes only at a fail-over), and JSON.stringify costs ~140 ns a call,
 * two a chunk (bench/README.md, round 12).
 */
export interface QuotedNames {
  id: unknown;
  idJson: string;
  model: unknown;
  modelJson: string;
}

/** Matches no chunk's id or model: the first chunk always serialises both. */
const none = Symbol('none');

export function quotedNames(): QuotedNames {
  return { id: none, idJson: '', model: none, modelJson: '' };
}

/** The chunk's JSON: the upstream's own with our `id` and `model` when it was kept, else serialised. */
export function chatChunkJson(chunk: ChatCompletionChunk, quoted: QuotedNames = quotedNames()): string {
  const kept = chunk[verbatim];
  if (kept === undefined) return JSON.stringify(chunk);
  chunk[verbatim] = undefined; // used once; a chunk kept for the cache need not hold the upstream's text
  if (quoted.id !== chunk.id) {
    quoted.id = chunk.id;
    quoted.idJson = JSON.stringify(chunk.id);
  }
  if (quoted.model !== chunk.model) {
    quoted.model = chunk.model;
    quoted.modelJson = JSON.stringify(chunk.model);
  }
  return `{"id":${quoted.idJson}${kept.afterId}${quoted.modelJson}${kept.afterModel}`;
}

export function openEventStream(response: ServerResponse, headers: Record<string, string>): void {
  // No flushHeaders(): the first chunk is ready, and the headers go out in the same write.
  response.writeHead(
    200,
    Object.assign(
      {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      },
      headers,
    ),
  );
}

/**
 * Writes the stream to its end; true when it ended whole. With `keepAliveMs` and an encoder that
 * pings, a ping goes out after that long a silence (proxies cut idle connections).
 */
export async function pipeEventStream(
  response: ServerResponse,
  encoder: StreamEncoder,
  chunks: AsyncIterable<ChatCompletionChunk>,
  keepAliveMs?: number,
): Promise<boolean> {
  let lastWrite = Date.now();
  const ping = encoder.ping?.bind(encoder);
  const keepAlive =
    ping && keepAliveMs
      ? setInterval(
          () => {
            if (Date.now() - lastWrite < keepAliveMs || response.writableEnded || response.destroyed) return;
            lastWrite = Date.now();
            response.write(ping());
          },
          Math.max(10, Math.floor(keepAliveMs / 2)),
        )
      : undefined;
  keepAlive?.unref();
  // Chunks that arrive in one upstream read are handled in one turn of the event loop: corked
  // until the turn ends, they leave in one write (one syscall) instead of one each.
  let corked = false;
  const uncork = () => {
    corked = false;
    response.uncork();
  };
  try {
    for await (const chunk of chunks) {
      const frames = encoder.push(chunk);
      if (frames.length === 0) continue;
      if (keepAlive) lastWrite = Date.now(); // only pings read it
      if (!corked) {
        corked = true;
        response.cork();
        process.nextTick(uncork);
      }
      const written = writeWithBackpressure(response, frames.length === 1 ? frames[0]! : frames.join(''));
      if (written !== true && !(await written)) return false;
    }
    response.end(encoder.finish().join(''));
    return true;
  } catch (error) {
    if (!response.destroyed) response.end(encoder.fail(error).join(''));
    return false;
  } finally {
    if (keepAlive) clearInterval(keepAlive);
  }
}

/** What every front door passes the gateway about the HTTP request; `extra` adds the API's own. */
export function requestOptionsFor(
  request: IncomingMessage,
  context: RequestContext,
  signal: CancelSignal,
  extra: Partial<RequestOptions> = {},
): RequestOptions {
  return {
    signal,
    headers: request.headers,
    clientKeyId: context.clientKeyId,
    clientRequestId: clientRequestId(request),
    access: context.access,
    // The answer is written before the request is accounted for (ChatResult.finish).
    deferSummary: true,
    ...extra,
  };
}

// Written key by key: spreading objects into a literal is ~1 µs a response on this V8.
export function metaHeaders(meta: ResponseMeta): Record<string, string> {
  const headers: Record<string, string> = {};
  if (meta.rateLimitHeaders) Object.assign(headers, meta.rateLimitHeaders);
  if (meta.cache) headers['x-switchyard-cache'] = meta.cache;
  headers['x-switchyard-model'] = meta.model;
  headers['x-switchyard-task'] = meta.task;
  headers['x-switchyard-fallbacks'] = String(meta.fallbacks);
  headers['x-switchyard-request-id'] = meta.requestId;
  headers['x-switchyard-priority'] = meta.priority;
  return headers;
}

/** A signal that fires if the client goes away before the response is complete. */
export function abortOnDisconnect(request: IncomingMessage, response: ServerResponse): Cancellation {
  const controller = new Cancellation();
  const onClose = () => {
    if (!response.writableFinished) controller.abort(clientDisconnected);
  };
  // `on`, not `once`: 'close' fires once, and `once` wraps the listener in a closure per request.
  response.on('close', onClose);
  // A request whose body was read whole never emits 'aborted' (node:http emits it only for an
  // incomplete one): every front door reads the body first, so this is for any that does not.
  if (!request.complete) request.once('aborted', onClose);
  return controller;
}

const clientDisconnected = new Error('client disconnected');

/** The client's `x-request-id`, when it is a short safe token; logged beside our own id, never used as it. */
export function clientRequestId(request: IncomingMessage): string | undefined {
  const value = request.headers['x-request-id'];
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) return undefined;
  return /^[A-Za-z0-9._:-]+$/.test(value) ? value : undefined;
}
