/**
 * Anthropic Messages API response -> OpenAI ChatCompletion, plus the pieces the stream
 * converter shares with it: stop-reason and usage mapping, and error-type classification.
 */

import type { ModelSpec } from '../../config/model-spec.ts';
import { blamesRequest, type FailureKind, UpstreamError } from '../../errors.ts';
import type { ChatCompletion, FinishReason, ThinkingBlock, ToolCall, Usage } from '../../types/openai.ts';
import type { ErrorDetails } from '../http.ts';
import { jsonAnswerTool } from './convert-request.ts';

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: string; [key: string]: unknown };

export interface AnthropicMessageResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: string | null;
  stop_sequence?: string | null;
  usage?: AnthropicUsage;
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

/** Anthropic stop reasons -> OpenAI finish reasons. Unknown future reasons read as a normal stop. */
export function finishReasonFor(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn (a server-tool turn paused; the text so far is whole).
      return 'stop';
  }
}

/**
 * Anthropic's usage in the normalised form (src/types/openai.ts). Anthropic's `input_tokens`
 * leaves out both cache counts, so prompt_tokens = input + cache reads + cache writes, with the
 * reads as `cached_tokens` and the writes as `cache_write_tokens`.
 */
export function usageFrom(usage: AnthropicUsage | undefined): Usage {
  const cacheRead = usage?.cache_read_input_tokens ?? 0;
  const cacheWrite = usage?.cache_creation_input_tokens ?? 0;
  const prompt = (usage?.input_tokens ?? 0) + cacheWrite + cacheRead;
  const completion = usage?.output_tokens ?? 0;
  const out: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead, cache_write_tokens: cacheWrite },
  };
  const thinking = usage?.output_tokens_details?.thinking_tokens;
  if (typeof thinking === 'number' && thinking > 0)
    out.completion_tokens_details = { reasoning_tokens: thinking };
  return out;
}

export function isAnthropicMessage(body: unknown): body is AnthropicMessageResponse {
  if (!body || typeof body !== 'object') return false;
  const candidate = body as { type?: unknown; content?: unknown };
  return (candidate.type === undefined || candidate.type === 'message') && Array.isArray(candidate.content);
}

export function isAnthropicError(body: unknown): body is AnthropicErrorBody {
  if (!body || typeof body !== 'object') return false;
  const candidate = body as { type?: unknown; error?: unknown };
  return candidate.type === 'error' && !!candidate.error && typeof candidate.error === 'object';
}

export function toChatCompletion(
  message: AnthropicMessageResponse,
  spec: ModelSpec,
  created: number,
): ChatCompletion {
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  let jsonAnswer = false;
  for (const block of message.content) {
    if (block.type === 'text' && typeof block.text === 'string') {
      texts.push(block.text);
    } else if (block.type === 'thinking') {
      const { thinking: text, signature } = block as { thinking?: unknown; signature?: unknown };
      thinking.push({
        type: 'thinking',
        thinking: typeof text === 'string' ? text : '',
        signature: typeof signature === 'string' ? signature : '',
      });
    } else if (block.type === 'redacted_thinking') {
      const data = (block as { data?: unknown }).data;
      thinking.push({ type: 'redacted_thinking', data: typeof data === 'string' ? data : '' });
    } else if (block.type === 'tool_use' && (block as { name?: string }).name === jsonAnswerTool) {
      // A JSON answer (response_format) came as the forced tool's input: it is the text.
      texts.push(JSON.stringify((block as { input?: unknown }).input ?? {}));
      jsonAnswer = true;
    } else if (block.type === 'tool_use') {
      const use = block as { id: string; name: string; input: unknown };
      toolCalls.push({
        id: use.id,
        type: 'function',
        function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) },
      });
    }
    // Server-tool blocks have no Chat Completions equivalent.
  }
  const content = texts.join('');
  return {
    id: message.id,
    object: 'chat.completion',
    created,
    model: spec.name,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          // OpenAI sends null content when the turn is only tool calls.
          content: content === '' && toolCalls.length > 0 ? null : content,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          // Extension: kept whole (signatures included) for a Messages client to pass back.
          ...(thinking.length > 0 ? { thinking_blocks: thinking } : {}),
        },
        finish_reason:
          jsonAnswer && message.stop_reason === 'tool_use' ? 'stop' : finishReasonFor(message.stop_reason),
        logprobs: null,
        ...(message.stop_reason ? { native_finish_reason: message.stop_reason } : {}),
        ...(message.stop_sequence ? { stop_sequence: message.stop_sequence } : {}),
      },
    ],
    usage: usageFrom(message.usage),
  };
}

/** What errorFromResponse needs from an Anthropic error body. */
export function extractError(body: unknown): ErrorDetails {
  if (!isAnthropicError(body)) return {};
  const { type, message } = body.error;
  return {
    message: typeof message === 'string' ? message : undefined,
    type: typeof type === 'string' ? type : undefined,
    code: typeof type === 'string' ? type : undefined,
  };
}

/** Anthropic error `type` -> failure kind, for errors that arrive without a useful HTTP status. */
export function kindForErrorType(type: string | undefined, message = ''): FailureKind {
  switch (type) {
    case 'rate_limit_error':
      return 'rate_limited';
    case 'invalid_request_error':
      return /prompt is too long|too many tokens|context window/i.test(message)
        ? 'context_length'
        : 'invalid_request';
    case 'request_too_large':
      return 'context_length';
    case 'authentication_error':
    case 'permission_error':
    case 'billing_error':
      return 'auth';
    case 'not_found_error':
      return 'not_found';
    default:
      // overloaded_error, api_error, timeout_error and anything new: the upstream's fault.
      return 'server';
  }
}

/** An error delivered in a 200 body or as a stream `error` event. */
export function errorFromEvent(
  body: AnthropicErrorBody,
  context: { provider: string; model: string; status?: number },
): UpstreamError {
  const type = typeof body.error.type === 'string' ? body.error.type : undefined;
  const message = typeof body.error.message === 'string' ? body.error.message.slice(0, 500) : '';
  const kind = kindForErrorType(type, message);
  // The client sees Anthropic's words only when they are about the client's own request.
  const shown = message && blamesRequest(kind) ? `: ${message}` : '';
  return new UpstreamError(kind, `${context.model} reported an error${type ? ` (${type})` : ''}${shown}`, {
    status: context.status,
    upstreamCode: type,
    provider: context.provider,
    model: context.model,
    detail: message && !shown ? message : undefined,
  });
}
