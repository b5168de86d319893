/**
 * Runs one client request against its chain of candidate models: breaker and bulkhead checks,
 * per-attempt timeouts under one request deadline, retries with backoff, fail-over by error
 * class, and streaming fail-over (transparent before the first token, prefill continuation
 * after it). Every accepted request ends in exactly one result or one GatewayError.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import { abortReasons, countsAgainstModel, GatewayError, UpstreamError } from '../errors.ts';
import type { AttemptRecord, GatewayEvents } from '../observability/events.ts';
import type { CallOptions, ModelClient } from '../providers/types.ts';
import type { RandomSource } from '../lib/random.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, Usage } from '../types/openai.ts';
import { Bulkhead } from './bulkhead.ts';
import type { Clock } from './clock.ts';
import { type FailurePolicy, planAfterFailure } from './failure-plan.ts';
import type { ModelHealthRegistry } from './model-health.ts';

export interface ExecutorPolicy extends FailurePolicy {
  maxAttemptsTotal: number;
  requestDeadlineMs: number;
  /** How long a bad key keeps a model out of rotation. */
  unhealthyForMs: number;
  hedging: {
    /** Fixed delay before hedging; undefined = the primary's observed p95 time to first byte. */
    delayMs: number | undefined;
    /** Extra upstream requests allowed, as a share of requests (a token bucket). */
    budget: number;
    /** Without a fixed delay: hedge once the primary is slower than this quantile of its recent TTFTs. */
    quantile: number;
  };
}

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface ExecutorDeps {
  clients: ReadonlyMap<string, ModelClient>;
  health: ModelHealthRegistry;
  clock: Clock;
  random: RandomSource;
  policy: ExecutorPolicy;
  events: GatewayEvents;
  logger: Logger;
}

export interface ExecutionContext {
  requestId: string;
  /** Candidate models in order: primary first. */
  chain: readonly string[];
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  promptTokens: number;
  /** Start a hedge on the next candidate if the primary is slow (needs hedging.enabled or a per-request opt-in). */
  hedge?: boolean;
}

/** What happened while serving one request; filled in as attempts run. */
export class ExecutionTrace {
  readonly attempts: AttemptRecord[] = [];
  readonly failedModels: string[] = [];
  retries = 0;
  /** The model answering now (streams can switch once text was sent). */
  model: string | undefined;
  ttftMs: number | undefined;
  usage: Usage | undefined;
  /** Answer text so far (for prefill continuation and estimated usage). */
  text = '';
  /** A hedge request was started. */
  hedged = false;
  /** Run when the request ends (a stream's bulkhead slot is released then). */
  readonly onEnd: Array<() => void> = [];
  /** Stream attempts that opened and are still running, reported when they end. */
  readonly openAttempts = new Map<object, AttemptRecord>();

  get fallbacks(): number {
    return this.model
      ? this.failedModels.filter((name) => name !== this.model).length
      : this.failedModels.length;
  }
}

/** A stream the executor could not complete; `partial` says whether text already reached the client. */
export class StreamInterruptedError extends GatewayError {}

interface Candidate {
  name: string;
  client: ModelClient;
  spec: ModelSpec;
}

export class Executor {
  constructor(private readonly deps: ExecutorDeps) {}

  /** Non-streaming: the first successful completion along the chain. */
  async chat(
    request: ChatRequest,
    context: ExecutionContext,
    trace = new ExecutionTrace(),
  ): Promise<{ completion: ChatCompletion; trace: ExecutionTrace }> {
    const scope = this.openScope(context);
    this.creditHedgeBudget(context);
    try {
      const completion = await this.runHedged(context, trace, scope, async (candidate, options) => {
        const { completion, meta } = await candidate.client.chat(request, options);
        this.deps.health.observeRateLimitHeaders(candidate.name, meta.rateLimit);
        return completion;
      });
      trace.usage = completion.usage;
      trace.text = completion.choices[0]?.message.content ?? '';
      return { completion, trace };
    } catch (error) {
      scope.cancelRemaining(); // a hedge or retry still in flight has no one to answer
      throw error;
    } finally {
      for (const end of trace.onEnd.splice(0)) end();
      scope.close();
    }
  }

