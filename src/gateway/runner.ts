/**
 * What every request kind (chat, stream, embeddings) shares: its set-up (id, trace, facts),
 * planning with key admission, the request scope, the chain run (hedged when asked), the cache
 * look-up, and the one summary at its end. Built once by the composition root (`index.ts`).
 */
import type { GatewayConfig } from '../config/load.ts';
import type { ModelSpec } from '../config/model-spec.ts';
import { afterTurn } from '../lib/after-turn.ts';
import { neverCancelled } from '../lib/cancel.ts';
import type { EventBus, RequestTracer } from '../observability/events.ts';
import type { Clock } from '../resilience/clock.ts';
import { type ChainOptions, type Opened, runChain } from '../resilience/fallback.ts';
import type { HealthBoard } from '../resilience/health-board.ts';
import { type HedgeBudget, runHedged } from '../resilience/hedge.ts';
import { AdmittedAhead } from '../resilience/limiter.ts';
import type { Operation, WorkMeter } from '../resilience/policy.ts';
import { RequestScope } from '../resilience/request-scope.ts';
import type { RequestFeatures, RouteDecision } from '../routing/types.ts';
import type { ChatCompletion, ChatRequest } from '../types/openai.ts';
import { type Accountant, baseFacts, type RequestFacts } from './accounting.ts';
import type { ResponseCache } from './cache.ts';
import type { KeyAdmissions } from './key-admission.ts';
import { headerValue, noRouteError, type Planner, refuseDeepNesting } from './plan.ts';
import type { Logger, ModelPool, ResilienceSettings } from './pool.ts';
import { RequestTrace } from './trace.ts';
import type { RequestOptions, ResponseMeta } from './types.ts';
import { newRequestId } from './wiring.ts';

/** Output tokens assumed for a rate-limit reservation when the client sets no limit. */
const expectedOutputTokens = 256;

export interface RunnerDeps {
  config: GatewayConfig;
  clock: Clock;
  logger: Logger;
  events: EventBus;
  tracer: RequestTracer;
  specs: ReadonlyMap<string, ModelSpec>;
  pool: ModelPool;
  planner: Planner;
  board: HealthBoard;
  settings: ResilienceSettings;
  hedges: HedgeBudget;
  accountant: Accountant;
  keyAdmissions: KeyAdmissions;
  cache: ResponseCache | undefined;
  countTokens: (text: string) => number;
  onStoreError: (error: unknown) => void;
}

export interface Planned {
  features: RequestFeatures;
  decision: RouteDecision;
  rateLimitHeaders?: Record<string, string>;
  /** The request's work for rate limits (with any model admission taken ahead, for its first attempt). */
  meter: WorkMeter;
}

export class RequestRunner {
  constructor(readonly deps: RunnerDeps) {}

  /** What every request starts with: its id, its clock start, its trace and the facts its summary is built from. */
  begin(request: ChatRequest, requestOptions: RequestOptions) {
    const requestId = requestOptions.requestId ?? newRequestId();
    const trace = new RequestTrace();
    const facts = baseFacts(requestId, Date.now(), request, requestOptions, trace, this.deps.tracer);
    return { requestId, startedClock: this.deps.clock.now(), trace, facts };
  }

  /** Plan a chat request and admit it against its key's limits, or throw the error its client gets. */
  async plan(
    request: ChatRequest,
    requestOptions: RequestOptions,
    facts: RequestFacts,
    trace: RequestTrace,
  ): Promise<Planned> {
    const { planner, keyAdmissions, pool } = this.deps;
    refuseDeepNesting(request);
    const planned = planner.plan(request, requestOptions.headers, requestOptions.access?.models);
    if (planned.decision.model === undefined) throw noRouteError(planned.decision);
    facts.features = planned.features;
    facts.decision = planned.decision;
    const chain = [planned.decision.model, ...planned.decision.fallbacks];
    // Only a keyed request to a capped model admits the model ahead (with the key's buckets).
    const primary = planned.decision.model;
    const ahead =
      requestOptions.access?.admission && pool.hasCaps(primary) ? new AdmittedAhead(primary) : undefined;
    const meter = this.meter(planned.features, trace, ahead);
    const rateLimitHeaders = await keyAdmissions.admit(
      requestOptions.access,
      keyAdmissions.estimate(planned.features, chain),
      facts,
      ahead && { plan: pool.admission(primary, meter)!, into: ahead },
    );
    return { features: planned.features, decision: planned.decision, rateLimitHeaders, meter };
  }

  scope(requestOptions: RequestOptions): RequestScope {
    const { clock, settings } = this.deps;
    return new RequestScope(
      clock,
      requestOptions.signal ?? neverCancelled,
      settings.requestDeadlineMs,
      settings.maxAttemptsTotal,
    );
  }

  /** Hedging: on for every request by config, or per request with `x-switchyard-hedge: true|false`; credits the budget. */
  hedged(requestOptions: RequestOptions): boolean {
    const asked = headerValue(requestOptions.headers, 'x-switchyard-hedge');
    const hedged =
      asked === 'true' || asked === '1'
        ? true
        : asked === 'false' || asked === '0'
          ? false
          : this.deps.config.resilience.hedging.enabled;
    if (hedged) this.deps.hedges.credit();
    return hedged;
  }

