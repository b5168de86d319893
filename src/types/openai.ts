/**
 * The OpenAI Chat Completions wire format, as Switchyard speaks it to clients.
 * Only the fields the gateway reads are typed; everything else passes through untouched.
 *
 * Extensions. A few optional fields below are not OpenAI's: they carry what the Anthropic
 * Messages front door receives and an Anthropic backend must get back unchanged (prompt-cache
 * breakpoints, thinking blocks with their signatures, `top_k`, beta flags), and what an Anthropic
 * backend answers that a Messages client must see (thinking, the stop sequence hit). Each is marked
 * "Extension". The Anthropic converters read and write them; every other backend must not receive
 * them (OpenAI rejects unknown fields): send {@link withoutExtensions}(request) to those.
 */

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

/** Extension: an Anthropic prompt-cache breakpoint (`{"type":"ephemeral","ttl":"5m"|"1h"}`). */
export interface CacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
  [key: string]: unknown;
}

/**
 * Extension: what an Anthropic `document` block had besides its data, so an Anthropic backend gets
 * the same block back. `media_type: 'text/plain'` marks a plain-text document carried as a text part.
 */
export interface AnthropicDocumentExtras {
  title?: string | null;
  context?: string | null;
  citations?: unknown;
  media_type?: string;
}

export interface TextPart {
  type: 'text';
  text: string;
  /** Extension: Anthropic cache breakpoint on this block. */
  cache_control?: CacheControl;
  /** Extension: this text was an Anthropic plain-text `document` block. */
  anthropic_document?: AnthropicDocumentExtras;
}

export interface ImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
  /** Extension: Anthropic cache breakpoint on this block. */
  cache_control?: CacheControl;
}

/**
 * Extension: an Anthropic thinking block, kept whole so it can be passed back (Anthropic rejects a
 * tool-use turn whose thinking block was changed or dropped, and verifies `signature`).
 */
export type ThinkingBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

/**
 * Extension: a piece of a thinking block in a stream. `index` numbers the thinking blocks of one
 * answer from 0; the first piece of an index opens that block. Text arrives in `thinking`, the
 * signature (once, at the end) in `signature`; a redacted block arrives whole in `data`.
 */
export interface ThinkingBlockDelta {
  index: number;
  type: 'thinking' | 'redacted_thinking';
  thinking?: string;
  signature?: string;
  data?: string;
}

export type ContentPart = TextPart | ImagePart | { type: string; [key: string]: unknown };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Extension: Anthropic cache breakpoint on this `tool_use` block. */
  cache_control?: CacheControl;
}

export interface ChatMessage {
  role: Role;
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  /** Extension (assistant): Anthropic thinking blocks of this turn, in order, before its text. */
  thinking_blocks?: ThinkingBlock[];
  /** Extension (tool): Anthropic `tool_result.is_error`. */
  is_error?: boolean;
  /** Extension (tool): Anthropic cache breakpoint on this `tool_result` block. */
  cache_control?: CacheControl;
  [key: string]: unknown;
}

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
  /** Extension: Anthropic cache breakpoint on this tool. */
  cache_control?: CacheControl;
  /**
   * Extension: fields of an Anthropic custom tool with no OpenAI equivalent (`strict`,
   * `eager_input_streaming`, `input_examples`, `defer_loading`, `allowed_callers`, `type`...),
   * copied back verbatim to an Anthropic backend.
   */
  anthropic_extra?: Record<string, unknown>;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  response_format?: { type: 'text' | 'json_object' | 'json_schema'; json_schema?: unknown } | null;
  user?: string;
  metadata?: Record<string, string>;
  /** Extension: what a Messages API request had that Chat Completions has no field for. */
  anthropic?: AnthropicRequestExtras;
  [key: string]: unknown;
}

