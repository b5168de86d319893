/**
 * What happened while serving one request, filled in as its attempts run: the attempt records,
 * which models failed, and the answer's segments (a stream that fails over midway is answered
 * by two models; each segment is billed at its own model's price).
 */
import type { AttemptRecord } from '../observability/events.ts';
import type { Usage } from '../types/openai.ts';

export interface Segment {
  model: string;
  /** The upstream's usage for this segment, when it sent one. */
  usage: Usage | undefined;
  /** Text this segment delivered to the client. */
  text: string;
  /** Prompt tokens this segment's request carried (the prompt, plus a prefill's partial answer). */
  promptTokens: number;
}

export class RequestTrace {
  readonly attempts: AttemptRecord[] = [];
  /** Distinct models that failed, in order. */
  readonly failedModels: string[] = [];
  retries = 0;
  /** The model answering now (a stream can switch once text was sent). */
  model: string | undefined;
  ttftMs: number | undefined;
  /** A hedge request was started. */
  hedged = false;
  /** How the answer ended (`stop`, `length`, `tool_calls`...), once it did. */
  finishReason: string | undefined;
  readonly segments: Segment[] = [];

  get fallbacks(): number {
    let count = 0;
    for (const name of this.failedModels) if (name !== this.model) count++;
    return count;
  }

  /** Everything the client has received so far. */
  get text(): string {
    return this.segments.length === 1
      ? this.segments[0]!.text
      : this.segments.map((segment) => segment.text).join('');
  }

  failed(model: string): void {
    if (!this.failedModels.includes(model)) this.failedModels.push(model);
  }

  /** Start a segment answered by `model`. */
  segment(model: string, promptTokens: number): Segment {
    const segment: Segment = { model, usage: undefined, text: '', promptTokens };
    this.segments.push(segment);
    return segment;
  }
}
