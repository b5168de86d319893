/**
 * An exact-match response cache: the same deterministic request (temperature 0 or a seed, or a
 * client that asks with `x-switchyard-cache: force`) gets the stored answer, at no cost. Keyed by
 * a hash of the normalised request — the model asked for (for `auto`, the inputs of the decision:
 * the alias and the priority header, never the model it happened to pick), messages, tools,
 * response format and every sampling parameter — and, unless `shared_across_keys`, the client key.
 * In process memory (an LRU bounded in bytes) or, with `state.redis`, in the shared store.
 * A stream is stored as its completed answer and replayed as a stream.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../state/store.ts';
import { key } from '../state/store.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../types/openai.ts';
import type { RequestOptions } from './types.ts';

export interface CacheSettings {
  ttlMs: number;
  maxBytes: number;
  maxEntries: number;
  /** The largest answer stored, bytes. */
  maxEntryBytes: number;
  sharedAcrossKeys: boolean;
  /** In the shared store (a fleet) rather than this process's memory. */
  shared: boolean;
}

/** Fields that do not change the answer: left out of the key. */
const ignoredFields = new Set(['stream', 'stream_options', 'user', 'metadata', 'store', 'n']);

export class ResponseCache {
  private readonly memory = new Map<string, { value: string; expiresAt: number }>();
  private bytes = 0;

  constructor(
    private readonly settings: CacheSettings,
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cache key for this request, or undefined when it may not be cached (not deterministic, or the client said no-cache). */
  keyFor(request: ChatRequest, options: RequestOptions): { key: string; read: boolean } | undefined {
    const headers = options.headers ?? {};
    const asked = String(headers['x-switchyard-cache'] ?? '').toLowerCase();
    if (asked === 'bypass' || asked === 'off') return undefined;
    const deterministic = request.temperature === 0 || (request.seed !== undefined && request.seed !== null);
    if (!deterministic && asked !== 'force') return undefined;
    const cacheControl = String(headers['cache-control'] ?? '').toLowerCase();
    const hash = createHash('sha256');
    hash.update(this.settings.sharedAcrossKeys ? '*' : (options.clientKeyId ?? '-'));
    hash.update('\0');
    if (request.model === 'auto' || request.model.startsWith('auto:')) {
      hash.update(String(headers['x-switchyard-priority'] ?? ''));
    }
    hash.update('\0');
    hash.update(canonical(request));
    // `no-cache`: do not answer from the cache (a fresh answer is still stored).
    return { key: hash.digest('base64url'), read: !/\bno-(cache|store)\b/.test(cacheControl) };
  }

  async get(cacheKey: string): Promise<{ completion: ChatCompletion; model: string } | undefined> {
    const text = this.settings.shared
      ? await this.store.get(key<string>(`cache:${cacheKey}`))
      : this.fromMemory(cacheKey);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as { completion: ChatCompletion; model: string };
    } catch {
      return undefined;
    }
  }

  async put(cacheKey: string, model: string, completion: ChatCompletion): Promise<void> {
    const text = JSON.stringify({ completion, model });
    if (text.length > this.settings.maxEntryBytes) return;
    if (this.settings.shared) {
      await this.store.set(key<string>(`cache:${cacheKey}`), text, { ttlMs: this.settings.ttlMs });
      return;
    }
    this.drop(cacheKey);
    this.memory.set(cacheKey, { value: text, expiresAt: this.now() + this.settings.ttlMs });
    this.bytes += text.length;
    // Oldest first: a Map iterates in insertion order, and a hit re-inserts.
    for (const [oldest] of this.memory) {
      if (this.bytes <= this.settings.maxBytes && this.memory.size <= this.settings.maxEntries) break;
      this.drop(oldest);
    }
  }

  private fromMemory(cacheKey: string): string | undefined {
    const entry = this.memory.get(cacheKey);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.drop(cacheKey);
      return undefined;
    }
    this.memory.delete(cacheKey);
    this.memory.set(cacheKey, entry);
    return entry.value;
  }

  private drop(cacheKey: string): void {
    const entry = this.memory.get(cacheKey);
    if (!entry) return;
    this.bytes -= entry.value.length;
    this.memory.delete(cacheKey);
  }
}

/** The request as a canonical JSON text: keys sorted, the fields that do not change the answer left out. */
function canonical(request: ChatRequest): string {
  const sorted = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) return value.map((item) => sorted(item, false));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(value).sort()) {
      if (top && ignoredFields.has(name)) continue;
      const item = (value as Record<string, unknown>)[name];
      if (item !== undefined) out[name] = sorted(item, false);
    }
    return out;
  };
  return JSON.stringify(sorted(request, true));
}

/** A completion assembled from a stream's chunks, to be stored. */
export function completionFromChunks(
  chunks: readonly ChatCompletionChunk[],
  id: string,
  model: string,
): ChatCompletion | undefined {
  let content = '';
  const toolCalls: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> =
    [];
  let finish: ChatCompletion['choices'][number]['finish_reason'] = null;
  let usage: ChatCompletion['usage'];
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (typeof choice.delta.content === 'string') content += choice.delta.content;
    for (const call of choice.delta.tool_calls ?? []) {
      let slot = toolCalls[call.index];
      if (!slot) {
        slot = { id: '', type: 'function', function: { name: '', arguments: '' } };
        toolCalls[call.index] = slot;
      }
      if (call.id) slot.id = call.id;
      if (call.function?.name) slot.function.name += call.function.name;
      if (call.function?.arguments) slot.function.arguments += call.function.arguments;
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  if (!finish) return undefined;
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: toolCalls.length > 0 && content === '' ? null : content,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: finish,
      },
    ],
    ...(usage ? { usage } : {}),
  };
}

/** A stored answer replayed as a stream: the role, the text in pieces, any tool calls, the finish, usage when asked. */
export function* chunksFromCompletion(
  completion: ChatCompletion,
  id: string,
  withUsage: boolean,
): Generator<ChatCompletionChunk> {
  const base = {
    id,
    object: 'chat.completion.chunk' as const,
    created: completion.created,
    model: completion.model,
  };
  const choice = completion.choices[0];
  const message = choice?.message;
  yield { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
  const text = message?.content ?? '';
  // Word-sized pieces, as a model streams them.
  for (const piece of text.match(/\s*\S+\s*/g) ?? (text ? [text] : [])) {
    yield { ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
  }
  const calls = message?.tool_calls ?? [];
  for (let index = 0; index < calls.length; index++) {
    const call = calls[index]!;
    yield {
      ...base,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              {
                index,
                id: call.id,
                type: 'function',
                function: { name: call.function.name, arguments: call.function.arguments },
              },
            ],
          },
          finish_reason: null,
        },
      ],
    };
  }
  yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: choice?.finish_reason ?? 'stop' }] };
  if (withUsage) {
    yield { ...base, choices: [], usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } };
  }
}
