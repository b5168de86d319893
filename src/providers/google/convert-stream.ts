/**
 * Gemini `streamGenerateContent?alt=sse` events -> OpenAI `ChatCompletionChunk`s. Each SSE
 * `data:` is a whole GenerateContentResponse holding the next slice of each candidate.
 * Gemini sends no `[DONE]`: a finishReason is the only completion signal, so a stream that ends
 * without one is reported as cut, never as a short answer.
 */
import { UpstreamError } from '../../errors.ts';
import type { ChatCompletionChunk, ChunkDelta, FinishReason, Usage } from '../../types/openai.ts';
import type { SseEvent } from '../sse.ts';
import {
  type ConvertContext,
  functionCallsOf,
  type GeminiResponse,
  googleError,
  isRecord,
  mapFinishReason,
  partsOf,
  promptBlocked,
  responseBlocked,
  textOf,
  toUsage,
} from './convert-response.ts';

interface ChoiceState {
  /** The first delta of a choice carries role 'assistant'. */
  started: boolean;
  /** Anything visible sent (text or a tool call). */
  emitted: boolean;
  /** OpenAI tool_call delta index, counted per choice. */
  toolCalls: number;
  finished: boolean;
}

export async function* toChunkStream(
  events: AsyncIterable<SseEvent>,
  ctx: ConvertContext,
): AsyncGenerator<ChatCompletionChunk> {
  const choices = new Map<number, ChoiceState>();
  let usage: Usage | undefined;

  const chunk = (index: number, delta: ChunkDelta, finish: FinishReason = null): ChatCompletionChunk => {
    const state = choices.get(index)!;
    const first = !state.started;
    state.started = true;
    return {
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      choices: [{ index, delta: first ? { role: 'assistant', ...delta } : delta, finish_reason: finish }],
    };
  };

  for await (const event of events) {
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      ctx.warn?.(`${ctx.model} sent a malformed stream event; skipped`);
      continue; // One garbled event should not sink an otherwise good stream.
    }
    if (!isRecord(payload)) continue;
    // Gemini can report a failure inside a 200 stream as `{"error":{...}}`.
    if (isRecord(payload.error)) {
      const code = typeof payload.error.code === 'number' ? payload.error.code : 500;
      throw googleError(code, {}, event.data, { provider: ctx.provider, model: ctx.model });
    }
    const response = payload as GeminiResponse;
    const latest = toUsage(response.usageMetadata);
    if (latest) usage = latest; // Cumulative: the last one is the total.

    const candidates = Array.isArray(response.candidates) ? response.candidates : [];
    if (candidates.length === 0 && response.promptFeedback?.blockReason) throw promptBlocked(response, ctx);

    for (const [position, candidate] of candidates.entries()) {
      if (typeof candidate !== 'object' || candidate === null) continue;
      const index = typeof candidate.index === 'number' ? candidate.index : position;
      let state = choices.get(index);
      if (!state) {
        state = { started: false, emitted: false, toolCalls: 0, finished: false };
        choices.set(index, state);
      }
      if (state.finished) continue;

      const parts = partsOf(candidate);
      const text = textOf(parts);
      if (text !== '') {
        state.emitted = true;
        yield chunk(index, { content: text });
      }
      // Gemini sends each call whole, so one delta carries the id, name and full arguments.
      for (const call of functionCallsOf(parts)) {
        state.emitted = true;
        yield chunk(index, {
          tool_calls: [
            {
              index: state.toolCalls++,
              id: ctx.newId('call'),
              type: 'function',
              function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
            },
          ],
        });
      }

      if (typeof candidate.finishReason === 'string' && candidate.finishReason !== '') {
        const finish = mapFinishReason(candidate.finishReason, state.toolCalls > 0);
        // Filtered before anything was sent: a refusal the gateway can act on, not an empty answer.
        if (finish === 'content_filter' && !state.emitted) throw responseBlocked(candidate, ctx);
        state.finished = true;
        yield chunk(index, {}, finish);
      }
    }
  }

  if (choices.size === 0 || [...choices.values()].some((state) => !state.finished)) {
    throw new UpstreamError('bad_response', `${ctx.model}'s stream ended before a finish reason`, {
      provider: ctx.provider,
      model: ctx.model,
    });
  }
  if (usage) {
    yield {
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      choices: [],
      usage,
    };
  }
}
