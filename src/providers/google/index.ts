/**
 * The Google Gemini adapter: OpenAI Chat Completions in, Gemini's native generateContent /
 * streamGenerateContent (SSE) on the wire. The key travels only in `x-goog-api-key`, never in
 * the URL, so it cannot leak through logged URLs or error messages.
 */
import type { ModelSpec } from '../../config/model-spec.ts';
import { UpstreamError } from '../../errors.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../types/openai.ts';
import {
  type ErrorContext,
  type HttpResponse,
  joinUrl,
  parseJsonBody,
  readText,
  redactSecret,
  transportError,
  upstreamMeta,
} from '../http.ts';
import { parseSse, type SseEvent } from '../sse.ts';
import type { CallOptions, ModelClient, ProviderDeps, ProviderModule } from '../types.ts';
import { needsThoughtSignature, toGeminiRequest } from './convert-request.ts';
import { type ConvertContext, googleError, toChatCompletion } from './convert-response.ts';
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
  create(spec: ModelSpec, deps: ProviderDeps): ModelClient {
    const context: ErrorContext = { provider: 'google', model: spec.name };
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...spec.headers,
      ...(spec.apiKey ? { 'x-goog-api-key': spec.apiKey } : {}),
    };
    const requestOptions = { thoughtSignatureSentinel: needsThoughtSignature(spec.upstreamModel) };

    const convertContext = (): ConvertContext => ({
      model: spec.name,
      provider: 'google',
      id: deps.newId('chatcmpl'),
      created: deps.nowSeconds(),
      newId: deps.newId,
      warn: deps.warn,
    });

    // Belt and braces: should an upstream ever echo the key back, it never leaves this adapter.
    const scrub = (error: unknown): unknown =>
      error instanceof UpstreamError ? redactSecret(error, spec.apiKey) : error;

    const post = async (
      method: string,
      request: ChatRequest,
      options: CallOptions,
    ): Promise<HttpResponse> => {
      const body = JSON.stringify(toGeminiRequest(request, requestOptions));
      const response = await deps.http.send(
        { url: geminiUrl(spec.baseUrl, spec.upstreamModel, method), method: 'POST', headers, body },
        options,
        context,
      );
      if (response.status >= 200 && response.status < 300) return response;
      const text = await readText(response, options, context);
      throw googleError(response.status, response.headers, text, context, deps.nowSeconds() * 1000);
    };

    return {
      spec,
      async chat(request, options) {
        try {
          const response = await post('generateContent', request, options);
          const text = await readText(response, options, context);
          const completion = toChatCompletion(
            parseJsonBody<unknown>(text, response, context),
            convertContext(),
          );
          return { completion, meta: upstreamMeta(response.status, response.headers) };
        } catch (error) {
          throw scrub(error);
        }
      },
      async stream(request, options) {
        let response: HttpResponse;
        try {
          response = await post('streamGenerateContent?alt=sse', request, options);
        } catch (error) {
          throw scrub(error);
        }
        const events = classifiedEvents(response, options, context);
        return {
          meta: upstreamMeta(response.status, response.headers),
          chunks: scrubbed(toChunkStream(events, convertContext()), scrub),
        };
      },
    };
  },
};

/** SSE events off the body, with mid-body transport failures (idle timeout, reset) classified. */
async function* classifiedEvents(
  response: HttpResponse,
  options: CallOptions,
  context: ErrorContext,
): AsyncGenerator<SseEvent> {
  try {
    yield* parseSse(response.body);
  } catch (error) {
    throw transportError(error, options.signal, context);
  }
}

async function* scrubbed(
  chunks: AsyncGenerator<ChatCompletionChunk>,
  scrub: (error: unknown) => unknown,
): AsyncGenerator<ChatCompletionChunk> {
  try {
    yield* chunks;
  } catch (error) {
    throw scrub(error);
  }
}
