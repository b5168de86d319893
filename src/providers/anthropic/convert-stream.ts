/**
 * Anthropic streaming events -> OpenAI ChatCompletionChunks.
 *
 * Anthropic streams content blocks by index (text, tool_use, thinking...), OpenAI streams one
 * delta per chunk with tool calls numbered from 0. We keep a map from Anthropic block index to
 * OpenAI tool index. The stream is only complete after `message_stop`; anything else is a cut.
 * Thinking blocks travel in the `thinking_blocks` delta extension (text and signature), and the
 * finish chunk carries Anthropic's own stop reason and stop sequence (`native_finish_reason`,
 * `stop_sequence`), so the Messages front door can replay them exactly.
 */

import type { ModelSpec } from '../../config/model-spec.ts';
import { UpstreamError } from '../../errors.ts';
import type { ChatCompletionChunk, ChunkDelta, FinishReason } from '../../types/openai.ts';
import type { SseEvent } from '../sse.ts';
import { jsonAnswerTool } from './convert-request.ts';
import {
  type AnthropicUsage,
  errorFromEvent,
  finishReasonFor,
  isAnthropicError,
  usageFrom,
} from './convert-response.ts';

export interface StreamContext {
  spec: ModelSpec;
  created: number;
  /** Fallback chunk id if the upstream never sends message_start. */
  fallbackId: string;
  /** Told about a malformed event that was skipped. */
  warn?: (message: string) => void;
}

interface StreamEvent {
  type?: string;
  index?: number;
  message?: { id?: string; usage?: AnthropicUsage };
  content_block?: { type?: string; id?: string; name?: string; text?: string; data?: string };
  delta?: {
    type?: string;
    text?: string;
    partial_json?: string;
    thinking?: string;
    signature?: string;
    stop_reason?: string | null;
    stop_sequence?: string | null;
  };
  usage?: AnthropicUsage;
}

