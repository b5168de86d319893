/**
 * Any OpenAI-compatible Chat Completions API: OpenAI, an aggregator's /v1, DeepSeek, vLLM,
 * Ollama. Fields the gateway does not know pass through untouched.
 */
import { UpstreamError } from '../../errors.ts';
import type {
  ChatCompletion,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../types/openai.ts';
import {
  type ErrorContext,
  errorFromResponse,
  type HttpResponse,
  joinUrl,
  parseJsonBody,
  readText,
  type TextResponse,
  upstreamMeta,
} from '../http.ts';
import type { CallOptions, ModelClient, ProviderDeps, ProviderModule } from '../types.ts';
import { extractOpenAIError } from './error-body.ts';
import { openAIChunks } from './stream.ts';

export const openaiProvider: ProviderModule = {
  name: 'openai',
  create(spec, deps): ModelClient {
    const baseUrl = spec.baseUrl ?? 'https://api.openai.com/v1';
    const chatUrl = joinUrl(baseUrl, '/chat/completions');
    const embeddingsUrl = joinUrl(baseUrl, '/embeddings');
    const context: ErrorContext = { provider: 'openai', model: spec.name };
    const headers: Record<string, string> = { 'content-type': 'application/json', ...spec.headers };
    if (spec.apiKey) headers.authorization = `Bearer ${spec.apiKey}`;

    /** A non-streaming call: the whole body as text, errors classified. */
    const postForText = async (url: string, body: unknown, options: CallOptions): Promise<TextResponse> => {
      const response = await deps.http.sendText(
        { url, headers, body: JSON.stringify(body) },
        options,
        context,
      );
      if (response.status >= 200 && response.status < 300) return response;
      throw errorFromResponse(response.status, response.headers, response.text, context, extractOpenAIError);
    };

    const post = async (url: string, body: unknown, options: CallOptions): Promise<HttpResponse> => {
      const response = await deps.http.send({ url, headers, body: JSON.stringify(body) }, options, context);
      if (response.status >= 200 && response.status < 300) return response;
      const text = await readText(response, options, context).catch(() => '');
      throw errorFromResponse(response.status, response.headers, text, context, extractOpenAIError);
    };

    return {
      spec,
      async chat(request, options) {
        const response = await postForText(chatUrl, toUpstream(request, spec.upstreamModel, false), options);
        const completion = parseJsonBody<ChatCompletion>(response.text, response, context);
        if (!completion || !Array.isArray(completion.choices)) {
          throw malformed(context, 'a chat completion without choices', response.status);
        }
        completion.model = spec.name;
        return { completion, meta: upstreamMeta(response.status, response.headers) };
      },
      async stream(request, options) {
        const response = await post(chatUrl, toUpstream(request, spec.upstreamModel, true), options);
        return {
          meta: upstreamMeta(response.status, response.headers),
          chunks: openAIChunks(response, options, context, spec.name, deps.warn),
        };
      },
      async embeddings(request: EmbeddingsRequest, options: CallOptions) {
        const response = await postForText(embeddingsUrl, { ...request, model: spec.upstreamModel }, options);
        const body = parseJsonBody<EmbeddingsResponse>(response.text, response, context);
        if (!body || !Array.isArray(body.data)) {
          throw malformed(context, 'an embeddings response without data', response.status);
        }
        body.model = spec.name;
        return { response: body, meta: upstreamMeta(response.status, response.headers) };
      },
    };
  },
};

/** The upstream body: the client's request with the deployment's model id. */
function toUpstream(request: ChatRequest, upstreamModel: string, stream: boolean): ChatRequest {
  const body: ChatRequest = { ...request, model: upstreamModel, stream };
  if (stream) {
    // Ask for usage on the last chunk so cost is measured, not guessed.
    body.stream_options = { ...(request.stream_options ?? {}), include_usage: true };
  } else {
    delete body.stream_options;
  }
  return body;
}

function malformed(context: ErrorContext, what: string, status: number): UpstreamError {
  return new UpstreamError('bad_response', `${context.model}'s upstream returned ${what}`, {
    status,
    provider: context.provider,
    model: context.model,
  });
}

export type { ProviderDeps };