  /** The work a request is expected to cost, for the models' token caps, and what it really cost per model. */
  meter(features: RequestFeatures, trace: RequestTrace, ahead?: AdmittedAhead): WorkMeter {
    return {
      ahead,
      estimate: features.promptTokens + (features.maxOutputTokens ?? expectedOutputTokens),
      actual(target) {
        for (let i = trace.segments.length - 1; i >= 0; i--) {
          const segment = trace.segments[i]!;
          if (segment.model === target && segment.usage) return segment.usage.total_tokens;
        }
        return undefined;
      },
    };
  }

  /** Run the chain for one request, hedged when asked: the first model (and attempt) that succeeds. */
  open<T>(
    chain: readonly string[],
    operation: Operation<T>,
    scope: RequestScope,
    trace: RequestTrace,
    requestId: string,
    meter: WorkMeter,
    hedged: boolean,
  ): Promise<Opened<T>> {
    const { pool, board, settings, clock, hedges } = this.deps;
    const options = (hedge: boolean): ChainOptions => pool.chainOptions(trace, requestId, meter, hedge);
    if (!hedged || chain.length < 2) return runChain(pool.targets(chain), operation, scope, options(false));
    const primary = board.model(chain[0]!);
    const delay =
      settings.hedging.delayMs ??
      primary?.recentLatency.quantile(settings.hedging.quantile) ??
      primary?.spec.timeouts.firstTokenMs ??
      1000;
    return runHedged(
      chain,
      (branch, branchScope, hedge) => runChain(pool.targets(branch), operation, branchScope, options(hedge)),
      scope,
      clock,
      delay,
      hedges,
      () => {
        trace.hedged = true;
      },
    );
  }

  /**
   * The cache's key for this request and, if it may be answered from the cache, the stored
   * answer; undefined at once (no promise to await) when the request is not cached.
   */
  lookUp(request: ChatRequest, requestOptions: RequestOptions) {
    const { cache } = this.deps;
    const cacheKey = cache?.keyFor(request, requestOptions);
    if (!cache || !cacheKey) return undefined;
    const key = cacheKey.key;
    if (!cacheKey.read) return Promise.resolve({ key, hit: undefined });
    return cache.get(key).then(
      (hit) => ({ key, hit }),
      () => ({ key, hit: undefined }),
    );
  }

  remember(cacheKey: string | undefined, model: string, completion: ChatCompletion | undefined): void {
    const { cache, onStoreError } = this.deps;
    if (cache && cacheKey && completion) cache.put(cacheKey, model, completion).catch(onStoreError);
  }

  /** The one summary of a request, to every sink, its key's settlement and its trace span. */
  finish(
    facts: RequestFacts,
    startedClock: number,
    request: { messages?: unknown },
    response?: () => string,
  ): void {
    const { accountant, clock, config, events } = this.deps;
    const summary = accountant.summarize(facts, clock.now() - startedClock);
    if (config.observability.request_log.log_content) {
      summary.content = { request: request.messages, response: response?.() ?? '' };
    }
    facts.onFinish?.(summary);
    events.requestFinished(summary);
    const reason = facts.trace?.finishReason;
    facts.span.end(summary, reason ? [reason] : []);
  }

  /**
   * A successful request's summary, now or (`deferSummary`) once the caller has written the
   * answer: through the returned function, and on the next turn of the event loop at the latest,
   * so a caller that never calls it loses nothing. Failures are summarised at once.
   */
  finishWhenWritten(
    requestOptions: RequestOptions,
    facts: RequestFacts,
    startedClock: number,
    request: { messages?: unknown },
    response: () => string,
  ): (() => void) | undefined {
    if (!requestOptions.deferSummary) {
      this.finish(facts, startedClock, request, response);
      return undefined;
    }
    const finish = this.finishOnce(facts, startedClock, request, response);
    // The safety net, should the caller never call it: after this turn (a second call does nothing).
    afterTurn(finish);
    return finish;
  }

  /** `finish`, at most once, off the request path (a failure is logged: nobody else would catch it). */
  private finishOnce(
    facts: RequestFacts,
    startedClock: number,
    request: { messages?: unknown },
    response: () => string,
  ): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      try {
        this.finish(facts, startedClock, request, response);
      } catch (error) {
        this.deps.logger.error({ err: error }, 'request summary failed');
      }
    };
  }

  meta(requestId: string, planned: Planned, trace: RequestTrace, cache?: 'hit' | 'miss'): ResponseMeta {
    const meta: ResponseMeta = {
      requestId,
      model: trace.model ?? planned.decision.model,
      task: planned.features.task,
      priority: planned.decision.priority,
      fallbacks: trace.fallbacks,
      decision: planned.decision,
    };
    if (planned.rateLimitHeaders) meta.rateLimitHeaders = planned.rateLimitHeaders;
    if (cache) meta.cache = cache;
    return meta;
  }
}
