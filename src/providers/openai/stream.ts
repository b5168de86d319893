import { UpstreamError } from '../../errors.ts';
import type { ChatCompletionChunk } from '../../types/openai.ts';
import { type ErrorContext, type HttpResponse, transportError } from '../http.ts';
import { parseSse } from '../sse.ts';
import type { CallOptions } from '../types.ts';
import { extractOpenAIError } from './error-body.ts';

/**
 * OpenAI SSE -> chunks. The stream is complete at `data: [DONE]`, or (for servers that omit
 * it) when the body ends after a finish_reason was seen. A body that ends before any
 * finish_reason was cut short, and throws: it must never look like a normal completion.
 */
export async function* openAIChunks(
  response: HttpResponse,
  options: CallOptions,
  context: ErrorContext,
  modelName: string,
): AsyncGenerator<ChatCompletionChunk> {
  let finished = false;
  try {
    for await (const event of parseSse(response.body)) {
      if (event.data === '[DONE]') return;
      let chunk: ChatCompletionChunk & { error?: unknown };
      try {
        chunk = JSON.parse(event.data);
      } catch {
        continue; // A malformed chunk is skipped; the stream goes on.
      }
      if (chunk.error !== undefined) {
        const details = extractOpenAIError(chunk);
        throw new UpstreamError(
          'server',
          `${context.model} failed mid-stream: ${details.message ?? 'unknown error'}`,
          {
            upstreamCode: details.code,
            provider: context.provider,
            model: context.model,
          },
        );
      }
      if (!Array.isArray(chunk.choices)) continue;
      chunk.model = modelName;
      for (const choice of chunk.choices) if (choice.finish_reason) finished = true;
      yield chunk;
    }
  } catch (error) {
    throw transportError(error, options.signal, undefined, context);
  } finally {
    // If our consumer stopped early (client gone, failover), release the socket.
    if (!response.body.destroyed) response.body.destroy();
  }
  if (!finished) {
    throw new UpstreamError('network', `${context.model}'s stream ended before it finished`, {
      provider: context.provider,
      model: context.model,
    });
  }
}