export async function* anthropicStreamToChunks(
  events: AsyncIterable<SseEvent>,
  context: StreamContext,
): AsyncGenerator<ChatCompletionChunk> {
  const { spec, created } = context;
  const errorContext = { provider: 'anthropic', model: spec.name };
  let id = context.fallbackId;
  let started = false;
  let finished = false;
  const usage: AnthropicUsage = {};
  /** Anthropic block index -> OpenAI tool call index, and whether any argument text was sent. */
  const tools = new Map<number, { index: number; sentArguments: boolean }>();
  /** The block index of a JSON answer's forced tool call, if any. */
  let jsonAnswerBlock: number | undefined;
  /** Anthropic block index -> thinking block number (the extension's `thinking_blocks` index). */
  const thinking = new Map<number, number>();

  const chunk = (delta: ChunkDelta, finishReason: FinishReason = null): ChatCompletionChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: spec.name,
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });
  // Some proxies skip message_start; clients still need the role chunk first.
  function* ensureStarted(): Generator<ChatCompletionChunk> {
    if (started) return;
    started = true;
    yield chunk({ role: 'assistant', content: '' });
  }

  for await (const sse of events) {
    let event: StreamEvent;
    try {
      event = JSON.parse(sse.data) as StreamEvent;
    } catch {
      context.warn?.(`${spec.name} sent a malformed stream event; skipped`);
      continue; // One malformed event is not worth failing a response over.
    }
    if (!event || typeof event !== 'object') continue;
    const type = event.type ?? sse.event;

    switch (type) {
      case 'message_start': {
        if (event.message?.id) id = event.message.id;
        Object.assign(usage, event.message?.usage);
        yield* ensureStarted();
        break;
      }
      case 'content_block_start': {
        yield* ensureStarted();
        const block = event.content_block;
        if (block?.type === 'tool_use' && block.name === jsonAnswerTool && typeof event.index === 'number') {
          // A JSON answer (response_format): the forced tool's input streams as the text.
          jsonAnswerBlock = event.index;
        } else if (block?.type === 'tool_use' && typeof event.index === 'number') {
          const index = tools.size;
          tools.set(event.index, { index, sentArguments: false });
          yield chunk({
            tool_calls: [
              {
                index,
                id: block.id ?? '',
                type: 'function',
                function: { name: block.name ?? '', arguments: '' },
              },
            ],
          });
        } else if (block?.type === 'text' && block.text) {
          yield chunk({ content: block.text });
        } else if (block?.type === 'thinking' && typeof event.index === 'number') {
          thinking.set(event.index, thinking.size);
        } else if (block?.type === 'redacted_thinking') {
          const index = thinking.size;
          if (typeof event.index === 'number') thinking.set(event.index, index);
          yield chunk({ thinking_blocks: [{ index, type: 'redacted_thinking', data: block.data ?? '' }] });
        }
        break;
      }
      case 'content_block_delta': {
        yield* ensureStarted();
        const delta = event.delta;
        if (delta?.type === 'text_delta' && delta.text) {
          yield chunk({ content: delta.text });
        } else if (delta?.type === 'input_json_delta' && event.index === jsonAnswerBlock) {
          if (delta.partial_json) yield chunk({ content: delta.partial_json });
        } else if (delta?.type === 'input_json_delta' && typeof event.index === 'number') {
          const tool = tools.get(event.index);
          if (tool && delta.partial_json) {
            tool.sentArguments = true;
            yield chunk({ tool_calls: [{ index: tool.index, function: { arguments: delta.partial_json } }] });
          }
        } else if (delta?.type === 'thinking_delta' || delta?.type === 'signature_delta') {
          // Extension: thinking travels whole, signature included, for Messages clients.
          const index = typeof event.index === 'number' ? thinking.get(event.index) : undefined;
          if (index !== undefined) {
            const piece =
              delta.type === 'thinking_delta'
                ? { index, type: 'thinking' as const, thinking: delta.thinking ?? '' }
                : { index, type: 'thinking' as const, signature: delta.signature ?? '' };
            yield chunk({ thinking_blocks: [piece] });
          }
        }
        // citations_delta has no Chat Completions equivalent.
        break;
      }
      case 'content_block_stop': {
        const tool = typeof event.index === 'number' ? tools.get(event.index) : undefined;
        // A tool called with no input streams no JSON at all; clients expect parseable arguments.
        if (tool && !tool.sentArguments) {
          tool.sentArguments = true;
          yield chunk({ tool_calls: [{ index: tool.index, function: { arguments: '{}' } }] });
        }
        break;
      }
      case 'message_delta': {
        yield* ensureStarted();
        // message_delta usage is cumulative; later values replace earlier ones.
        for (const [key, value] of Object.entries(event.usage ?? {})) {
          if (typeof value === 'number' || (key === 'output_tokens_details' && value)) {
            (usage as Record<string, unknown>)[key] = value;
          }
        }
        if (event.delta?.stop_reason && !finished) {
          finished = true;
          const jsonAnswered = jsonAnswerBlock !== undefined && event.delta.stop_reason === 'tool_use';
          const finish = chunk({}, jsonAnswered ? 'stop' : finishReasonFor(event.delta.stop_reason));
          const choice = finish.choices[0]!;
          choice.native_finish_reason = event.delta.stop_reason;
          if (event.delta.stop_sequence) choice.stop_sequence = event.delta.stop_sequence;
          yield finish;
        }
        break;
      }
      case 'message_stop': {
        yield* ensureStarted();
        if (!finished) yield chunk({}, 'stop');
        yield {
          id,
          object: 'chat.completion.chunk',
          created,
          model: spec.name,
          choices: [],
          usage: usageFrom(usage),
        };
        return;
      }
      case 'error': {
        if (isAnthropicError(event)) throw errorFromEvent(event, errorContext);
        throw new UpstreamError('server', `${spec.name} sent a stream error event`, errorContext);
      }
      default:
        break; // ping, and event types added after this was written.
    }
  }
  throw new UpstreamError('bad_response', `${spec.name}: stream ended before message_stop`, errorContext);
}
