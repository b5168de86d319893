/**
 * The choke point every adapter's calls pass through (the registry wraps each client): whatever
 * leaves an adapter as a failure is a classified `UpstreamError` that names the model, and its
 * message has every configured secret scrubbed, whether it failed before the answer, mid-stream
 * or on an embeddings call. No adapter redacts on its own.
 */
import { GatewayError, UpstreamError } from '../errors.ts';
import type { Scrub } from '../lib/secrets.ts';
import { transportError } from './http.ts';
import type { CallOptions, ModelClient, StreamResult } from './types.ts';

export function guardClient(client: ModelClient, scrub: Scrub): ModelClient {
  const { spec } = client;
  const context = { provider: spec.provider, model: spec.name };
  const clean = (error: unknown, options: CallOptions): unknown => {
    if (error instanceof GatewayError) return error;
    const upstream = error instanceof UpstreamError ? error : transportError(error, options.signal, context);
    upstream.model ??= spec.name;
    upstream.provider ??= spec.provider;
    upstream.message = scrub(upstream.message);
    if (upstream.detail) upstream.detail = scrub(upstream.detail);
    return upstream;
  };
  const guarded: ModelClient = {
    spec,
    chat: (request, options) =>
      client.chat(request, options).catch((error: unknown) => {
        throw clean(error, options);
      }),
    stream: (request, options) =>
      client.stream(request, options).then(
        (result): StreamResult => ({
          meta: result.meta,
          chunks: guardChunks(result.chunks, (error) => clean(error, options)),
        }),
        (error: unknown) => {
          throw clean(error, options);
        },
      ),
  };
  if (client.embeddings) {
    const embeddings = client.embeddings.bind(client);
    guarded.embeddings = (request, options) =>
      embeddings(request, options).catch((error: unknown) => {
        throw clean(error, options);
      });
  }
  if (client.close) guarded.close = client.close.bind(client);
  return guarded;
}

/** The same chunks, failures cleaned: a plain iterator (no generator layer per chunk). */
function guardChunks<T>(chunks: AsyncIterable<T>, clean: (error: unknown) => unknown): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const inner = chunks[Symbol.asyncIterator]();
      const rethrow = (error: unknown): never => {
        throw clean(error);
      };
      return {
        next: () => inner.next().catch(rethrow),
        return: (value?: unknown) =>
          inner.return
            ? inner.return(value).catch(rethrow)
            : Promise.resolve({ done: true as const, value: undefined as T }),
      };
    },
  };
}