/** Extension: Anthropic-only request data, restored by the Anthropic converter, ignored elsewhere. */
export interface AnthropicRequestExtras {
  top_k?: number;
  /** The `thinking` config as the client sent it (`{"type":"enabled","budget_tokens":N}`, ...). */
  thinking?: Record<string, unknown>;
  /** `anthropic-beta` header values, one flag per entry. */
  betas?: string[];
  /** Top-level automatic cache breakpoint. */
  cache_control?: CacheControl;
  /**
   * Anthropic-defined tools (`bash_20250124`, `web_search_20250305`, `text_editor_...`) verbatim,
   * each with its position in the client's `tools` array. Only an Anthropic backend can run them.
   */
  builtin_tools?: Array<{ position: number; tool: Record<string, unknown> }>;
  /** Other top-level fields (`output_config`, `service_tier`, `container`, ...), verbatim. */
  passthrough?: Record<string, unknown>;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | null;

/**
 * Token usage, in one normalised form whatever the provider (OpenAI's semantics):
 * - `prompt_tokens` counts every input token: uncached, read from cache and written to cache.
 * - `prompt_tokens_details.cached_tokens`: of those, read from the provider's prompt cache.
 * - `prompt_tokens_details.cache_write_tokens`: of those, written to the cache by this call
 *   (Anthropic's `cache_creation_input_tokens`; OpenAI and Gemini report none).
 * So uncached input = prompt_tokens - cached_tokens - cache_write_tokens. Anthropic reports its
 * three counts apart (`input_tokens` excludes both cache counts); Gemini's `cachedContentTokenCount`
 * is already inside `promptTokenCount`, as OpenAI's `cached_tokens` is inside `prompt_tokens`.
 * `completion_tokens_details.reasoning_tokens` is the part of `completion_tokens` spent thinking.
 */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number; [key: string]: unknown };
  completion_tokens_details?: { reasoning_tokens?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: {
      role: 'assistant';
      content: string | null;
      tool_calls?: ToolCall[];
      refusal?: string | null;
      /** Extension: the answer's Anthropic thinking blocks, in order. */
      thinking_blocks?: ThinkingBlock[];
      /** Reasoning text as DeepSeek-style OpenAI-compatible servers send it (no signature). */
      reasoning_content?: string | null;
    };
    finish_reason: FinishReason;
    logprobs?: unknown;
    /** Extension: the provider's own stop reason (e.g. Anthropic's `end_turn`, `pause_turn`). */
    native_finish_reason?: string | null;
    /** Extension: which of the request's stop sequences ended the answer, when the provider says. */
    stop_sequence?: string | null;
  }>;
  usage?: Usage;
  system_fingerprint?: string | null;
  [key: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChunkDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: ToolCallDelta[];
  refusal?: string | null;
  /** Extension: pieces of Anthropic thinking blocks. */
  thinking_blocks?: ThinkingBlockDelta[];
  /** Reasoning text as DeepSeek-style OpenAI-compatible servers stream it. */
  reasoning_content?: string | null;
  [key: string]: unknown;
}

/**
 * A chunk's own upstream JSON, split around its top-level `id` and `model` values: an OpenAI-format
 * adapter keeps it so the Chat Completions door can send the upstream's bytes on, with the two
 * values the gateway rewrites written in fresh, instead of serialising the parsed chunk again.
 * Whoever changes anything else in a chunk clears it (`chunk[verbatim] = undefined`): the
 * gateway's own fail-over does, and so must an application that wraps `chatStream` to edit
 * chunks before `createGatewayServer` sends them (the symbol is exported by the package).
 */
export const verbatim: unique symbol = Symbol('verbatim');

export interface VerbatimJson {
  /** From just after the `id` value to just before the `model` value (`,"object":...,"model":`). */
  afterId: string;
  /** Everything after the `model` value, to the closing brace. */
  afterModel: string;
}

export interface ChatCompletionChunk {
  [verbatim]?: VerbatimJson | undefined;
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: ChunkDelta;
    finish_reason: FinishReason;
    logprobs?: unknown;
    /** Extension: the provider's own stop reason, on the chunk that carries finish_reason. */
    native_finish_reason?: string | null;
    /** Extension: the stop sequence that ended the answer, on the chunk that carries finish_reason. */
    stop_sequence?: string | null;
  }>;
  usage?: Usage | null;
  system_fingerprint?: string | null;
  [key: string]: unknown;
}

export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  [key: string]: unknown;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage?: { prompt_tokens: number; total_tokens: number };
  [key: string]: unknown;
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const messageExtensions = ['thinking_blocks', 'is_error', 'cache_control'] as const;
const partExtensions = ['cache_control', 'anthropic_document'] as const;
const toolExtensions = ['cache_control', 'anthropic_extra'] as const;

/**
 * The request without the Anthropic extension fields, for backends that reject unknown fields
 * (OpenAI answers 400 "Unrecognized request argument supplied" / "Invalid value for
 * 'messages.0.cache_control'"). Copies only what it changes; a request with no extensions comes
 * back as the same object.
 *
 * @example upstreamBody = withoutExtensions(request)
 */
export function withoutExtensions(request: ChatRequest): ChatRequest {
  let out = request;
  if ('anthropic' in request) {
    const { anthropic: _dropped, ...rest } = request;
    out = rest as ChatRequest;
  }
  const messages = mapChanged(request.messages, (message) => {
    let next = withoutKeys(message, messageExtensions);
    if (Array.isArray(next.content)) {
      const content = mapChanged(next.content, (part) => withoutKeys(part, partExtensions));
      if (content !== next.content) next = { ...next, content };
    }
    if (next.tool_calls) {
      const calls = mapChanged(next.tool_calls, (call) => withoutKeys(call, ['cache_control']));
      if (calls !== next.tool_calls) next = { ...next, tool_calls: calls };
    }
    return next;
  });
  if (messages !== request.messages) out = { ...out, messages };
  if (request.tools) {
    const tools = mapChanged(request.tools, (tool) => withoutKeys(tool, toolExtensions));
    if (tools !== request.tools) out = { ...out, tools };
  }
  return out;
}

/** `items` mapped, or `items` itself when no item changed. */
function mapChanged<T>(items: T[], map: (item: T) => T): T[] {
  let out: T[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const next = map(items[i]!);
    if (next !== items[i] && !out) out = items.slice(0, i);
    if (out) out.push(next);
  }
  return out ?? items;
}

function withoutKeys<T extends object>(value: T, keys: readonly string[]): T {
  if (!value || typeof value !== 'object') return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of keys) {
    if (key in value) {
      copy ??= { ...(value as Record<string, unknown>) };
      delete copy[key];
    }
  }
  return (copy as T | undefined) ?? value;
}
