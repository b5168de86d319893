import { UpstreamError } from '../../errors.ts';
import type { ChatCompletionChunk } from '../../types/openai.ts';
import type { ErrorContext } from '../http.ts';
import type { SseEvent } from '../sse.ts';
import { extractOpenAIError } from './error-body.ts';

/**
 * OpenAI SSE -> chunks. The stream is complete at `data: [DONE]`, or (for servers that omit
 * it) when the body ends after a finish_reason was seen. A body that ends before any
 * finish_reason was cut short, and throws: it must never look like a normal completion.
 */
export async function* openAIChunks(
  events: AsyncIterable<SseEvent>,
  context: ErrorContext,
  modelName: string,
  warn?: (message: string) => void,
): AsyncGenerator<ChatCompletionChunk> {
  let finished = false;
  let done = false;
  try {
    for await (const event of events) {
      // After [DONE], read on to the end of the body (it ends at once): leaving the loop early
      // would destroy the socket's stream with an AbortError, a stack trace per request.
      if (done) continue;
      if (event.data === '[DONE]') {
        done = true;
        continue;
      }
      let chunk: ChatCompletionChunk & { error?: unknown };
      try {
        chunk = JSON.parse(event.data);
      } catch {
        warn?.(`${context.model} sent a malformed stream chunk; skipped`);
        continue; // A malformed chunk is skipped; the stream goes on.
      }
      if (chunk.error !== undefined) {
        const details = extractOpenAIError(chunk);
        throw new UpstreamError('server', `${context.model} failed mid-stream`, {
          detail: details.message,
          upstreamCode: details.code,
          provider: context.provider,
          model: context.model,
        });
      }
      if (!Array.isArray(chunk.choices)) continue;
      chunk.model = modelName;
      for (const choice of chunk.choices) if (choice.finish_reason) finished = true;
      yield chunk;
    }
  } catch (error) {
    if (done) return; // everything arrived; a reset after [DONE] changes nothing
    throw error;
  }
  if (done) return;
  if (!finished) {
    throw new UpstreamError('network', `${context.model}'s stream ended before it finished`, {
      provider: context.provider,
      model: context.model,
    });
  }
}
