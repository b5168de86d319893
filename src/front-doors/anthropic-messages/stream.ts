/**
 * ChatCompletionChunks -> the Messages API event stream, as a small stateful encoder: one
 * `push(chunk)` per chunk returns the SSE frames to write (often one), no promise or generator
 * per layer.
 *
 * Sequence: message_start (usage so far), ping, then per content block content_block_start,
 * content_block_delta (text_delta / input_json_delta / thinking_delta / signature_delta),
 * content_block_stop; at the end message_delta (stop_reason, stop_sequence, final usage) and
 * message_stop. A failure after the first frame is an `error` event.
 *
 * Blocks follow one another as Anthropic sends them: a new kind of content, or a new tool call,
 * closes the block before it. Should a backend interleave the arguments of two tool calls, the
 * late pieces still go out as input_json_delta with their own block index, so a client that
 * accumulates by index (the official SDKs do) gets every argument.
 */
import type {
  ChatCompletionChunk,
  ChunkDelta,
  FinishReason,
  ThinkingBlockDelta,
  Usage,
} from '../../types/openai.ts';
import { sseFrame } from '../shared.ts';
import { toAnthropicError } from './errors.ts';
import { messageId, messagesUsage, stopReasonFor, toolUseId } from './from-chat.ts';

export interface MessagesStreamOptions {
  /** The message id; default: from the first chunk (`msg_…`). */
  id?: string;
  /** The model to report; default: the first chunk's `model`. */
  model?: string;
  /**
   * Input tokens for message_start (an estimate, e.g. the router's count). The upstream's exact
   * count follows in message_delta, which the SDKs apply over it.
   */
  inputTokens?: number;
}

type OpenBlock =
  | { kind: 'text'; index: number }
  | { kind: 'thinking'; index: number; thinkingIndex: number }
  | { kind: 'tool'; index: number };

const none: string[] = [];
/** `reasoning_content` text has no block numbering of its own. */
const reasoningTextIndex = -1;

export class MessagesStreamEncoder {
  private started = false;
  private done = false;
  private nextIndex = 0;
  private open: OpenBlock | undefined;
  /** OpenAI tool-call index -> Anthropic block index. */
  private readonly tools = new Map<number, number>();
  private finishReason: FinishReason = null;
  private nativeReason: string | null = null;
  private stopSequence: string | null = null;
  private usage: Usage | undefined;

  constructor(private readonly options: MessagesStreamOptions = {}) {}

  /**
   * The opening frames (message_start, ping) now rather than with the first chunk, for a caller
   * that wants bytes on the wire before the first token (pass `model` and `id` in the options
   * then: no chunk has told them yet). Empty once started.
   */
  begin(): string[] {
    if (this.started || this.done) return none;
    const out: string[] = [];
    this.start(out);
    return out;
  }

