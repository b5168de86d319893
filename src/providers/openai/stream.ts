import { UpstreamError } from '../../errors.ts';
import { type ChatCompletionChunk, type VerbatimJson, verbatim } from '../../types/openai.ts';
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
  // An upstream stream's id and model are the same in every chunk: serialised once.
  const quoted: Quoted = { id: undefined, idJson: '', model: undefined, modelJson: '' };
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
      chunk[verbatim] = splitVerbatim(event.data, chunk, quoted);
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

const idPrefix = '{"id":';
const lineBreak = /[\r\n]/;

/** The last id and model seen, with their JSON (`modelJson` with its key). */
interface Quoted {
  id: string | undefined;
  idJson: string;
  model: string | undefined;
  modelJson: string;
}

/**
 * The chunk's JSON split around its top-level `id` and `model` values, when it is in the compact
 * form OpenAI and most servers write (`{"id":...,` first, `"model":` before any nested object or
 * array, so it is the top-level one, each key once, on one line); otherwise undefined, and the
 * chunk is serialised again. (A tool call's own `"id"` also sends a chunk the slow way: rare.)
 */
function splitVerbatim(text: string, chunk: ChatCompletionChunk, quoted: Quoted): VerbatimJson | undefined {
  const { id, model } = chunk;
  if (typeof id !== 'string' || typeof model !== 'string' || !text.startsWith(idPrefix)) return undefined;
  // An event of several `data:` lines (or a bare CR) holds line breaks JSON allows between
  // tokens; sent on, they would end the client's SSE event early.
  if (lineBreak.test(text)) return undefined;
  if (id !== quoted.id) {
    quoted.id = id;
    quoted.idJson = JSON.stringify(id);
  }
  if (model !== quoted.model) {
    quoted.model = model;
    quoted.modelJson = `"model":${JSON.stringify(model)}`;
  }
  if (!text.startsWith(quoted.idJson, idPrefix.length)) return undefined;
  const idEnd = idPrefix.length + quoted.idJson.length;
  const at = text.indexOf(quoted.modelJson, idEnd);
  // A key, not the tail of one (`"a\"model":`); and the only one (JSON.parse keeps the last of
  // a repeated key, so a second `"model"` or `"id"` would be what clients read).
  if (at === -1 || text.charCodeAt(at - 1) !== 0x2c) return undefined;
  for (let i = idEnd; i < at; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) return undefined; // `{` or `[`: maybe not the top level
  }
  const valueAt = at + 8; // after `"model":`
  const afterModel = text.slice(at + quoted.modelJson.length);
  if (afterModel.includes('"model":') || text.includes('"id":', idEnd)) return undefined;
  return { afterId: text.slice(idEnd, valueAt), afterModel };
}