  /**
   * Streaming. Chunks are held back until the first content token, so a failure before it is
   * invisible to the client. After text was sent, a failure continues on the next model that
   * supports prefill (with the partial answer as an assistant message); otherwise the stream
   * ends with a StreamInterruptedError, never as a normal completion.
   */
  async *stream(
    request: ChatRequest,
    context: ExecutionContext,
    trace: ExecutionTrace,
  ): AsyncGenerator<ChatCompletionChunk> {
    const scope = this.openScope(context);
    this.creditHedgeBudget(context);
    const streamId = `chatcmpl-${context.requestId}`;
    const wantsUsage = request.stream_options?.include_usage === true;
    let sentContent = false;
    let toolCallSent = false;
    let finishSent = false;
    let originalError: UpstreamError | undefined;
    let completed = false;
    const skip = new Set<string>();
    try {
      for (;;) {
        const continuing = sentContent;
        const attemptRequest: ChatRequest = continuing
          ? { ...request, messages: [...request.messages, { role: 'assistant', content: trace.text }] }
          : request;
        const chainLeft = context.chain.filter((name) => !skip.has(name));
        if (continuing) {
          // Only models that accept an assistant prefill can continue a half-sent answer.
          const eligible = chainLeft.filter((name) =>
            this.deps.clients.get(name)?.spec.capabilities.has('prefill'),
          );
          if (toolCallSent || eligible.length === 0) {
            throw interrupted(
              originalError,
              toolCallSent ? 'a tool call was in flight' : 'no remaining model supports prefill',
            );
          }
          chainLeft.splice(0, chainLeft.length, ...eligible);
        }
        let iterator: AsyncIterator<ChatCompletionChunk> | undefined;
        let held: ChatCompletionChunk[] = [];
        let started: number;
        let candidateName: string | undefined;
        let openRecord: AttemptRecord | undefined;
        try {
          const opened = await this.runHedged(
            { ...context, chain: chainLeft },
            trace,
            scope,
            async (candidate, options) => {
              const attemptStarted = this.deps.clock.now();
              const result = await candidate.client.stream(attemptRequest, options);
              this.deps.health.observeRateLimitHeaders(candidate.name, result.meta.rateLimit);
              const chunks = result.chunks[Symbol.asyncIterator]();
              // Read up to the first content token inside the attempt, so a stall or failure
              // before it is retried or failed over like any other failed attempt.
              const firstTokenDeadline = attemptStarted + options.timeouts.firstTokenMs;
              const buffered: ChatCompletionChunk[] = [];
              try {
                for (;;) {
                  const next = await this.nextBefore(chunks, firstTokenDeadline, candidate.name);
                  if (next.done)
                    throw new UpstreamError(
                      'bad_response',
                      `${candidate.name}'s stream ended before any content`,
                      { model: candidate.name, provider: candidate.spec.provider },
                    );
                  buffered.push(next.value);
                  if (hasContent(next.value) || next.value.choices.some((choice) => choice.finish_reason))
                    break;
                }
              } catch (error) {
                // Not awaited: return() waits behind a pending next(); the attempt's abort ends it.
                chunks.return?.().catch(() => {});
                throw error;
              }
              return { chunks, buffered, name: candidate.name, started: attemptStarted };
            },
            { keepAlive: true, dispose: (value) => void value.chunks.return?.() },
          );
          iterator = opened.chunks;
          held = opened.buffered;
          candidateName = opened.name;
          started = opened.started;
          openRecord = trace.openAttempts.get(opened);
          trace.openAttempts.delete(opened);
        } catch (error) {
          if (continuing && error instanceof GatewayError) throw interrupted(originalError, error.message);
          throw error;
        }
        // This model is now answering.
        trace.model = candidateName;
        if (trace.ttftMs === undefined) trace.ttftMs = this.deps.clock.now() - scope.startedAt;
        let segmentUsage: Usage | undefined;
        try {
          for (;;) {
            let chunk = held.shift();
            if (!chunk) {
              const next = await iterator.next();
              if (next.done) break;
              chunk = next.value;
            }
            chunk.id = streamId;
            if (chunk.usage) segmentUsage = chunk.usage;
            if (continuing) stripRole(chunk);
            for (const choice of chunk.choices) {
              const delta = choice.delta;
              if (typeof delta.content === 'string') trace.text += delta.content;
              if (delta.tool_calls && delta.tool_calls.length > 0) toolCallSent = true;
              if (choice.finish_reason) finishSent = true;
            }
            // Usage-only chunks are summed and sent once, at the end.
            if (chunk.choices.length > 0 && !isEmptyContinuationChunk(chunk)) {
              if (hasContent(chunk)) sentContent = true;
              yield chunk;
            }
          }
          this.deps.health.recordTokens(candidateName, segmentUsage?.completion_tokens ?? 0);
          trace.usage = mergeUsage(trace.usage, segmentUsage);
          if (!finishSent) {
            throw new UpstreamError(
              'bad_response',
              `${candidateName}'s stream ended without a finish reason`,
              { model: candidateName },
            );
          }
          completed = true;
          if (openRecord) this.deps.events.attempt(context.requestId, openRecord);
          if (wantsUsage && trace.usage) {
            yield {
              id: streamId,
              object: 'chat.completion.chunk',
              created: Math.floor(Date.now() / 1000),
              model: candidateName,
              choices: [],
              usage: trace.usage,
            };
          }
          return;
        } catch (error) {
          await iterator.return?.().catch(() => {});
          const failure = toUpstream(error, candidateName);
          const latencyMs = this.deps.clock.now() - started!;
          const cancelled = failure.kind === 'cancelled' || context.signal.aborted;
          if (openRecord) {
            // The attempt opened as a success; report how it really ended.
            Object.assign(openRecord, {
              outcome: cancelled ? 'cancelled' : failure.kind,
              status: failure.status,
              message: failure.message,
              latencyMs,
            });
            this.deps.events.attempt(context.requestId, openRecord);
          }
          if (cancelled) {
            throw new GatewayError('client_closed_request', 'the client closed the request', {
              cause: failure,
            });
          }
          this.judgeFailure(candidateName, failure, latencyMs);
          trace.usage = mergeUsage(trace.usage, segmentUsage);
          originalError ??= failure;
          skip.add(candidateName);
          trace.failedModels.push(candidateName);
          this.deps.logger.warn(
            { requestId: context.requestId, model: candidateName, kind: failure.kind },
            'stream failed mid-answer',
          );
          // Loop: before any content this is a transparent retry down the chain; after it, a
          // prefill continuation (checked at the top of the loop).
        }
      }
    } finally {
      // A stream that did not run to its end (failure, or a consumer that stopped reading)
      // cancels its upstream call; one that finished has nothing left to cancel.
      if (!completed) scope.cancelRemaining();
      for (const end of trace.onEnd.splice(0)) end();
      scope.close();
    }
  }

