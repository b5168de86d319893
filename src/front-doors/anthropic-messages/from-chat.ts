/**
 * The gateway's ChatCompletion -> a Messages API response, plus the stop-reason, usage and id
 * mappings the stream encoder shares. Pure.
 */
import { randomUUID } from 'node:crypto';
import type { ChatCompletion, FinishReason, ThinkingBlock, Usage } from '../../types/openai.ts';
import { parseToolArguments } from '../shared.ts';
import type { MessagesResponse, MessagesUsage, ResponseContentBlock, StopReason } from './types.ts';

const anthropicStopReasons = new Set<string>([
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
]);

/**
 * The Messages stop reason for a Chat Completions finish. An Anthropic backend's own reason
 * (`native_finish_reason`) wins, so `pause_turn` or `model_context_window_exceeded` survive.
 * A plain `stop` that names the stop sequence it hit is `stop_sequence`; one that carried tool
 * calls is `tool_use` (some OpenAI-compatible servers say `stop` there).
 */
export function stopReasonFor(
  finish: FinishReason | undefined,
  details: { native?: string | null; stopSequence?: string | null; hadToolCalls?: boolean } = {},
): StopReason {
  if (details.native && anthropicStopReasons.has(details.native)) return details.native as StopReason;
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      if (details.hadToolCalls) return 'tool_use';
      return details.stopSequence ? 'stop_sequence' : 'end_turn';
  }
}

/**
 * Normalised usage (src/types/openai.ts) -> Anthropic's, whose `input_tokens` leaves out both
 * cache counts: input = prompt - cache reads - cache writes.
 */
export function messagesUsage(usage: Usage | null | undefined, fallbackInputTokens = 0): MessagesUsage {
  if (!usage) {
    return {
      input_tokens: fallbackInputTokens,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
  }
  const cacheRead = count(usage.prompt_tokens_details?.cached_tokens);
  const cacheWrite = count(usage.prompt_tokens_details?.cache_write_tokens);
  return {
    input_tokens: Math.max(0, count(usage.prompt_tokens) - cacheRead - cacheWrite),
    output_tokens: count(usage.completion_tokens),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
}

/** `msg_…` ids: an Anthropic backend's id as is, any other id with its prefix swapped. */
export function messageId(id: string | undefined): string {
  if (!id) return `msg_${randomUUID().replaceAll('-', '')}`;
  if (id.startsWith('msg_')) return id;
  return `msg_${id.replace(/^chatcmpl-?/, '').replace(/[^a-zA-Z0-9_-]/g, '')}`;
}

/** Anthropic requires tool_use ids to match ^[a-zA-Z0-9_-]+$; ids from other providers may not. */
export function toolUseId(id: string | undefined, fallback: string): string {
  const cleaned = (id ?? '').replace(/[^a-zA-Z0-9_-]/g, '_');
  return cleaned || fallback;
}

/**
 * Build the Messages response for a completion. Thinking (Anthropic thinking blocks, or the
 * `reasoning_content` text of DeepSeek-style servers, which has no signature) comes first, then
 * text, then tool_use blocks, as Anthropic orders them.
 *
 * @example reply(200, chatToMessage(completion))
 */
export function chatToMessage(
  completion: ChatCompletion,
  options: { model?: string } = {},
): MessagesResponse {
  const choice = completion.choices[0];
  const message = choice?.message;
  const content: ResponseContentBlock[] = [];
  for (const block of thinkingBlocks(message)) content.push(block);
  const text = (message?.content ?? '') + (message?.refusal ?? '');
  if (text) content.push({ type: 'text', text });
  const calls = message?.tool_calls ?? [];
  calls.forEach((call, index) => {
    content.push({
      type: 'tool_use',
      id: toolUseId(call.id, `toolu_${index}`),
      name: call.function.name,
      input: parseToolArguments(call.function.arguments),
    });
  });
  const stopSequence = choice?.stop_sequence ?? null;
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: options.model ?? completion.model,
    content,
    stop_reason: stopReasonFor(choice?.finish_reason, {
      native: choice?.native_finish_reason,
      stopSequence,
      hadToolCalls: calls.length > 0,
    }),
    stop_sequence: stopSequence,
    usage: messagesUsage(completion.usage),
  };
}

function thinkingBlocks(message: ChatCompletion['choices'][number]['message'] | undefined): ThinkingBlock[] {
  if (!message) return [];
  if (Array.isArray(message.thinking_blocks) && message.thinking_blocks.length > 0)
    return message.thinking_blocks;
  if (typeof message.reasoning_content === 'string' && message.reasoning_content) {
    return [{ type: 'thinking', thinking: message.reasoning_content, signature: '' }];
  }
  return [];
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
