/**
 * The gateway as a library, and its composition root: config in, `chat`/`chatStream`/`route`/
 * `embeddings`/`batch` out. The HTTP server, the CLI and the simulator are thin layers over it.
 *
 * Everything expensive (config validation, regex compilation, tokenizer tables, HTTP pools,
 * policy stacks) happens here, once. A request is: plan (`plan.ts`) -> the fallback chain of
 * policies (`pool.ts`, hedged when asked) -> for streams, fail-over after the first token
 * (`stream-failover.ts`) -> one summary (`accounting.ts`) on the event bus.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { type GatewayConfig, normalizeConfig } from '../config/load.ts';
import type { ModelSpec } from '../config/model-spec.ts';
import type { RawConfig } from '../config/schema.ts';
import { GatewayError, invalidRequest, logText, UpstreamError } from '../errors.ts';
import { type RandomSource, seededRandom } from '../lib/random.ts';
import { createScrubber } from '../lib/secrets.ts';
import { EventBus, noTracer } from '../observability/events.ts';
import { createLogger } from '../observability/logger.ts';
import { createHttpClient } from '../providers/http.ts';
import { createModelClient } from '../providers/registry.ts';
import { isSimulatedClient } from '../providers/simulated/index.ts';
import type { ModelClient, ProviderDeps } from '../providers/types.ts';
import { systemClock } from '../resilience/clock.ts';
import { type ChainOptions, type Opened, runChain } from '../resilience/fallback.ts';
import { HealthBoard } from '../resilience/health-board.ts';
import { HealthChecker } from '../resilience/health-checker.ts';
import { HedgeBudget, runHedged } from '../resilience/hedge.ts';
import { isRefusal, Limiter } from '../resilience/limiter.ts';
import type { Operation, WorkMeter } from '../resilience/policy.ts';
import { RequestScope } from '../resilience/request-scope.ts';
import { countTokens } from '../routing/tokenizer.ts';
import type { RequestFeatures, RouteDecision } from '../routing/types.ts';
import type { ChatCompletionChunk, ChatRequest } from '../types/openai.ts';
import { Accountant, accountantUsage, baseFacts, type RequestFacts } from './accounting.ts';
import { KeyAdmissions } from './key-admission.ts';
import { chainFailure } from './outcome.ts';
import {
  embeddingsChain,
  headerValue,
  modelNotAllowed,
  noRouteError,
  Planner,
  refuseDeepNesting,
} from './plan.ts';
import { countsAgainst, ModelPool, type ResilienceSettings } from './pool.ts';
import { failoverStream, openUntilFirstToken } from './stream-failover.ts';
import { RequestTrace } from './trace.ts';
import type {
  AccessGrant,
  BatchResult,
  Gateway,
  GatewayOptions,
  ModelStatus,
  RequestEstimate,
  RequestOptions,
  ResponseMeta,
} from './types.ts';
import { neverAborted, newRequestId, resilienceSettings, secretsOf, storeFor } from './wiring.ts';

export type * from './types.ts';

/** Output tokens assumed for a rate-limit reservation when the client sets no limit. */
const expectedOutputTokens = 256;

const probeRequest: ChatRequest = {
  model: 'probe',
  messages: [{ role: 'user', content: 'ping' }],
  max_tokens: 1,
  temperature: 0,
};