  /** Hedge tokens: each request adds `budget`, a hedge spends one (so hedges stay <= budget share). */
  private hedgeTokens = 0;

  private creditHedgeBudget(context: ExecutionContext): void {
    if (context.hedge) this.hedgeTokens = Math.min(10, this.hedgeTokens + this.deps.policy.hedging.budget);
  }

  /**
   * Run the chain; if hedging is on for this request and the primary has not answered after
   * the hedge delay, start the rest of the chain alongside it. The first success wins and the
   * other branch is cancelled; a branch's value that arrives too late is disposed of.
   */
  private async runHedged<T>(
    context: ExecutionContext,
    trace: ExecutionTrace,
    scope: RequestScope,
    call: (candidate: Candidate, options: CallOptions) => Promise<T>,
    options: { keepAlive?: boolean; dispose?: (value: T) => void } = {},
  ): Promise<T> {
    const { hedging } = this.deps.policy;
    const primaryName = context.chain[0];
    if (!context.hedge || context.chain.length < 2 || primaryName === undefined) {
      return this.runChain(context, trace, scope, call, options);
    }
    const delay =
      hedging.delayMs ??
      this.deps.health.runtime(primaryName)?.recentLatency.quantile(hedging.quantile) ??
      this.deps.health.runtime(primaryName)?.spec.timeouts.firstTokenMs ??
      1000;
    const primaryScope = scope.branch();
    const hedgeScope = scope.branch();
    const primary = this.runChain({ ...context, chain: [primaryName] }, trace, primaryScope, call, options);
    let cancelTimer = () => {};
    const first = await Promise.race([
      primary.then(
        (value) => ({ settled: true as const, ok: true as const, value }),
        (error: unknown) => ({ settled: true as const, ok: false as const, error }),
      ),
      new Promise<{ settled: false }>((resolve) => {
        cancelTimer = this.deps.clock.schedule(delay, () => resolve({ settled: false }));
      }),
    ]);
    cancelTimer();
    if (first.settled) {
      hedgeScope.close();
      primaryScope.close();
      if (first.ok) return first.value;
      // The primary failed before the hedge delay: carry on down the chain as usual.
      return this.runChain({ ...context, chain: context.chain.slice(1) }, trace, scope, call, options);
    }
    if (this.hedgeTokens < 1) {
      // Over budget: no hedge; the primary's own fail-over applies.
      try {
        return await primary;
      } catch (error) {
        if (error instanceof GatewayError && error.code === 'client_closed_request') throw error;
        return this.runChain({ ...context, chain: context.chain.slice(1) }, trace, scope, call, options);
      } finally {
        primaryScope.close();
        hedgeScope.close();
      }
    }
    this.hedgeTokens -= 1;
    trace.hedged = true;
    const hedge = this.runChain({ ...context, chain: context.chain.slice(1) }, trace, hedgeScope, call, {
      ...options,
      hedge: true,
    });
    try {
      return await firstSuccess([primary, hedge], [primaryScope, hedgeScope], options.dispose);
    } finally {
      primaryScope.close();
      hedgeScope.close();
    }
  }

