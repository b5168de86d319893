/**
 * One streaming chat request: plan, cache (a hit is replayed as a stream), then the stream
 * fail-over over the chain of policies. The first chunk is pulled before the handle is returned,
 * so a failure before any output is a plain error (with its status), never a broken stream.
 */
import { GatewayError } from '../errors.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../types/openai.ts';
import type { RequestFacts } from './accounting.ts';
import { chunksFromCompletion, completionFromChunks } from './cache.ts';
import { asGatewayError } from './run-chat.ts';
import type { Planned, RequestRunner } from './runner.ts';
import { failoverStream, openUntilFirstToken } from './stream-failover.ts';
import type { RequestTrace } from './trace.ts';
import type { RequestOptions, ResponseMeta, StreamHandle } from './types.ts';

export async function runStream(
  runner: RequestRunner,
  request: ChatRequest,
  requestOptions: RequestOptions,
): Promise<StreamHandle> {
  const { pool, board, clock, logger, specs, countTokens, config } = runner.deps;
  const { requestId, startedClock, trace, facts } = runner.begin(request, requestOptions);
  let planned: Planned;
  let cached: Awaited<ReturnType<RequestRunner['lookUp']>>;
  try {
    planned = await runner.plan(request, requestOptions, facts, trace);
    const lookup = runner.lookUp(request, requestOptions);
    cached = lookup && (await lookup);
  } catch (error) {
    facts.error = asGatewayError(error);
    runner.finish(facts, startedClock, request);
    throw facts.error;
  }
  if (cached?.hit) {
    return replay(
      runner,
      cached.hit,
      requestId,
      startedClock,
      trace,
      facts,
      request,
      requestOptions,
      planned,
    );
  }
  if (cached) facts.cache = 'miss';
  const { features, decision } = planned;
  const scope = runner.scope(requestOptions);
  const hedged = runner.hedged(requestOptions);
  const { meter } = planned;
  // A stream to be cached keeps its chunks until it ends (bounded: a long one is not stored).
  let kept: ChatCompletionChunk[] | undefined = cached ? [] : undefined;
  let keptChars = 0;
  let meta: ResponseMeta | undefined;
  /** The first chunk arrived and the handle went to the caller: the stream's end is summarised by `end`. */
  let handedOut = false;
  // With `deferSummary`, set when the chunks end; the caller calls it after its last write.
  let finish: (() => void) | undefined;
  const end = (error: GatewayError | undefined, ran: boolean) => {
    if (ran && kept && trace.model) {
      runner.remember(
        cached?.key,
        trace.model,
        completionFromChunks(kept, `chatcmpl-${requestId}`, trace.model),
      );
    }
    // The fail-over hands its own GatewayError.
    if (error !== undefined) facts.error = error;
    // Stopped before the end without a failure: the consumer (the client) went away.
    else if (!ran || scope.clientGone) {
      facts.error = new GatewayError('client_closed_request', 'the client closed the request');
    }
    scope.close();
    finish = runner.finishWhenWritten(requestOptions, facts, startedClock, request, () => trace.text);
  };
  const inner = failoverStream({
    // Copied only when it says otherwise (a copy of a parsed body is a measurable cost).
    request: request.stream === true ? request : { ...request, stream: true },
    requestId,
    trace,
    scope,
    clock,
    logger,
    chain: [decision.model, ...decision.fallbacks],
    spec: (name) => specs.get(name),
    promptTokens: features.promptTokens,
    countTokens,
    open: (chain, attemptRequest) => {
      const openStream = openUntilFirstToken(clock, board, attemptRequest);
      const operation = pool.tracked(
        trace,
        requestId,
        (client, callOptions) => openStream(client, callOptions),
        facts.span,
      );
      return runner.open(chain, operation, scope, trace, requestId, meter, hedged);
    },
    onChunk(chunk) {
      if (kept) {
        keptChars += chunk.choices[0]?.delta.content?.length ?? 0;
        if (keptChars > config.cache.max_entry_bytes) kept = undefined;
        else kept.push(chunk);
      }
      if (meta) {
        meta.model = trace.model ?? meta.model;
        meta.fallbacks = trace.fallbacks;
      }
    },
    onEnd(error, ran) {
      if (handedOut) end(error, ran);
    },
  });
  let first: IteratorResult<ChatCompletionChunk>;
  try {
    first = await inner.next();
  } catch (error) {
    scope.close();
    facts.error = asGatewayError(error);
    runner.finish(facts, startedClock, request, () => trace.text);
    throw facts.error;
  }
  meta = runner.meta(requestId, planned, trace, cached ? 'miss' : undefined);
  handedOut = true;
  // Over before it was handed out (no chunk at all): summarised now.
  if (first.done) end(undefined, true);
  // The first chunk again, then the fail-over's own iterator: no generator layer in between.
  let pending: IteratorResult<ChatCompletionChunk> | undefined = first.done ? undefined : first;
  const chunks: AsyncIterableIterator<ChatCompletionChunk> = {
    next() {
      if (!pending) return inner.next();
      const result = pending;
      pending = undefined;
      return Promise.resolve(result);
    },
    // A consumer that stops early (client gone) cancels the upstream call: the fail-over's finally runs.
    return: (value?: unknown) => {
      pending = undefined;
      return inner.return(value as undefined);
    },
    throw: (error?: unknown) => inner.throw(error),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { meta, chunks, finish: () => finish?.() };
}

/** A cached answer replayed as a stream; the request costs nothing. */
function replay(
  runner: RequestRunner,
  hit: { completion: ChatCompletion; model: string },
  requestId: string,
  startedClock: number,
  trace: RequestTrace,
  facts: RequestFacts,
  request: ChatRequest,
  requestOptions: RequestOptions,
  planned: Planned,
): StreamHandle {
  facts.cache = 'hit';
  trace.model = hit.model;
  trace.ttftMs = runner.deps.clock.now() - startedClock;
  const withUsage = request.stream_options?.include_usage === true;
  async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
    try {
      yield* chunksFromCompletion(hit.completion, `chatcmpl-${requestId}`, withUsage);
    } finally {
      finish = runner.finishWhenWritten(
        requestOptions,
        facts,
        startedClock,
        request,
        () => hit.completion.choices[0]?.message.content ?? '',
      );
    }
  }
  let finish: (() => void) | undefined;
  return { meta: runner.meta(requestId, planned, trace, 'hit'), chunks: chunks(), finish: () => finish?.() };
}