export function createGateway(options: GatewayOptions): Gateway {
  const config = isNormalized(options.config) ? options.config : normalizeConfig(options.config, options.env);
  const clock = options.clock ?? systemClock;
  const random: RandomSource = seededRandom(
    options.seed ?? config.routing.seed ?? Math.floor(Math.random() * 2 ** 31),
  );
  const logger = options.logger ?? createLogger(config.observability.log_level);
  const events = new EventBus((error) => logger.error({ err: error }, 'an event sink failed'));
  const instance = options.instanceId ?? randomUUID().slice(0, 8);
  const tracer = options.tracer ?? noTracer;
  const { store, failover } = storeFor(config, options.store, clock, instance, logger);
  const scrub = createScrubber(secretsOf(config));
  const http = createHttpClient();
  const specs = new Map<string, ModelSpec>(config.models.map((spec) => [spec.name, spec]));
  let storeErrorLogged = false;
  const onStoreError = (error: unknown) => {
    // The store degrades on its own (and says so); one line here is enough.
    if (storeErrorLogged) return;
    storeErrorLogged = true;
    logger.warn({ err: error }, 'a shared-state write failed; serving on local state');
  };

  let idCounter = 0;
  const deps: ProviderDeps = {
    http,
    clock,
    nowSeconds: () => Math.floor(Date.now() / 1000),
    warn: (message) => logger.warn({}, message),
    newId: (prefix) => `${prefix}-${(++idCounter).toString(36)}${randomUUID().slice(0, 8)}`,
  };
  const clients = new Map<string, ModelClient>();
  for (const spec of config.models) clients.set(spec.name, createModelClient(spec, deps, scrub));

  const limiter = new Limiter(store, clock, instance);
  const board = new HealthBoard(config.models, {
    clock,
    store,
    limiter,
    instance,
    onStoreError,
    onTransition: (model, transition) => {
      const level = transition.to === 'open' ? 'warn' : 'info';
      logger[level](
        {
          model,
          from: transition.from,
          to: transition.to,
          reason: transition.reason,
          remote: transition.remote === true,
        },
        `circuit breaker ${transition.to}`,
      );
      events.breakerTransition(model, transition);
    },
  });
  // Redis first (or degraded), then the fleet's current breaker states.
  const started = (async () => {
    await failover?.start();
    await board.start();
  })().catch(onStoreError);
  // Back on shared state after an outage: adopt what the fleet decided meanwhile.
  failover?.onStateChange((change) => {
    if (!change.degraded) void board.resync();
  });
  const settings = resilienceSettings(config);
  const pool = new ModelPool(clients, {
    clock,
    random,
    board,
    limiter,
    events,
    logger,
    settings,
    onStoreError,
  });
  const planner = new Planner(config, board, random);
  const hedges = new HedgeBudget(settings.hedging.budget);
  const count = (text: string) =>
    countTokens(text, { exactChars: config.routing.analysis.exact_count_chars }).tokens;
  const accountant = new Accountant(specs, count);
  const keyAdmissions = new KeyAdmissions(limiter, specs, onStoreError);
  const healthChecker = new HealthChecker(
    config.models
      .filter((spec) => spec.healthCheck.enabled)
      .map((spec) => ({
        name: spec.name,
        intervalMs: spec.healthCheck.intervalMs,
        probe: async (signal: AbortSignal) => {
          await clients
            .get(spec.name)!
            .chat(probeRequest, { signal, requestId: `probe-${spec.name}`, timeouts: spec.timeouts });
        },
      })),
    {
      clock,
      board,
      logger,
      store,
      instance,
      countsAgainstTarget: countsAgainst,
      describe: (error) =>
        scrub(
          error instanceof UpstreamError
            ? logText(error)
            : error instanceof Error
              ? error.message
              : String(error),
        ),
    },
  );
  board.onDegraded = (model) => healthChecker.nudge(model);

  /** Hedging: on for every request by config, or per request with `x-switchyard-hedge: true|false`. */
  function wantsHedge(requestOptions: RequestOptions): boolean {
    const asked = headerValue(requestOptions.headers, 'x-switchyard-hedge');
    if (asked === 'true' || asked === '1') return true;
    if (asked === 'false' || asked === '0') return false;
    return config.resilience.hedging.enabled;
  }

  function meterFor(features: RequestFeatures, trace: RequestTrace): WorkMeter {
    return {
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
  function open<T>(
    chain: readonly string[],
    operation: Operation<T>,
    scope: RequestScope,
    trace: RequestTrace,
    requestId: string,
    meter: WorkMeter,
    hedged: boolean,
  ): Promise<Opened<T>> {
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

  /** Plan a chat request and admit it against its key's limits, or throw the error its client gets. */
  async function planChat(
    request: ChatRequest,
    requestOptions: RequestOptions,
    facts: Omit<RequestFacts, 'latencyMs'>,
  ): Promise<{
    features: RequestFeatures;
    decision: RouteDecision;
    rateLimitHeaders?: Record<string, string>;
  }> {
    refuseDeepNesting(request);
    const planned = planner.plan(request, requestOptions.headers, requestOptions.access?.models);
    if (planned.decision.model === undefined) throw noRouteError(planned.decision);
    facts.features = planned.features;
    facts.decision = planned.decision;
    const chain = [planned.decision.model, ...planned.decision.fallbacks];
    const rateLimitHeaders = await keyAdmissions.admit(
      requestOptions.access,
      keyAdmissions.estimate(planned.features, chain),
      facts,
    );
    return { features: planned.features, decision: planned.decision, rateLimitHeaders };
  }

  /** What every request starts with: its id, its clock start, its trace and the facts its summary is built from. */
  function begin(request: ChatRequest, requestOptions: RequestOptions) {
    const requestId = requestOptions.requestId ?? newRequestId();
    const trace = new RequestTrace();
    const facts = baseFacts(requestId, Date.now(), request, requestOptions, trace, tracer);
    return { requestId, startedClock: clock.now(), trace, facts };
  }

  function newScope(requestOptions: RequestOptions): RequestScope {
    return new RequestScope(
      clock,
      requestOptions.signal ?? neverAborted,
      settings.requestDeadlineMs,
      settings.maxAttemptsTotal,
    );
  }

  function finish(
    facts: Omit<RequestFacts, 'latencyMs'>,
    startedClock: number,
    request: { messages?: unknown },
    response?: () => string,
  ): void {
    const summary = accountant.summarize({ ...facts, latencyMs: clock.now() - startedClock });
    if (config.observability.request_log.log_content) {
      summary.content = { request: request.messages, response: response?.() ?? '' };
    }
    facts.onFinish?.(summary);
    events.requestFinished(summary);
    const reason = facts.trace?.finishReason;
    facts.span.end(summary, reason ? [reason] : []);
  }

  function metaOf(
    requestId: string,
    decision: RouteDecision,
    features: RequestFeatures,
    trace: RequestTrace,
    rateLimitHeaders?: Record<string, string>,
  ): ResponseMeta {
    const meta: ResponseMeta = {
      requestId,
      model: trace.model ?? decision.model,
      task: features.task,
      priority: decision.priority,
      fallbacks: trace.fallbacks,
      decision,
    };
    if (rateLimitHeaders) meta.rateLimitHeaders = rateLimitHeaders;
    return meta;
  }

  const gateway: Gateway = {
    config,
    events,
    logger,
    health: board,
    store,

    async chat(request, requestOptions = {}) {
      const { requestId, startedClock, trace, facts } = begin(request, requestOptions);
      try {
        const { features, decision, rateLimitHeaders } = await planChat(request, requestOptions, facts);
        const scope = newScope(requestOptions);
        const hedged = wantsHedge(requestOptions);
        if (hedged) hedges.credit();
        const upstreamRequest: ChatRequest = { ...request, stream: false };
        const operation = pool.tracked(
          trace,
          requestId,
          async (client, callOptions) => {
            const { completion, meta } = await client.chat(upstreamRequest, callOptions);
            board.observeUpstreamBudget(client.spec.name, meta.budget);
            return completion;
          },
          facts.span,
        );
        let opened: Opened<Awaited<ReturnType<typeof operation>>>;
        try {
          opened = await open(
            [decision.model, ...decision.fallbacks],
            operation,
            scope,
            trace,
            requestId,
            meterFor(features, trace),
            hedged,
          );
        } catch (error) {
          scope.cancelRemaining(); // a hedge or retry still in flight has no one to answer
          throw chainFailure(error, scope.clientGone);
        } finally {
          scope.close();
        }
        const completion = opened.value;
        const segment = trace.segment(opened.target, features.promptTokens);
        segment.usage = completion.usage;
        segment.text = completion.choices[0]?.message.content ?? '';
        trace.finishReason = completion.choices[0]?.finish_reason ?? undefined;
        trace.model = opened.target;
        trace.ttftMs = clock.now() - startedClock;
        opened.lifetime.end();
        finish(facts, startedClock, request, () => segment.text);
        // No usage from the upstream: the client gets the gateway's own count (as the log does).
        completion.usage ??= accountantUsage(accountant.segmentUsage(segment));
        return { completion, meta: metaOf(requestId, decision, features, trace, rateLimitHeaders) };
      } catch (error) {
        facts.error = asGatewayError(error);
        finish(facts, startedClock, request);
        throw facts.error;
      }
    },

    async chatStream(request, requestOptions = {}) {
      const { requestId, startedClock, trace, facts } = begin(request, requestOptions);
      let planned: Awaited<ReturnType<typeof planChat>>;
      try {
        planned = await planChat(request, requestOptions, facts);
      } catch (error) {
        facts.error = asGatewayError(error);
        finish(facts, startedClock, request);
        throw facts.error;
      }
      const { features, decision } = planned;
      const scope = newScope(requestOptions);
      const hedged = wantsHedge(requestOptions);
      if (hedged) hedges.credit();
      const meter = meterFor(features, trace);
      const inner = failoverStream({
        request: { ...request, stream: true },
        requestId,
        trace,
        scope,
        clock,
        logger,
        chain: [decision.model, ...decision.fallbacks],
        spec: (name) => specs.get(name),
        promptTokens: features.promptTokens,
        countTokens: count,
        open: (chain, attemptRequest) => {
          const openStream = openUntilFirstToken(clock, board, attemptRequest);
          const operation = pool.tracked(
            trace,
            requestId,
            (client, callOptions) => openStream(client, callOptions),
            facts.span,
          );
          return open(chain, operation, scope, trace, requestId, meter, hedged);
        },
      });
      // Pull the first chunk now, so failures before any output become a plain error
      // response (with the right status) instead of a broken stream.
      let first: IteratorResult<ChatCompletionChunk>;
      try {
        first = await inner.next();
      } catch (error) {
        scope.close();
        facts.error = asGatewayError(error);
        finish(facts, startedClock, request, () => trace.text);
        throw facts.error;
      }
      const meta = metaOf(requestId, decision, features, trace, planned.rateLimitHeaders);
      async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
        let ended = first.done === true;
        try {
          if (!first.done) yield first.value;
          for (;;) {
            const next = await inner.next();
            if (next.done) {
              ended = true;
              break;
            }
            meta.model = trace.model ?? meta.model;
            meta.fallbacks = trace.fallbacks;
            yield next.value;
          }
        } catch (error) {
          facts.error = asGatewayError(error);
          throw facts.error;
        } finally {
          // Stopped before the end without a failure: the consumer (the client) went away.
          if (!facts.error && (!ended || scope.clientGone)) {
            facts.error = new GatewayError('client_closed_request', 'the client closed the request');
          }
          // A consumer that stops early (client gone) must cancel the upstream call.
          await inner.return(undefined).catch(() => {});
          scope.close();
          finish(facts, startedClock, request, () => trace.text);
        }
      }
      return { meta, chunks: chunks() };
    },

    route(request, requestOptions = {}) {
      refuseDeepNesting(request);
      return planner.plan(request, requestOptions.headers, requestOptions.access?.models).decision;
    },

    async embeddings(request, requestOptions = {}) {
      const { requestId, startedClock, trace, facts } = begin(request as unknown as ChatRequest, {
        ...requestOptions,
        api: 'embeddings',
      });
      try {
        const chain = embeddingsChain(request.model, config.models, planner.names).filter(
          (name) => !requestOptions.access?.models || requestOptions.access.models.has(name),
        );
        if (chain.length === 0) throw modelNotAllowed(request.model);
        await keyAdmissions.admit(requestOptions.access, { tokens: 0, costUsd: 0 }, facts);
        refuseDeepNesting(request.input, 'input');
        const scope = newScope(requestOptions);
        const operation = pool.tracked(
          trace,
          requestId,
          async (client, callOptions) => {
            if (!client.embeddings) {
              throw new GatewayError('invalid_request', `${client.spec.name} does not serve embeddings`, {
                param: 'model',
              });
            }
            return (await client.embeddings(request, callOptions)).response;
          },
          facts.span,
        );
        let opened: Opened<Awaited<ReturnType<typeof operation>>>;
        try {
          opened = await runChain(
            pool.targets(chain),
            operation,
            scope,
            pool.chainOptions(trace, requestId, { estimate: 0, actual: () => undefined }),
          );
        } catch (error) {
          scope.cancelRemaining();
          throw chainFailure(error, scope.clientGone);
        } finally {
          scope.close();
        }
        opened.lifetime.end();
        trace.model = opened.target;
        const usage = opened.value.usage;
        const segment = trace.segment(opened.target, usage?.prompt_tokens ?? 0);
        segment.usage = usage
          ? { prompt_tokens: usage.prompt_tokens, completion_tokens: 0, total_tokens: usage.total_tokens }
          : undefined;
        finish(facts, startedClock, {});
        return { response: opened.value, model: opened.target, requestId, fallbacks: trace.fallbacks };
      } catch (error) {
        facts.error = asGatewayError(error);
        finish(facts, startedClock, {});
        throw facts.error;
      }
    },

    async batch(requests, batchOptions = {}) {
      const concurrency = Math.max(1, batchOptions.concurrency ?? 10);
      const results: BatchResult[] = new Array(requests.length);
      let next = 0;
      const worker = async () => {
        for (;;) {
          const index = next++;
          if (index >= requests.length) return;
          try {
            results[index] = {
              ok: true,
              result: await gateway.chat(requests[index]!, { signal: batchOptions.signal }),
            };
          } catch (error) {
            results[index] = { ok: false, error: asGatewayError(error) };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
      return results;
    },

    ready: () => started,

    stateStatus: () => ({
      shared: failover !== undefined || store.kind === 'redis',
      degraded: failover?.degraded ?? false,
      degradedSinceMs: failover?.degradedSinceMs,
    }),

    modelNames: () => [...planner.names],

    modelStatus(): ModelStatus[] {
      const statuses: ModelStatus[] = [];
      for (const model of board.all()) {
        const view = board.get(model.spec.name)!;
        statuses.push({
          model: model.spec.name,
          provider: model.spec.provider,
          breaker: view.breaker,
          healthy: view.healthy,
          healthScore: view.breaker === 'open' ? 0 : model.successRate,
          inFlight: model.inFlight,
          latencyMs: model.latencyMs,
        });
      }
      return statuses;
    },

    startHealthChecks() {
      healthChecker.start();
    },

    simulation(name) {
      const client = clients.get(name);
      return client && isSimulatedClient(client) ? client.control : undefined;
    },

    async close() {
      healthChecker.close();
      board.close();
      await Promise.all([...clients.values()].map((client) => client.close?.()));
      await http.close();
      if (!options.store) await store.close();
    },
  };

  return gateway;
}

function isNormalized(config: RawConfig | GatewayConfig): config is GatewayConfig {
  return Array.isArray((config as GatewayConfig).models);
}

export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError('internal_error', 'internal error', { cause: error });
}
