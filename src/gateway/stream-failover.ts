/**
 * Streaming fail-over, above the policies. Chunks are held back until the first content token
 * (inside the attempt), so a stream that fails or stalls before it is retried or failed over like
 * any call and the client sees one clean stream. After text was sent:
 * - a model that accepts an assistant prefill continues the answer from the partial text;
 * - with none left, the next model restarts the answer, and only what follows the text already
 *   sent is forwarded, when the restart begins with exactly that text;
 * - otherwise (a tool call was in flight, no model left, or the restart diverged) the stream
 *   ends with an error, never as a normal completion, never with a splice or a duplicate.
 * Every segment's usage is kept (estimated from the text it delivered when its upstream sent
 * none), so what reached the client is what is billed.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import { GatewayError, UpstreamError } from '../errors.ts';
import type { CallOptions, ModelClient } from '../providers/types.ts';
import type { Clock } from '../resilience/clock.ts';
import type { Opened } from '../resilience/fallback.ts';
import type { HealthBoard } from '../resilience/health-board.ts';
import type { RequestScope } from '../resilience/request-scope.ts';
import { type ChatCompletionChunk, type ChatRequest, type Usage, verbatim } from '../types/openai.ts';
import { chainFailure, clientClosed } from './outcome.ts';
import { asUpstream, type Logger } from './pool.ts';
import { asGatewayError } from './run-chat.ts';
import type { RequestTrace } from './trace.ts';

/** A stream that produced its first token, with what was read to get there. */
export interface OpenStream {
  chunks: AsyncIterator<ChatCompletionChunk>;
  held: ChatCompletionChunk[];
}

/** A stream the gateway could not complete after text had reached the client. */
export class StreamInterruptedError extends GatewayError {}

export interface StreamFailoverContext {
  request: ChatRequest;
  requestId: string;
  trace: RequestTrace;
  scope: RequestScope;
  clock: Clock;
  logger: Logger;
  /** Candidate models, primary first. */
  chain: readonly string[];
  spec(name: string): ModelSpec | undefined;
  /** Run the chain (hedged when asked) for `request`, up to a first token. */
  open(chain: readonly string[], request: ChatRequest): Promise<Opened<OpenStream>>;
  /** Prompt tokens of the request as analysed. */
  promptTokens: number;
  countTokens(text: string): number;
  /** Told of each chunk just before the client gets it. */
  onChunk?(chunk: ChatCompletionChunk): void;
  /**
   * Told once, when the stream is over: `error` is how it failed (undefined when it did not),
   * `ran` whether it ran to its end (false too when the consumer stopped reading). The caller's
   * bookkeeping lives in these hooks rather than in a generator around this one: every layer
   * costs a few promises per chunk.
   */
  onEnd?(error: GatewayError | undefined, ran: boolean): void;
}

/**
 * The attempt operation for a stream: open it and read up to the first content token (or a
 * finish) before the first-token timeout, so a stall before it fails the attempt like any other.
 */
export function openUntilFirstToken(
  clock: Clock,
  board: HealthBoard,
  request: ChatRequest,
): (client: ModelClient, options: CallOptions) => Promise<OpenStream> {
  return async (client, options) => {
    const deadline = clock.now() + options.timeouts.firstTokenMs;
    const name = client.spec.name;
    const result = await client.stream(request, options);
    board.observeUpstreamBudget(name, result.meta.budget);
    const chunks = result.chunks[Symbol.asyncIterator]();
    const held: ChatCompletionChunk[] = [];
    try {
      for (;;) {
        const next = await nextBefore(clock, chunks, deadline, name);
        if (next.done) {
          throw new UpstreamError('bad_response', `${name}'s stream ended before any content`, {
            model: name,
            provider: client.spec.provider,
          });
        }
        held.push(next.value);
        if (hasContent(next.value) || next.value.choices.some((choice) => choice.finish_reason)) break;
      }
    } catch (error) {
      // Not awaited: return() waits behind a pending next(); the attempt's abort ends it.
      chunks.return?.().catch(() => {});
      throw error;
    }
    return { chunks, held };
  };
}

