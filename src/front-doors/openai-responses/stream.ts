/**
 * ChatCompletionChunks -> the Responses API event stream, as a small stateful encoder: one
 * `push(chunk)` per chunk returns the SSE frames to write, no promise or generator per layer.
 *
 * Sequence: response.created, response.in_progress; per output item output_item.added, then for
 * a message content_part.added, output_text.delta..., output_text.done, content_part.done, and
 * for a function call function_call_arguments.delta..., function_call_arguments.done; then
 * output_item.done; finally response.completed (or response.incomplete). A failure is an `error`
 * event followed by response.failed. Every event carries the next `sequence_number`; item
 * events carry `item_id`, `output_index` and, for content, `content_index`.
 *
 * Items follow one another as OpenAI sends them: text after a function call, or a new call,
 * closes the item before it. Arguments a backend interleaves between two calls still go out as
 * deltas of their own item, and the final response carries every call whole.
 */
import type { ChatCompletionChunk, FinishReason, Usage } from '../../types/openai.ts';
import { sseFrame } from '../shared.ts';
import { defaultNewId, responseError, responseSkeleton, responseUsage, statusFor } from './from-chat.ts';
import type {
  OutputFunctionCall,
  OutputItem,
  OutputMessage,
  ResponseObject,
  ResponsesRequest,
} from './types.ts';

export interface ResponsesStreamOptions {
  /** The response id (`resp_…`); default: a new one. */
  id?: string;
  /** Seconds since the epoch; default: the first chunk's `created`. */
  createdAt?: number;
  /** The model to report; default: the first chunk's `model`. */
  model?: string;
  newId?: (prefix: string) => string;
}

interface OpenMessage {
  item: OutputMessage;
  outputIndex: number;
  part: { kind: 'text' | 'refusal'; contentIndex: number; text: string; prefix: string } | undefined;
}

interface CallState {
  item: OutputFunctionCall;
  outputIndex: number;
}

const none: string[] = [];

export class ResponsesStreamEncoder {
  private sequence = 0;
  private started = false;
  private done = false;
  private readonly output: OutputItem[] = [];
  private message: OpenMessage | undefined;
  private call: CallState | undefined;
  /** OpenAI tool-call index -> its item. */
  private readonly calls = new Map<number, CallState>();
  private finishReason: FinishReason = null;
  private usage: Usage | undefined;
  private readonly newId: (prefix: string) => string;
  private id: string;
  private createdAt = 0;
  private model = '';
  private finished: ResponseObject | undefined;

  constructor(
    private readonly request: ResponsesRequest,
    private readonly options: ResponsesStreamOptions = {},
  ) {
    this.newId = options.newId ?? defaultNewId;
    this.id = options.id ?? this.newId('resp');
  }

