/**
 * The Anthropic adapter: the gateway's OpenAI-shaped requests go to Anthropic's native
 * Messages API (POST {base}/v1/messages) and come back as OpenAI completions and chunks.
 */
import type { ModelSpec } from '../../config/model-spec.ts';
import { UpstreamError } from '../../errors.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../types/openai.ts';
import {
  type ErrorContext,
  errorFromResponse,
  type HttpResponse,
  joinUrl,
  parseJsonBody,
  readText,
  redactSecret,
  transportError,
  upstreamMeta,
} from '../http.ts';
import { parseSse } from '../sse.ts';
import type { CallOptions, ModelClient, ProviderDeps, ProviderModule } from '../types.ts';
import { toAnthropicRequest } from './convert-request.ts';
import {
  errorFromEvent,
  extractError,
  isAnthropicError,
  isAnthropicMessage,
  toChatCompletion,
} from './convert-response.ts';
import { anthropicStreamToChunks } from './convert-stream.ts';

const defaultBaseUrl = 'https://api.anthropic.com';
const apiVersion = '2023-06-01';

/** `https://api.anthropic.com` -> .../v1/messages; a base that already ends in /v1 gets /messages. */
export function messagesUrl(baseUrl: string | undefined): string {
  const base = (baseUrl ?? defaultBaseUrl).replace(/\/+$/, '');
  return joinUrl(base, /\/v1$/.test(base) ? '/messages' : '/v1/messages');
}

export const anthropicProvider: ProviderModule = {
  name: 'anthropic',
  create(spec: ModelSpec, deps: ProviderDeps): ModelClient {
    const url = messagesUrl(spec.baseUrl);
    const context: ErrorContext = { provider: 'anthropic', model: spec.name };

    const headers = (accept: string): Record<string, string> => ({
      'content-type': 'application/json',
      accept,
      'anthropic-version': apiVersion,
      ...(spec.apiKey ? { 'x-api-key': spec.apiKey } : {}),
      // Config headers last: they may pin another anthropic-version or add beta flags.
      ...spec.headers,
    });

    /** Send, and turn any non-2xx answer into a classified error. */
    const send = async (body: unknown, accept: string, options: CallOptions): Promise<HttpResponse> => {
      const response = await deps.http.send(
        { url, method: 'POST', headers: headers(accept), body: JSON.stringify(body) },
        options,
        context,
      );
      if (response.status < 200 || response.status >= 300) {
        const text = await readText(response, options, context);
        throw errorFromResponse(response.status, response.headers, text, context, extractError);
      }
      return response;
    };

    return {
      spec,

      async chat(request: ChatRequest, options: CallOptions) {
        return guard(options, async () => {
          const response = await send(toAnthropicRequest(request, spec, false), 'application/json', options);
          const text = await readText(response, options, context);
          const body = parseJsonBody<unknown>(text, response, context);
          // Some proxies answer 200 with an error body.
          if (isAnthropicError(body)) throw errorFromEvent(body, { ...context, status: response.status });
          if (!isAnthropicMessage(body)) {
            throw new UpstreamError(
              'bad_response',
              `${spec.name}'s upstream returned JSON that is not a message`,
              {
                status: response.status,
                ...context,
              },
            );
          }
          return {
            completion: toChatCompletion(body, spec, deps.nowSeconds()),
            meta: upstreamMeta(response.status, response.headers),
          };
        });
      },

      async stream(request: ChatRequest, options: CallOptions) {
        return guard(options, async () => {
          const response = await send(toAnthropicRequest(request, spec, true), 'text/event-stream', options);
          const chunks = anthropicStreamToChunks(parseSse(response.body), {
            spec,
            created: deps.nowSeconds(),
            fallbackId: deps.newId('chatcmpl'),
            warn: deps.warn,
          });
          return {
            meta: upstreamMeta(response.status, response.headers),
            chunks: guardStream(chunks, options),
          };
        });
      },
    };

    /** Every error leaving the adapter is an UpstreamError naming this model, with no key in it. */
    function finalError(error: unknown, options: CallOptions): UpstreamError {
      const upstream =
        error instanceof UpstreamError ? error : transportError(error, options.signal, context);
      upstream.model ??= spec.name;
      upstream.provider ??= 'anthropic';
      return redactSecret(upstream, spec.apiKey);
    }

    async function guard<T>(options: CallOptions, run: () => Promise<T>): Promise<T> {
      try {
        return await run();
      } catch (error) {
        throw finalError(error, options);
      }
    }

    /** Mid-stream socket failures (reset, idle timeout, abort) surface as classified errors. */
    async function* guardStream(
      chunks: AsyncGenerator<ChatCompletionChunk>,
      options: CallOptions,
    ): AsyncGenerator<ChatCompletionChunk> {
      try {
        yield* chunks;
      } catch (error) {
        throw finalError(error, options);
      }
    }
  },
};
