/**
 * The Anthropic adapter: the gateway's OpenAI-shaped requests go to Anthropic's native
 * Messages API (POST {base}/v1/messages) and come back as OpenAI completions and chunks.
 */
import type { ModelSpec } from '../../config/model-spec.ts';
import { UpstreamError } from '../../errors.ts';
import type { ChatRequest } from '../../types/openai.ts';
import { joinUrl } from '../http.ts';
import type { CallOptions, ModelClient, ProviderDeps, ProviderModule } from '../types.ts';
import { createUpstream } from '../upstream.ts';
import { anthropicBetaHeader, toAnthropicRequest } from './convert-request.ts';
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
  defaultCapabilities: ['tools', 'json', 'streaming', 'prefill', 'vision'],
  // Anthropic: cache reads at 0.1x the input price, writes (5-minute cache) at 1.25x.
  cachePricing: { read: 0.1, write: 1.25 },
  create(spec: ModelSpec, deps: ProviderDeps): ModelClient {
    const url = messagesUrl(spec.baseUrl);
    const upstream = createUpstream(deps, {
      provider: 'anthropic',
      model: spec.name,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'anthropic-version': apiVersion,
        ...(spec.apiKey ? { 'x-api-key': spec.apiKey } : {}),
        // Config headers last: they may pin another anthropic-version or add beta flags.
        ...spec.headers,
      },
      extractError,
      remainingHeaders: {
        requests: 'anthropic-ratelimit-requests-remaining',
        tokens: 'anthropic-ratelimit-tokens-remaining',
      },
    });
    const { context } = upstream;
    const configuredBeta = Object.entries(spec.headers).find(
      ([name]) => name.toLowerCase() === 'anthropic-beta',
    )?.[1];
    /** The client's `anthropic-beta` flags (Messages front door), joined with the configured ones. */
    const betaHeaders = (request: ChatRequest): Record<string, string> | undefined => {
      const asked = anthropicBetaHeader(request);
      if (!asked) return undefined;
      return { 'anthropic-beta': configuredBeta ? `${configuredBeta},${asked}` : asked };
    };

    return {
      spec,

      async chat(request: ChatRequest, options: CallOptions) {
        const { body, meta } = await upstream.json<unknown>(
          url,
          toAnthropicRequest(request, spec, false),
          options,
          betaHeaders(request),
        );
        // Some proxies answer 200 with an error body.
        if (isAnthropicError(body)) throw errorFromEvent(body, { ...context, status: meta.status });
        if (!isAnthropicMessage(body)) {
          throw new UpstreamError(
            'bad_response',
            `${spec.name}'s upstream returned JSON that is not a message`,
            {
              status: meta.status,
              ...context,
            },
          );
        }
        return { completion: toChatCompletion(body, spec, deps.nowSeconds()), meta };
      },

      async stream(request: ChatRequest, options: CallOptions) {
        const { events, meta } = await upstream.events(
          url,
          toAnthropicRequest(request, spec, true),
          options,
          betaHeaders(request),
        );
        const chunks = anthropicStreamToChunks(events, {
          spec,
          created: deps.nowSeconds(),
          fallbackId: deps.newId('chatcmpl'),
          warn: deps.warn,
        });
        return { meta, chunks };
      },
    };
  },
};
