/** Small request/response helpers for node:http: bounded body reading, JSON and SSE writing. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.ts';

/**
 * Read the whole body, refusing more than `limit` bytes (413) before buffering it. Listeners, not
 * `for await`: the stream's async iterator costs a few kilobytes and several promises per request.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume(); // drain without keeping it
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onFailure);
      request.off('close', onFailure);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        request.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // The client went away (or the socket failed) before the body was complete.
    const onFailure = () => {
      stop();
      reject(
        new GatewayError(
          'client_closed_request',
          'The client closed the connection before sending the whole body.',
        ),
      );
    };
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onFailure);
    request.once('close', onFailure);
  });
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('body_too_large', `The request body is larger than the limit of ${limit} bytes.`);
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0)
    throw new GatewayError('invalid_json', 'The request body is empty; expected a JSON object.');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(
    status,
    Object.assign({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }, headers),
  );
  response.end(text);
}

export function sendError(
  response: ServerResponse,
  error: GatewayError,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, error.status, error.toJSON(), { ...headers, ...error.headers });
}

/**
 * How long each response may wait for its client to read (set by the server per response). A
 * symbol-keyed property, not a WeakMap: every response gets it, so they share one shape, and
 * a WeakMap entry per response cost measurably more (and GC work after).
 */
const writeTimeoutMs = Symbol('switchyard.writeTimeoutMs');
type TimedResponse = ServerResponse & { [writeTimeoutMs]?: number };

export function setWriteTimeout(response: ServerResponse, ms: number): void {
  (response as TimedResponse)[writeTimeoutMs] = ms;
}

/**
 * Write and respect backpressure: wait for 'drain' when the socket buffer is full. A client that
 * reads nothing for the response's write timeout is cut off (it would hold its upstream call and
 * concurrency slot forever): resolves false, and the caller stops.
 */
export function writeWithBackpressure(response: ServerResponse, text: string): boolean | Promise<boolean> {
  if (response.destroyed || response.writableEnded) return false;
  // The common case answers at once: no promise (and no microtask) per chunk.
  if (response.write(text)) return true;
  const timeoutMs = (response as TimedResponse)[writeTimeoutMs] ?? 30_000;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      response.off('drain', onDrain);
      response.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => {
      response.destroy();
      done(false);
    }, timeoutMs);
    response.on('drain', onDrain);
    response.on('close', onClose);
  });
}