  /**
   * Walk the chain: for each usable model, attempt (with retries) until one succeeds.
   * `keepAlive` leaves the model's in-flight slot open for a stream that goes on after `call`.
   */
  private async runChain<T>(
    context: ExecutionContext,
    trace: ExecutionTrace,
    scope: AttemptScope,
    call: (candidate: Candidate, options: CallOptions) => Promise<T>,
    chainOptions: { keepAlive?: boolean; hedge?: boolean } = {},
  ): Promise<T> {
    const { policy, health, clock } = this.deps;
    const failures: UpstreamError[] = [];
    const skipped: string[] = [];
    let minWindow = 0;
    let totalAttempts = trace.attempts.length;
    let hedgeAttempts = 0;
    for (const name of context.chain) {
      const client = this.deps.clients.get(name);
      if (!client) continue;
      const candidate: Candidate = { name, client, spec: client.spec };
      if (candidate.spec.contextWindow <= minWindow) {
        skipped.push(`${name}: context window not larger than the one that overflowed`);
        continue;
      }
      const runtime = health.runtime(name);
      const bulkhead = this.bulkheadFor(candidate.spec);
      if (bulkhead) {
        const slot = bulkhead.acquire(scope.signal);
        if (!(slot === true || (slot !== false && (await slot)))) {
          skipped.push(`${name}: at its concurrency limit`);
          continue;
        }
      }
      // The slot is held across this model's attempts; a stream keeps it until it ends.
      let slotHeld = bulkhead !== undefined;
      try {
        for (let attempt = 0; attempt < policy.maxAttemptsPerModel; attempt++) {
          if (totalAttempts >= policy.maxAttemptsTotal) break;
          // A hedge branch pays for every attempt after its first from the same budget.
          if (chainOptions.hedge && hedgeAttempts++ > 0) {
            if (this.hedgeTokens < 1) break;
            this.hedgeTokens -= 1;
          }
          if (scope.signal.aborted) break;
          if (runtime && !runtime.breaker.tryAcquire()) {
            skipped.push(`${name}: circuit breaker open`);
            break;
          }
          totalAttempts++;
          if (attempt > 0) trace.retries++;
          const started = clock.now();
          health.begin(name, context.promptTokens);
          this.deps.events.inFlight(name, 1);
          // Each attempt has its own signal, so a failed attempt's socket is released at once
          // (an async iterator blocked in next() cannot be closed any other way).
          const attemptController = new AbortController();
          const onScopeAbort = () => attemptController.abort(scope.signal.reason);
          scope.signal.addEventListener('abort', onScopeAbort, { once: true });
          const attemptOptions = this.attemptOptions(
            candidate.spec,
            scope,
            context.requestId,
            attemptController.signal,
          );
          const cancelTotalTimeout = clock.schedule(attemptOptions.timeouts.totalMs, () =>
            attemptController.abort(abortReasons.attemptTimeout),
          );
          const endAttempt = () => {
            cancelTotalTimeout();
            scope.signal.removeEventListener('abort', onScopeAbort);
          };
          let streamOpened = false;
          try {
            const value = await call(candidate, attemptOptions);
            const latencyMs = clock.now() - started;
            // A stream counts as a success at its first token: that is when this model proved it
            // works now (a long answer that started before an outage must not mask the outage).
            health.recordSuccess(name, latencyMs);
            const record = attemptRecord(candidate, 'success', latencyMs, chainOptions.hedge);
            trace.attempts.push(record);
            // A stream's attempt is reported when the stream ends (it can still fail midway).
            if (chainOptions.keepAlive) {
              streamOpened = true;
              trace.openAttempts.set(value as object, record);
              // The stream goes on: its timeout and listener end with the request.
              trace.onEnd.push(endAttempt);
              if (bulkhead) {
                slotHeld = false;
                trace.onEnd.push(() => bulkhead.release());
              }
            } else {
              endAttempt();
              this.deps.events.attempt(context.requestId, record);
            }
            trace.model = name;
            return value;
          } catch (caught) {
            attemptController.abort(abortReasons.attemptFailed);
            endAttempt();
            const latencyMs = clock.now() - started;
            let error = toUpstream(caught, name, candidate.spec.provider);
            if (scope.deadlineHit && !context.signal.aborted) {
              error = new UpstreamError('timeout', `request deadline passed while waiting for ${name}`, {
                model: name,
                provider: candidate.spec.provider,
              });
            }
            const record = attemptRecord(candidate, error.kind, latencyMs, chainOptions.hedge, error);
            trace.attempts.push(record);
            this.deps.events.attempt(context.requestId, record);
            if (error.kind === 'cancelled' || context.signal.aborted) {
              runtime?.breaker.release();
              throw new GatewayError('client_closed_request', 'the client closed the request', {
                cause: error,
              });
            }
            this.judgeFailure(name, error, latencyMs);
            failures.push(error);
            const remaining = scope.deadline - clock.now();
            const hasAlternatives = context.chain.indexOf(name) < context.chain.length - 1;
            const plan = planAfterFailure(
              error,
              attempt,
              remaining,
              policy,
              this.deps.random,
              hasAlternatives,
            );
            if (error.kind === 'rate_limited') health.observeRetryAfter(name, error.retryAfterMs ?? 1000);
            if (plan.action === 'stop') throw clientError(error);
            if (plan.action === 'retry') {
              try {
                await clock.sleep(plan.delayMs, scope.signal);
              } catch {
                break;
              }
              continue;
            }
            if (plan.markUnhealthy) {
              health.markUnhealthy(name, error.message, policy.unhealthyForMs);
              this.deps.logger.error(
                { requestId: context.requestId, model: name, status: error.status, kind: error.kind },
                `${name} rejected the gateway's credentials or model id: check its api_key/model in the config; taken out of rotation`,
              );
            }
            if (plan.onlyLargerWindow) minWindow = Math.max(minWindow, candidate.spec.contextWindow);
            break;
          } finally {
            // An open stream is still in flight: it counts until the request ends.
            const leave = () => {
              health.end(name);
              this.deps.events.inFlight(name, -1);
            };
            if (streamOpened) trace.onEnd.push(leave);
            else leave();
          }
        }
      } finally {
        if (slotHeld) bulkhead?.release();
      }
      if (!trace.failedModels.includes(name) && failures.some((failure) => failure.model === name))
        trace.failedModels.push(name);
      if (scope.signal.aborted || totalAttempts >= policy.maxAttemptsTotal) break;
    }
    if (context.signal.aborted)
      throw new GatewayError('client_closed_request', 'the client closed the request');
    throw exhausted(failures, skipped, scope.deadlineHit, minWindow > 0);
  }

