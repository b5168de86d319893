/**
 * A streaming response body fed by undici's dispatch() handler: the chunks the socket delivers,
 * in order, to one async iterator, with the socket paused while the reader is behind. It stands
 * in for undici's Readable body, whose stream machinery and per-read promises cost a streaming
 * call more than the chunks do.
 */
import type { Dispatcher } from 'undici';

/** What a streaming call's body offers its reader (undici's Readable body offers the same). */
export interface ResponseBody extends AsyncIterable<Buffer> {
  /** The whole body as UTF-8 text (error bodies). */
  text(): Promise<string>;
  /** Stop reading: the request is aborted and its socket released. */
  destroy(): void;
  readonly destroyed: boolean;
}

/** Bytes queued unread before the socket is paused. */
const highWaterBytes = 256 * 1024;
const destroyedByReader = new Error('response body destroyed by its reader');

export class DispatchBody implements ResponseBody {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private failure: unknown;
  private waiting:
    | { resolve: (result: IteratorResult<Buffer>) => void; reject: (error: unknown) => void }
    | undefined;
  destroyed = false;

  constructor(private readonly controller: Dispatcher.DispatchController) {}

  /** From the handler: a chunk off the socket. */
  push(chunk: Buffer): void {
    if (this.destroyed) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve({ value: chunk, done: false });
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > highWaterBytes && !this.controller.paused) this.controller.pause();
  }

  /** From the handler: the body ended whole. */
  end(): void {
    this.ended = true;
    this.settleWaiting();
  }

  /**
   * From the handler: the body failed (reset, idle timeout, abort). `discard`: the chunks not
   * yet read go too (an aborted call yields nothing more); otherwise the reader gets them first.
   */
  fail(error: unknown, discard = false): void {
    if (this.destroyed) return; // the reader stopped: the abort it caused is no failure of the body
    if (this.failure === undefined) this.failure = error;
    if (discard) {
      this.queue.length = 0;
      this.queuedBytes = 0;
    }
    this.settleWaiting();
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queuedBytes -= chunk.length;
      if (this.controller.paused && this.queuedBytes <= highWaterBytes / 2) this.controller.resume();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended || this.destroyed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: () => this.next(),
      // A reader that stops early (break, a thrown error) releases the request.
      return: () => {
        this.destroy();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (!this.ended && this.failure === undefined && !this.controller.aborted) {
      this.controller.abort(destroyedByReader);
    }
    this.settleWaiting();
  }

  private settleWaiting(): void {
    const waiting = this.waiting;
    if (!waiting || this.queue.length > 0) return;
    this.waiting = undefined;
    if (this.failure !== undefined) waiting.reject(this.failure);
    else waiting.resolve({ value: undefined, done: true });
  }
}