/** iterator.next(), failing as `silent` if nothing arrives before `deadline`. */
function nextBefore(
  clock: Clock,
  iterator: AsyncIterator<ChatCompletionChunk>,
  deadline: number,
  model: string,
): Promise<IteratorResult<ChatCompletionChunk>> {
  return new Promise((resolve, reject) => {
    const cancel = clock.schedule(Math.max(0, deadline - clock.now()), () =>
      reject(new UpstreamError('silent', `${model} sent no token before its first-token timeout`, { model })),
    );
    iterator.next().then(
      (result) => {
        cancel();
        resolve(result);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

export async function* failoverStream(context: StreamFailoverContext): AsyncGenerator<ChatCompletionChunk> {
  const { request, trace, scope, clock } = context;
  const streamId = `chatcmpl-${context.requestId}`;
  const wantsUsage = request.stream_options?.include_usage === true;
  let sentContent = false;
  let toolCallSent = false;
  let original: UpstreamError | undefined;
  let completed = false;
  let ran = false;
  let failure: GatewayError | undefined;
  const failed = new Set<string>();
  try {
    for (;;) {
      const continuing = sentContent;
      let chainLeft = context.chain.filter((name) => !failed.has(name));
      let prefill = false;
      if (continuing) {
        if (toolCallSent) throw interrupted(original, 'a tool call was in flight');
        if (chainLeft.length === 0) throw interrupted(original, 'no model is left to continue on');
        // Only models that accept an assistant prefill can continue a half-sent answer; without
        // one, the next model restarts it and must reproduce what was sent.
        const prefillCapable = chainLeft.filter((name) => context.spec(name)?.capabilities.has('prefill'));
        prefill = prefillCapable.length > 0;
        if (prefill) chainLeft = prefillCapable;
      }
      const sentText = trace.text;
      const attemptRequest: ChatRequest = prefill
        ? { ...request, messages: [...request.messages, { role: 'assistant', content: sentText }] }
        : request;
      let opened: Opened<OpenStream>;
      try {
        opened = await context.open(chainLeft, attemptRequest);
      } catch (error) {
        if (continuing && !scope.clientGone) {
          throw interrupted(original, chainFailure(error, false).message);
        }
        throw chainFailure(error, scope.clientGone);
      }
      const name = opened.target;
      const { chunks, held } = opened.value;
      trace.model = name;
      if (trace.ttftMs === undefined) trace.ttftMs = clock.now() - scope.startedAt;
      const segment = trace.segment(
        name,
        context.promptTokens + (prefill ? context.countTokens(sentText) : 0),
      );
      // A restart replays the answer from its start: this much must match before anything is forwarded.
      let replay = continuing && !prefill ? sentText : '';
      let finishSent = false;
      try {
        for (;;) {
          let chunk = held.shift();
          if (!chunk) {
            const next = await chunks.next();
            if (next.done) break;
            chunk = next.value;
          }
          chunk.id = streamId;
          if (chunk.usage) segment.usage = chunk.usage;
          if (continuing) stripRole(chunk);
          if (replay.length > 0) replay = consumeReplay(chunk, replay, original);
          for (const choice of chunk.choices) {
            const delta = choice.delta;
            if (typeof delta.content === 'string') segment.text += delta.content;
            if (delta.tool_calls && delta.tool_calls.length > 0) toolCallSent = true;
            if (choice.finish_reason) {
              finishSent = true;
              trace.finishReason = choice.finish_reason;
            }
          }
          // Usage-only chunks are summed and sent once, at the end.
          if (chunk.choices.length > 0 && !isEmptyChunk(chunk)) {
            if (hasContent(chunk)) sentContent = true;
            context.onChunk?.(chunk);
            yield chunk;
          }
        }
        if (replay.length > 0)
          throw interrupted(original, `${name}'s restarted answer ended before reaching what was sent`);
        if (!finishSent) {
          throw new UpstreamError('bad_response', `${name}'s stream ended without a finish reason`, {
            model: name,
          });
        }
        completed = true;
        opened.lifetime.end();
        if (wantsUsage) {
          const usageChunk: ChatCompletionChunk = {
            id: streamId,
            object: 'chat.completion.chunk',
            created: Math.floor(Date.now() / 1000),
            model: name,
            choices: [],
            usage: totalUsage(trace, context.countTokens),
          };
          context.onChunk?.(usageChunk);
          yield usageChunk;
        }
        ran = true;
        return;
      } catch (error) {
        await chunks.return?.().catch(() => {});
        if (error instanceof StreamInterruptedError) {
          // Our decision, not the model's fault: the attempt ends as cancelled.
          opened.lifetime.end(new UpstreamError('cancelled', error.message, { model: name }));
          throw error;
        }
        const spec = context.spec(name)!;
        const failure = asUpstream(error, spec, scope.signal);
        opened.lifetime.end(failure);
        if (failure.kind === 'cancelled' || scope.clientGone) throw clientClosed();
        original ??= failure;
        failed.add(name);
        trace.failed(name);
        context.logger.warn(
          { requestId: context.requestId, model: name, kind: failure.kind },
          'stream failed mid-answer',
        );
        // Loop: before any content this is a transparent retry down the chain; after it, a
        // continuation (checked at the top of the loop).
      } finally {
        // A consumer that stopped reading (the client left, or was cut off) returns us at a
        // yield: no catch runs, so the attempt's slot, in-flight count and reservation end here.
        if (!opened.lifetime.isEnded) {
          chunks.return?.().catch(() => {});
          opened.lifetime.end(new UpstreamError('cancelled', 'the client stopped reading', { model: name }));
        }
      }
    }
  } catch (error) {
    failure = asGatewayError(error);
    throw failure;
  } finally {
    // A stream that did not run to its end (failure, or a consumer that stopped reading)
    // cancels whatever still runs for it; one that finished has nothing left to cancel.
    if (!completed) scope.cancelRemaining();
    context.onEnd?.(failure, ran);
  }
}

/**
 * Drop the part of a restarted answer the client already has. Returns what is still to be
 * matched; throws when the restart says something else.
 */
function consumeReplay(
  chunk: ChatCompletionChunk,
  replay: string,
  original: UpstreamError | undefined,
): string {
  let left = replay;
  for (const choice of chunk.choices) {
    const delta = choice.delta;
    if (delta.tool_calls?.length || delta.refusal)
      throw interrupted(original, 'the restarted answer diverged from what was sent');
    const content = typeof delta.content === 'string' ? delta.content : '';
    if (left.length === 0 || content.length === 0) continue;
    if (left.startsWith(content)) {
      left = left.slice(content.length);
      delta.content = '';
    } else if (content.startsWith(left)) {
      delta.content = content.slice(left.length);
      left = '';
    } else {
      throw interrupted(original, 'the restarted answer diverged from what was sent');
    }
    chunk[verbatim] = undefined; // its content was cut: serialised again
    if (left.length > 0 && choice.finish_reason) {
      throw interrupted(original, 'the restarted answer ended before reaching what was sent');
    }
  }
  return left;
}

/** Usage over every segment: the upstream's where it sent one, else counted from the text it delivered. */
export function totalUsage(trace: RequestTrace, countTokens: (text: string) => number): Usage {
  let prompt = 0;
  let completion = 0;
  // Cache reads/writes and reasoning tokens, where an upstream reported them (clients bill by them).
  let cached = 0;
  let cacheWrites = 0;
  let reasoning = 0;
  for (const segment of trace.segments) {
    prompt += segment.usage?.prompt_tokens ?? segment.promptTokens;
    completion += segment.usage?.completion_tokens ?? countTokens(segment.text);
    cached += segment.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    cacheWrites += segment.usage?.prompt_tokens_details?.cache_write_tokens ?? 0;
    reasoning += segment.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
  }
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (cached > 0 || cacheWrites > 0) {
    usage.prompt_tokens_details = { cached_tokens: cached };
    if (cacheWrites > 0) usage.prompt_tokens_details.cache_write_tokens = cacheWrites;
  }
  if (reasoning > 0) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

function hasContent(chunk: ChatCompletionChunk): boolean {
  for (const choice of chunk.choices) {
    const delta = choice.delta;
    if (
      (typeof delta.content === 'string' && delta.content.length > 0) ||
      (delta.tool_calls && delta.tool_calls.length > 0) ||
      delta.refusal
    ) {
      return true;
    }
  }
  return false;
}

/** A continuation's role-only opener adds nothing the client has not seen. */
function stripRole(chunk: ChatCompletionChunk): void {
  for (const choice of chunk.choices) {
    if (choice.delta.role === undefined) continue;
    delete choice.delta.role;
    chunk[verbatim] = undefined; // changed: serialised again
  }
}

/** A chunk that says nothing: no finish reason and an empty delta. */
function isEmptyChunk(chunk: ChatCompletionChunk): boolean {
  for (const choice of chunk.choices) {
    if (choice.finish_reason) return false;
    for (const key in choice.delta) {
      const value = choice.delta[key];
      if (value !== undefined && value !== '') return false;
    }
  }
  return true;
}

function interrupted(original: UpstreamError | undefined, why: string): StreamInterruptedError {
  const cause = original ? `${original.model}: ${original.message}` : 'the upstream stream failed';
  return new StreamInterruptedError(
    'upstream_error',
    `the stream was interrupted after partial output (${cause}); could not continue: ${why}`,
  );
}
