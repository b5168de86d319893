/**
 * The Google Gemini adapter: OpenAI Chat Completions in, Gemini's native generateContent /
 * streamGenerateContent (SSE) on the wire. The key travels only in `x-goog-api-key`, never in
 * the URL, so it cannot leak through logged URLs or error messages.
 */
import type { ModelSpec } from '../../config/model-spec.ts';
import { joinUrl } from '../http.ts';
import { type ModelClient, type ProviderDeps, type ProviderModule, withOutputCap } from '../types.ts';
import { createUpstream } from '../upstream.ts';
import { needsThoughtSignature, toGeminiRequest } from './convert-request.ts';
import {
  type ConvertContext,
  extractGoogleError,
  googleError,
  toChatCompletion,
} from './convert-response.ts';
import { toChunkStream } from './convert-stream.ts';

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

/**
 * `{base}/v1beta/models/{model}:{method}`. A base that already ends in a version segment
 * (an aggregator's `.../gemini/v1beta`) keeps it instead of gaining a second one.
 */
export function geminiUrl(baseUrl: string | undefined, upstreamModel: string, method: string): string {
  const base = (baseUrl || DEFAULT_BASE_URL).replace(/\/+$/, '');
  const versioned = /\/v1(beta\d*|alpha\d*)?$/.test(base) ? base : `${base}/v1beta`;
  // A bare id gets `models/`; a full resource name (models/x, tunedModels/y) is used as is.
  const resource = upstreamModel.includes('/') ? upstreamModel : `models/${upstreamModel}`;
  return joinUrl(versioned, `${resource}:${method}`);
}

export const googleProvider: ProviderModule = {
  name: 'google',
  defaultCapabilities: ['tools', 'json', 'streaming', 'vision'],
  // Gemini's implicit cache reads at 0.25x the input price.
  cachePricing: { read: 0.25, write: 1 },
  create(spec: ModelSpec, deps: ProviderDeps): ModelClient {
    const errorContext = { provider: 'google', model: spec.name };
    const upstream = createUpstream(deps, {
      provider: 'google',
      model: spec.name,
      headers: {
        'content-type': 'application/json',
        ...spec.headers,
        ...(spec.apiKey ? { 'x-goog-api-key': spec.apiKey } : {}),
      },
      extractError: extractGoogleError,
      // Gemini answers a bad key with 400 INVALID_ARGUMENT: googleError reads it as an auth failure.
      classify: (status, headers, bodyText, nowMs) =>
        googleError(status, headers, bodyText, errorContext, nowMs),
    });
    const requestOptions = { thoughtSignatureSentinel: needsThoughtSignature(spec.upstreamModel) };
    const generateUrl = geminiUrl(spec.baseUrl, spec.upstreamModel, 'generateContent');
    const streamUrl = geminiUrl(spec.baseUrl, spec.upstreamModel, 'streamGenerateContent?alt=sse');

    const convertContext = (): ConvertContext => ({
      model: spec.name,
      provider: 'google',
      id: deps.newId('chatcmpl'),
      created: deps.nowSeconds(),
      newId: deps.newId,
      warn: deps.warn,
    });

    return {
      spec,
      async chat(request, options) {
        const { body, meta } = await upstream.json<unknown>(
          generateUrl,
          toGeminiRequest(withOutputCap(request, spec), requestOptions),
          options,
        );
        return { completion: toChatCompletion(body, convertContext()), meta };
      },
      async stream(request, options) {
        const { events, meta } = await upstream.events(
          streamUrl,
          toGeminiRequest(withOutputCap(request, spec), requestOptions),
          options,
        );
        return { meta, chunks: toChunkStream(events, convertContext()) };
      },
    };
  },
};