  /** Health bookkeeping for a failed attempt: the request's own faults never count against the model. */
  private judgeFailure(model: string, error: UpstreamError, latencyMs: number): void {
    if (countsAgainstModel(error.kind)) this.deps.health.recordFailure(model, latencyMs);
    else this.deps.health.runtime(model)?.breaker.release();
  }

  private attemptOptions(
    spec: ModelSpec,
    scope: AttemptScope,
    requestId: string,
    signal: AbortSignal,
  ): CallOptions {
    const remaining = Math.max(1, Math.floor(scope.deadline - this.deps.clock.now()));
    const { connectMs, firstTokenMs, idleMs, totalMs } = spec.timeouts;
    return {
      signal,
      requestId,
      timeouts: {
        connectMs: Math.min(connectMs, remaining),
        firstTokenMs: Math.min(firstTokenMs, remaining),
        idleMs: Math.min(idleMs, remaining),
        totalMs: Math.min(totalMs, remaining),
      },
    };
  }

  /** iterator.next(), failing as `silent` if nothing arrives before `deadline`. */
  private nextBefore(
    iterator: AsyncIterator<ChatCompletionChunk>,
    deadline: number,
    model: string,
  ): Promise<IteratorResult<ChatCompletionChunk>> {
    return new Promise((resolve, reject) => {
      const cancel = this.deps.clock.schedule(Math.max(0, deadline - this.deps.clock.now()), () =>
        reject(
          new UpstreamError('silent', `${model} sent no token before its first-token timeout`, { model }),
        ),
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

  private readonly bulkheads = new Map<string, Bulkhead>();

  private bulkheadFor(spec: ModelSpec): Bulkhead | undefined {
    if (spec.maxConcurrency === undefined) return undefined;
    let bulkhead = this.bulkheads.get(spec.name);
    if (!bulkhead) {
      bulkhead = new Bulkhead(spec.maxConcurrency, spec.maxQueue);
      this.bulkheads.set(spec.name, bulkhead);
    }
    return bulkhead;
  }

  private openScope(context: ExecutionContext): RequestScope {
    return new RequestScope(this.deps.clock, context.signal, this.deps.policy.requestDeadlineMs);
  }
}

/** What an attempt needs from its request: a signal to obey and the deadline. */
interface AttemptScope {
  readonly signal: AbortSignal;
  readonly deadline: number;
  readonly deadlineHit: boolean;
}

/** A cancellable branch of a request (one side of a hedge). */
class BranchScope implements AttemptScope {
  private readonly controller = new AbortController();
  private readonly onParentAbort: () => void;
  constructor(private readonly parent: RequestScope) {
    this.onParentAbort = () => this.controller.abort(parent.signal.reason);
    if (parent.signal.aborted) this.controller.abort(parent.signal.reason);
    else parent.signal.addEventListener('abort', this.onParentAbort, { once: true });
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  get deadline(): number {
    return this.parent.deadline;
  }
  get deadlineHit(): boolean {
    return this.parent.deadlineHit;
  }
  cancel(): void {
    this.controller.abort(abortReasons.hedgeLost);
  }
  close(): void {
    this.parent.signal.removeEventListener('abort', this.onParentAbort);
  }
}

/** The request's own abort signal: the client's signal plus the request deadline. */
class RequestScope implements AttemptScope {
  readonly startedAt: number;
  readonly deadline: number;
  deadlineHit = false;
  private readonly controller = new AbortController();
  private readonly cancelDeadline: () => void;
  private readonly onClientAbort: () => void;

  constructor(
    clock: Clock,
    private readonly clientSignal: AbortSignal,
    deadlineMs: number,
  ) {
    this.startedAt = clock.now();
    this.deadline = this.startedAt + deadlineMs;
    this.onClientAbort = () => this.controller.abort(clientSignal.reason);
    if (clientSignal.aborted) this.controller.abort(clientSignal.reason);
    else clientSignal.addEventListener('abort', this.onClientAbort, { once: true });
    this.cancelDeadline = clock.schedule(deadlineMs, () => {
      this.deadlineHit = true;
      this.controller.abort(abortReasons.requestDeadline);
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  branch(): BranchScope {
    return new BranchScope(this);
  }

  /** Cancel anything still running for this request (aborting costs an event: only when needed). */
  cancelRemaining(): void {
    if (!this.controller.signal.aborted) this.controller.abort(abortReasons.requestFinished);
  }

  /** End the request: stop the deadline timer and stop listening to the client. */
  close(): void {
    this.cancelDeadline();
    this.clientSignal.removeEventListener('abort', this.onClientAbort);
  }
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
  for (const choice of chunk.choices) delete choice.delta.role;
}

function isEmptyContinuationChunk(chunk: ChatCompletionChunk): boolean {
  return chunk.choices.every((choice) => !choice.finish_reason && Object.keys(choice.delta).length === 0);
}

function mergeUsage(total: Usage | undefined, segment: Usage | undefined): Usage | undefined {
  if (!segment) return total;
  if (!total) return { ...segment };
  // A continuation re-reads the prompt plus the partial answer; bill what each model used.
  return {
    prompt_tokens: total.prompt_tokens + segment.prompt_tokens,
    completion_tokens: total.completion_tokens + segment.completion_tokens,
    total_tokens: total.total_tokens + segment.total_tokens,
  };
}

function toUpstream(error: unknown, model: string, provider?: string): UpstreamError {
  if (error instanceof UpstreamError) {
    error.model ??= model;
    return error;
  }
  if (error instanceof GatewayError) throw error;
  return new UpstreamError(
    'server',
    `${model} failed: ${error instanceof Error ? error.message : String(error)}`,
    { model, provider, cause: error },
  );
}

/** The client's own fault, or a refusal, passed on as a 400 with the upstream's reason. */
function clientError(error: UpstreamError): GatewayError {
  if (error.kind === 'cancelled')
    return new GatewayError('client_closed_request', 'the client closed the request');
  const code =
    error.kind === 'content_policy'
      ? 'content_policy_violation'
      : error.kind === 'context_length'
        ? 'context_length_exceeded'
        : 'invalid_request';
  return new GatewayError(code, error.message, { param: error.param, status: 400, cause: error });
}

/** Every candidate failed: one error that names each model tried and why. */
function exhausted(
  failures: UpstreamError[],
  skipped: string[],
  deadlineHit: boolean,
  contextOverflow: boolean,
): GatewayError {
  const tried = failures.map((failure) => `${failure.model}: ${failure.message}`);
  const detail = [...dedupe(tried), ...skipped].join('; ');
  if (contextOverflow && failures.every((failure) => failure.kind === 'context_length')) {
    return new GatewayError(
      'context_length_exceeded',
      `the prompt does not fit any available model (${detail})`,
      { param: 'messages' },
    );
  }
  if (failures.length === 0) {
    return new GatewayError(
      'no_model_available',
      `no model could take the request: ${detail || 'every candidate is unavailable'}`,
    );
  }
  if (failures.every((failure) => failure.kind === 'rate_limited')) {
    const retryAfter = Math.min(...failures.map((failure) => failure.retryAfterMs ?? 1000));
    return new GatewayError('rate_limited', `every candidate is rate limited: ${detail}`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfter / 1000))) },
    });
  }
  if (deadlineHit || failures.every((failure) => failure.kind === 'timeout' || failure.kind === 'silent')) {
    return new GatewayError('upstream_timeout', `no model answered in time: ${detail}`);
  }
  if (failures.every((failure) => failure.kind === 'bad_response')) {
    return new GatewayError(
      'bad_upstream_response',
      `every candidate returned an invalid response: ${detail}`,
    );
  }
  return new GatewayError('upstream_error', `every candidate failed: ${detail}`);
}

function interrupted(original: UpstreamError | undefined, why: string): StreamInterruptedError {
  const cause = original ? `${original.model}: ${original.message}` : 'the upstream stream failed';
  return new StreamInterruptedError(
    'upstream_error',
    `the stream was interrupted after partial output (${cause}); could not continue: ${why}`,
  );
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

/**
 * The first branch to succeed wins; the other is cancelled. If both fail, the primary's error
 * is thrown (it names the model the client's request was routed to).
 */
function firstSuccess<T>(
  branches: Promise<T>[],
  scopes: BranchScope[],
  dispose?: (value: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let winner = -1;
    let failed = 0;
    const errors: unknown[] = [];
    branches.forEach((branch, index) => {
      branch.then(
        (value) => {
          if (winner === -1) {
            winner = index;
            scopes.forEach((scope, other) => {
              if (other !== index) scope.cancel();
            });
            resolve(value);
          } else {
            dispose?.(value);
          }
        },
        (error: unknown) => {
          errors[index] = error;
          failed++;
          if (failed === branches.length) reject(combineFailures(errors[0], errors[1]));
        },
      );
    });
  });
}

function combineFailures(primary: unknown, hedge: unknown): unknown {
  if (
    primary instanceof GatewayError &&
    hedge instanceof GatewayError &&
    hedge.code !== 'client_closed_request'
  ) {
    return new GatewayError(hedge.code, `${primary.message}; hedge: ${hedge.message}`, {
      headers: hedge.headers,
    });
  }
  return primary;
}

function attemptRecord(
  candidate: Candidate,
  outcome: AttemptRecord['outcome'],
  latencyMs: number,
  hedge: boolean | undefined,
  error?: UpstreamError,
): AttemptRecord {
  const record: AttemptRecord = {
    model: candidate.name,
    provider: candidate.spec.provider,
    outcome,
    latencyMs,
  };
  if (error) {
    record.status = error.status;
    record.message = error.message;
  }
  if (hedge) record.hedge = true;
  return record;
}