  /** Frames for one chunk (possibly none). Chunks after finish() or fail() are ignored. */
  push(chunk: ChatCompletionChunk): string[] {
    if (this.done) return none;
    const out: string[] = [];
    if (!this.started) this.start(out, chunk);
    if (chunk.usage) this.usage = chunk.usage;
    // Messages has no `n`: only the first choice is an answer.
    const choice =
      chunk.choices.length > 0 ? (chunk.choices.find((c) => c.index === 0) ?? chunk.choices[0]) : undefined;
    if (!choice) return out;
    if (choice.delta) this.delta(out, choice.delta);
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.nativeReason = choice.native_finish_reason ?? null;
      this.stopSequence = choice.stop_sequence ?? null;
      this.close(out);
    }
    return out;
  }

  /** The closing frames: the last block's stop, message_delta and message_stop. */
  finish(): string[] {
    if (this.done) return none;
    const out: string[] = [];
    if (!this.started) this.start(out);
    this.close(out);
    this.done = true;
    const stopReason = stopReasonFor(this.finishReason, {
      native: this.nativeReason,
      stopSequence: this.stopSequence,
      hadToolCalls: this.tools.size > 0,
    });
    const usage = messagesUsage(this.usage, this.options.inputTokens ?? 0);
    out.push(
      sseFrame(
        'message_delta',
        JSON.stringify({
          type: 'message_delta',
          delta: { stop_reason: stopReason, stop_sequence: this.stopSequence },
          usage: {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
          },
        }),
      ),
      sseFrame('message_stop', '{"type":"message_stop"}'),
    );
    return out;
  }

  /**
   * The `error` event for a failure after frames went out; the stream ends there. Before the
   * first frame, answer with an HTTP error instead (toAnthropicError gives status and body).
   */
  fail(error: unknown): string[] {
    if (this.done) return none;
    this.done = true;
    return [sseFrame('error', JSON.stringify(toAnthropicError(error).toJSON()))];
  }

  /** A keep-alive frame, for long silences. */
  ping(): string {
    return sseFrame('ping', '{"type":"ping"}');
  }

  /** True once message_start has been produced. */
  get hasStarted(): boolean {
    return this.started;
  }

  private start(out: string[], chunk?: ChatCompletionChunk): void {
    this.started = true;
    const message = {
      id: this.options.id ?? messageId(chunk?.id),
      type: 'message',
      role: 'assistant',
      model: this.options.model ?? chunk?.model ?? '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: this.options.inputTokens ?? 0,
        output_tokens: 0,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    };
    out.push(
      sseFrame('message_start', JSON.stringify({ type: 'message_start', message })),
      sseFrame('ping', '{"type":"ping"}'),
    );
  }

  private delta(out: string[], delta: ChunkDelta): void {
    if (delta.thinking_blocks && delta.thinking_blocks.length > 0) {
      for (const piece of delta.thinking_blocks) this.thinking(out, piece);
    } else if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
      this.thinking(out, { index: reasoningTextIndex, type: 'thinking', thinking: delta.reasoning_content });
    }
    if (typeof delta.content === 'string' && delta.content) this.text(out, delta.content);
    if (typeof delta.refusal === 'string' && delta.refusal) this.text(out, delta.refusal);
    if (delta.tool_calls) {
      for (const call of delta.tool_calls) {
        let index = this.tools.get(call.index);
        if (index === undefined) {
          this.close(out);
          index = this.nextIndex++;
          this.tools.set(call.index, index);
          this.open = { kind: 'tool', index };
          const block = {
            type: 'tool_use',
            id: toolUseId(call.id, `toolu_${index}`),
            name: call.function?.name ?? '',
            input: {},
          };
          out.push(blockStart(index, block));
        }
        const piece = call.function?.arguments;
        if (piece) {
          out.push(deltaFrame(index, `{"type":"input_json_delta","partial_json":${JSON.stringify(piece)}}`));
        }
      }
    }
  }

  private text(out: string[], text: string): void {
    if (this.open?.kind !== 'text') {
      this.close(out);
      const index = this.nextIndex++;
      this.open = { kind: 'text', index };
      out.push(blockStart(index, { type: 'text', text: '' }));
    }
    out.push(deltaFrame(this.open.index, `{"type":"text_delta","text":${JSON.stringify(text)}}`));
  }

  private thinking(out: string[], piece: ThinkingBlockDelta): void {
    if (piece.type === 'redacted_thinking') {
      this.close(out);
      const index = this.nextIndex++;
      out.push(blockStart(index, { type: 'redacted_thinking', data: piece.data ?? '' }), blockStop(index));
      return;
    }
    const open = this.open;
    let index: number;
    if (open?.kind === 'thinking' && open.thinkingIndex === piece.index) {
      index = open.index;
    } else {
      this.close(out);
      index = this.nextIndex++;
      this.open = { kind: 'thinking', index, thinkingIndex: piece.index };
      out.push(blockStart(index, { type: 'thinking', thinking: '', signature: '' }));
    }
    if (piece.thinking) {
      out.push(deltaFrame(index, `{"type":"thinking_delta","thinking":${JSON.stringify(piece.thinking)}}`));
    }
    if (piece.signature) {
      out.push(
        deltaFrame(index, `{"type":"signature_delta","signature":${JSON.stringify(piece.signature)}}`),
      );
    }
  }

  private close(out: string[]): void {
    if (!this.open) return;
    out.push(blockStop(this.open.index));
    this.open = undefined;
  }
}

function blockStart(index: number, block: object): string {
  return sseFrame(
    'content_block_start',
    `{"type":"content_block_start","index":${index},"content_block":${JSON.stringify(block)}}`,
  );
}

function deltaFrame(index: number, delta: string): string {
  return sseFrame('content_block_delta', `{"type":"content_block_delta","index":${index},"delta":${delta}}`);
}

function blockStop(index: number): string {
  return sseFrame('content_block_stop', `{"type":"content_block_stop","index":${index}}`);
}