  /**
   * The opening frames (response.created, response.in_progress) now rather than with the first
   * chunk, for a caller that wants bytes on the wire before the first token. Empty once started.
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
    const choice =
      chunk.choices.length > 0 ? (chunk.choices.find((c) => c.index === 0) ?? chunk.choices[0]) : undefined;
    if (!choice) return out;
    const delta = choice.delta;
    if (delta) {
      if (typeof delta.content === 'string' && delta.content) this.text(out, 'text', delta.content);
      if (typeof delta.refusal === 'string' && delta.refusal) this.text(out, 'refusal', delta.refusal);
      if (delta.tool_calls) {
        for (const piece of delta.tool_calls) {
          let state = this.calls.get(piece.index);
          if (!state) {
            this.closeMessage(out, 'completed');
            this.closeCall(out);
            const item: OutputFunctionCall = {
              id: this.newId('fc'),
              type: 'function_call',
              status: 'in_progress',
              arguments: '',
              call_id: piece.id || this.newId('call'),
              name: piece.function?.name ?? '',
            };
            state = { item, outputIndex: this.output.length };
            this.output.push(item);
            this.calls.set(piece.index, state);
            this.call = state;
            out.push(this.event('response.output_item.added', { output_index: state.outputIndex, item }));
          }
          const args = piece.function?.arguments;
          if (args) {
            state.item.arguments += args;
            out.push(
              this.raw(
                'response.function_call_arguments.delta',
                `"item_id":${JSON.stringify(state.item.id)},"output_index":${state.outputIndex},"delta":${JSON.stringify(args)}`,
              ),
            );
          }
        }
      }
    }
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return out;
  }

  /** The closing frames: open items done, then response.completed or response.incomplete. */
  finish(): string[] {
    if (this.done) return none;
    const out: string[] = [];
    if (!this.started) this.start(out);
    const { status, incomplete } = statusFor(this.finishReason);
    // An answer with nothing in it is still one (empty) message, as the non-streaming form has.
    if (this.output.length === 0) this.text(out, 'text', '');
    this.closeMessage(out, status === 'incomplete' ? 'incomplete' : 'completed');
    this.closeCall(out);
    this.done = true;
    const response = this.snapshot(status);
    response.incomplete_details = incomplete;
    response.usage = responseUsage(this.usage);
    this.finished = response;
    out.push(
      this.event(status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response }),
    );
    return out;
  }

  /** An `error` event, then response.failed with what was produced so far; the stream ends. */
  fail(error: unknown): string[] {
    if (this.done) return none;
    const out: string[] = [];
    if (!this.started) this.start(out);
    this.done = true;
    const failure = responseError(error);
    const code =
      error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : failure.code;
    out.push(this.event('error', { code, message: failure.message, param: null }));
    const part = this.message?.part;
    if (this.message && part) this.message.item.content[part.contentIndex] = partOf(part.kind, part.text);
    for (const item of this.output) if (item.status === 'in_progress') item.status = 'incomplete';
    const response = this.snapshot('failed');
    response.error = { code: failure.code, message: failure.message };
    response.usage = responseUsage(this.usage);
    out.push(this.event('response.failed', { response }));
    return out;
  }

  /** The whole response once finish() produced it (what `store: true` keeps); undefined before, or after fail(). */
  get completedResponse(): ResponseObject | undefined {
    return this.finished;
  }

  /** True once response.created has been produced. */
  get hasStarted(): boolean {
    return this.started;
  }

  private start(out: string[], chunk?: ChatCompletionChunk): void {
    this.started = true;
    this.createdAt = this.options.createdAt ?? chunk?.created ?? Math.floor(Date.now() / 1000);
    this.model = this.options.model ?? chunk?.model ?? this.request.model;
    const response = this.snapshot('in_progress');
    out.push(this.event('response.created', { response }), this.event('response.in_progress', { response }));
  }

  private snapshot(status: ResponseObject['status']): ResponseObject {
    const response = responseSkeleton(this.request, {
      id: this.id,
      createdAt: this.createdAt,
      model: this.model,
      status,
    });
    response.output = this.output;
    return response;
  }

  private text(out: string[], kind: 'text' | 'refusal', text: string): void {
    this.closeCall(out);
    let message = this.message;
    if (!message) {
      const item: OutputMessage = {
        id: this.newId('msg'),
        type: 'message',
        status: 'in_progress',
        role: 'assistant',
        content: [],
      };
      message = { item, outputIndex: this.output.length, part: undefined };
      this.output.push(item);
      this.message = message;
      out.push(this.event('response.output_item.added', { output_index: message.outputIndex, item }));
    }
    if (message.part?.kind !== kind) {
      this.closePart(out, message);
      const contentIndex = message.item.content.length;
      // The delta events' fixed fields, as JSON once per part rather than once per delta.
      const prefix = `"item_id":${JSON.stringify(message.item.id)},"output_index":${message.outputIndex},"content_index":${contentIndex},"delta":`;
      message.part = { kind, contentIndex, text: '', prefix };
      message.item.content.push(partOf(kind, ''));
      out.push(
        this.event('response.content_part.added', {
          item_id: message.item.id,
          output_index: message.outputIndex,
          content_index: message.part.contentIndex,
          part: partOf(kind, ''),
        }),
      );
    }
    if (!text) return;
    const part = message.part!;
    part.text += text;
    out.push(
      kind === 'text'
        ? this.raw('response.output_text.delta', `${part.prefix}${JSON.stringify(text)},"logprobs":[]`)
        : this.raw('response.refusal.delta', `${part.prefix}${JSON.stringify(text)}`),
    );
  }

  private closePart(out: string[], message: OpenMessage): void {
    const part = message.part;
    if (!part) return;
    message.part = undefined;
    const where = {
      item_id: message.item.id,
      output_index: message.outputIndex,
      content_index: part.contentIndex,
    };
    const whole = partOf(part.kind, part.text);
    message.item.content[part.contentIndex] = whole;
    out.push(
      part.kind === 'text'
        ? this.event('response.output_text.done', { ...where, text: part.text, logprobs: [] })
        : this.event('response.refusal.done', { ...where, refusal: part.text }),
      this.event('response.content_part.done', { ...where, part: whole }),
    );
  }

  private closeMessage(out: string[], status: 'completed' | 'incomplete'): void {
    const message = this.message;
    if (!message) return;
    this.closePart(out, message);
    this.message = undefined;
    message.item.status = status;
    out.push(
      this.event('response.output_item.done', { output_index: message.outputIndex, item: message.item }),
    );
  }

  private closeCall(out: string[]): void {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    call.item.status = 'completed';
    out.push(
      this.event('response.function_call_arguments.done', {
        item_id: call.item.id,
        output_index: call.outputIndex,
        name: call.item.name,
        arguments: call.item.arguments,
      }),
      this.event('response.output_item.done', { output_index: call.outputIndex, item: call.item }),
    );
  }

  private event(type: string, fields: Record<string, unknown>): string {
    return sseFrame(type, JSON.stringify({ type, sequence_number: this.sequence++, ...fields }));
  }

  /** An event whose fields are already JSON (`"a":1,"b":"x"`): the hot delta path. */
  private raw(type: string, fields: string): string {
    return sseFrame(type, `{"type":"${type}","sequence_number":${this.sequence++},${fields}}`);
  }
}

function partOf(kind: 'text' | 'refusal', text: string): OutputMessage['content'][number] {
  return kind === 'text'
    ? { type: 'output_text', text, annotations: [], logprobs: [] }
    : { type: 'refusal', refusal: text };
}
