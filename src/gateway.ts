/**
 * The gateway as a library: config in, `chat`/`chatStream`/`route`/`embeddings`/`batch` out.
 * The HTTP server is a thin layer over this object; so are the CLI and the simulator.
 *
 * Everything expensive (config validation, regex compilation, tokenizer tables, HTTP pools)
 * happens here, once. The request path only analyses, decides and executes.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { type GatewayConfig, normalizeConfig } from './config/load.ts';
import type { ModelSpec } from './config/model-spec.ts';
import type { Priority, RawConfig } from './config/schema.ts';
import { GatewayError, invalidRequest } from './errors.ts';
import { EventBus, type RequestSummary } from './observability/events.ts';
import { createLogger, type GatewayLogger } from './observability/logger.ts';
import { createHttpClient, type HttpClient } from './providers/http.ts';
import { providers } from './providers/registry.ts';
import { isSimulatedClient, type SimulatedControl } from './providers/simulated/index.ts';
import type { ModelClient, ProviderDeps } from './providers/types.ts';
import { type Clock, systemClock } from './resilience/clock.ts';
import { type ExecutionContext, ExecutionTrace, Executor } from './resilience/executor.ts';
import { HealthChecker } from './resilience/health-checker.ts';
import { ModelHealthRegistry } from './resilience/model-health.ts';
import { type Analyze, createAnalyzer, ruleText } from './routing/analyze.ts';
import { decideRoute } from './routing/decide.ts';
import { type RandomSource, seededRandom } from './lib/random.ts';
import { type CompiledRules, compileRules, matchRule } from './routing/rules.ts';
import { countTokens } from './routing/tokenizer.ts';
import type { NoRoute, RequestFeatures, RouteDecision, RoutingPolicy } from './routing/types.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './types/openai.ts';

export interface GatewayOptions {
  /** A config object (the YAML's shape) or an already-normalised config. */
  config: RawConfig | GatewayConfig;
  clock?: Clock;
  /** Seed for load balancing and backoff jitter (default: config routing.seed, else random). */
  seed?: number;
  logger?: GatewayLogger;
  env?: NodeJS.ProcessEnv;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Request headers (for rules and `x-switchyard-priority`). */
  headers?: Record<string, string | string[] | undefined>;
  requestId?: string;
  /** An id for the client key (never the key itself), for the request log. */
  clientKeyId?: string;
}

/** What the gateway decided and did for one request. */
export interface ResponseMeta {
  requestId: string;
  /** The model that answered. */
  model: string;
  task: string;
  priority: Priority;
  /** Models that failed before the one that answered. */
  fallbacks: number;
  decision: RouteDecision;
}

export interface ChatResult {
  completion: ChatCompletion;
  meta: ResponseMeta;
}

export interface StreamHandle {
  /** Filled in when the first chunk is ready (before that, `model` is the primary). */
  meta: ResponseMeta;
  chunks: AsyncIterable<ChatCompletionChunk>;
}

export type BatchResult = { ok: true; result: ChatResult } | { ok: false; error: GatewayError };

export interface Gateway {
  readonly config: GatewayConfig;
  readonly events: EventBus;
  readonly logger: GatewayLogger;
  readonly health: ModelHealthRegistry;
  chat(request: ChatRequest, options?: RequestOptions): Promise<ChatResult>;
  chatStream(request: ChatRequest, options?: RequestOptions): Promise<StreamHandle>;
  /** The routing decision for a request, without calling any model. */
  route(request: ChatRequest, options?: RequestOptions): RouteDecision | NoRoute;
  embeddings(
    request: EmbeddingsRequest,
    options?: RequestOptions,
  ): Promise<{ response: EmbeddingsResponse; model: string }>;
  /** Many requests with bounded concurrency; one failure never fails the batch. */
  batch(
    requests: ChatRequest[],
    options?: { concurrency?: number; signal?: AbortSignal },
  ): Promise<BatchResult[]>;
  /** Model names clients may use, including the `auto` aliases. */
  modelNames(): string[];
  /** Start active health probes (the server does this; library users may). */
  startHealthChecks(): void;
  /** Runtime control of a simulated model, if `name` is one. */
  simulation(name: string): SimulatedControl | undefined;
  close(): Promise<void>;
}

const autoAliases = ['auto', 'auto:cost', 'auto:speed', 'auto:quality', 'auto:balanced'] as const;
const priorityValues = new Set<Priority>(['cost', 'speed', 'quality', 'balanced']);

export function createGateway(options: GatewayOptions): Gateway {
  const config = isNormalized(options.config) ? options.config : normalizeConfig(options.config, options.env);
  const clock = options.clock ?? systemClock;
  const random: RandomSource = seededRandom(
    options.seed ?? config.routing.seed ?? Math.floor(Math.random() * 2 ** 31),
  );
  const logger = options.logger ?? createLogger(config.observability.log_level);
  const events = new EventBus((error) => logger.error({ err: error }, 'an event sink failed'));
  const http: HttpClient = createHttpClient();
  const specs = new Map<string, ModelSpec>(config.models.map((spec) => [spec.name, spec]));
  const specList = [...specs.values()];
  const health = new ModelHealthRegistry(specList, clock, (model, transition) => {
    const level = transition.to === 'open' ? 'warn' : 'info';
    logger[level](
      { model, from: transition.from, to: transition.to, reason: transition.reason },
      `circuit breaker ${transition.to}`,
    );
    events.breakerTransition(model, transition);
  });
  let idCounter = 0;
  const deps: ProviderDeps = {
    http,
    clock,
    nowSeconds: () => Math.floor(Date.now() / 1000),
    warn: (message) => logger.warn({}, message),
    newId: (prefix) => `${prefix}-${(++idCounter).toString(36)}${randomUUID().slice(0, 8)}`,
  };
  const clients = new Map<string, ModelClient>();
  for (const spec of specList) {
    const provider = providers[spec.provider as keyof typeof providers];
    clients.set(spec.name, provider.create(spec, deps));
  }
  const analyze: Analyze = createAnalyzer(config.routing.analysis);
  const rules: CompiledRules = compileRules(config.routing.rules);
  const executor = new Executor({
    clients,
    health,
    clock,
    random,
    events,
    logger,
    policy: {
      maxAttemptsPerModel: config.resilience.max_attempts_per_model,
      maxAttemptsTotal: config.resilience.max_attempts_total,
      backoffBaseMs: config.resilience.backoff_base * 1000,
      backoffMaxMs: config.resilience.backoff_max * 1000,
      maxRetryAfterMs: config.resilience.max_retry_after * 1000,
      requestDeadlineMs: config.resilience.request_deadline * 1000,
      retrySilent: config.resilience.retry_silent,
      fallbackOnContentPolicy: config.resilience.fallback_on_content_policy,
      unhealthyForMs: 60_000,
      hedging: {
        delayMs:
          config.resilience.hedging.delay === undefined ? undefined : config.resilience.hedging.delay * 1000,
        budget: config.resilience.hedging.budget,
        quantile: config.resilience.hedging.quantile,
      },
    },
  });
  const healthChecker = new HealthChecker(clients, health, clock, logger);
  health.onDegraded = (model) => healthChecker.nudge(model);
  const basePolicy = {
    balancedWeights: config.routing.balanced_weights,
    fallbackCount: config.routing.fallback_count,
    nearTop: config.routing.near_top,
    unhealthyFactor: config.routing.unhealthy_factor,
  };
  const names = [...autoAliases, ...specs.keys()];

  /** Resolve the requested model and priority, analyse, and decide. */
  function plan(
    request: ChatRequest,
    requestOptions: RequestOptions,
  ): { features: RequestFeatures; decision: RouteDecision | NoRoute } {
    const requested = request.model;
    let priority: Priority = config.routing.default_priority;
    const headerPriority = headerValue(requestOptions.headers, 'x-switchyard-priority');
    let explicitModel: string | undefined;
    if (requested === 'auto') {
      // default priority, maybe overridden by the header below
    } else if (requested.startsWith('auto:')) {
      const asked = requested.slice(5) as Priority;
      if (!priorityValues.has(asked)) throw unknownModel(requested, names);
      priority = asked;
    } else if (specs.has(requested)) {
      explicitModel = requested;
    } else {
      throw unknownModel(requested, names);
    }
    if (headerPriority !== undefined) {
      if (!priorityValues.has(headerPriority as Priority)) {
        throw invalidRequest(
          `x-switchyard-priority must be one of cost, speed, quality, balanced`,
          'x-switchyard-priority',
        );
      }
      if (!requested.startsWith('auto:')) priority = headerPriority as Priority;
    }
    // Without rules, do not build the rule text at all (it is a copy of the prompt).
    const rule =
      explicitModel || rules.rules.length === 0
        ? undefined
        : matchRule(rules, {
            text: ruleText(request),
            metadata: request.metadata,
            headers: requestOptions.headers ?? {},
          });
    if (rule?.priority && !requested.startsWith('auto:') && headerPriority === undefined)
      priority = rule.priority;
    const features = analyze(request, rule);
    const policy: RoutingPolicy = { ...basePolicy, priority, explicitModel, rule };
    return { features, decision: decideRoute(features, specList, health, policy, random) };
  }

  /** Hedging: on for every request by config, or per request with `x-switchyard-hedge: true|false`. */
  function wantsHedge(requestOptions: RequestOptions): boolean {
    const asked = headerValue(requestOptions.headers, 'x-switchyard-hedge');
    if (asked === 'true' || asked === '1') return true;
    if (asked === 'false' || asked === '0') return false;
    return config.resilience.hedging.enabled;
  }

  function executionContext(
    requestId: string,
    decision: RouteDecision,
    features: RequestFeatures,
    requestOptions: RequestOptions,
  ): ExecutionContext {
    return {
      requestId,
      chain: [decision.model, ...decision.fallbacks],
      signal: requestOptions.signal ?? neverAborted,
      promptTokens: features.promptTokens,
      hedge: wantsHedge(requestOptions),
    };
  }

  function noRouteError(noRoute: NoRoute): GatewayError {
    return noRoute.requestProblem
      ? new GatewayError('no_eligible_model', noRoute.reason, { param: 'messages' })
      : new GatewayError('no_model_available', noRoute.reason);
  }

  function costOf(model: string | undefined, promptTokens: number, completionTokens: number): number {
    const spec = model ? specs.get(model) : undefined;
    if (!spec) return 0;
    return (promptTokens / 1000) * spec.inputCostPer1k + (completionTokens / 1000) * spec.outputCostPer1k;
  }

  function finish(
    requestOptions: RequestOptions,
    started: { wall: number; clock: number },
    request: ChatRequest,
    requestId: string,
    features: RequestFeatures | undefined,
    decision: RouteDecision | undefined,
    trace: ExecutionTrace | undefined,
    error: GatewayError | undefined,
  ): RequestSummary {
    const usage = trace?.usage;
    const usageEstimated = !usage && !!trace?.model;
    const promptTokens = usage?.prompt_tokens ?? (trace?.model ? (features?.promptTokens ?? 0) : 0);
    const completionTokens =
      usage?.completion_tokens ??
      (trace?.model && trace.text
        ? countTokens(trace.text, { exactChars: config.routing.analysis.exact_count_chars }).tokens
        : 0);
    const model = error ? undefined : trace?.model;
    const summary: RequestSummary = {
      requestId,
      startedAt: started.wall,
      clientKeyId: requestOptions.clientKeyId,
      stream: request.stream === true,
      requestedModel: request.model,
      task: features?.task,
      priority: decision?.priority,
      model: model ?? undefined,
      attempts: trace?.attempts ?? [],
      fallbacks: trace?.fallbacks ?? 0,
      retries: trace?.retries ?? 0,
      latencyMs: clock.now() - started.clock,
      ttftMs: trace?.ttftMs,
      promptTokens: model ? promptTokens : 0,
      completionTokens: model ? completionTokens : 0,
      costUsd: model ? costOf(model, promptTokens, completionTokens) : 0,
      usageEstimated,
      status: error ? error.status : 200,
      errorCode: error?.code,
      errorMessage: error?.message,
      reason: decision?.reason,
    };
    if (config.observability.request_log.log_content) {
      summary.content = { request: request.messages, response: trace?.text ?? '' };
    }
    events.requestFinished(summary);
    return summary;
  }

  function metaOf(
    requestId: string,
    decision: RouteDecision,
    features: RequestFeatures,
    trace: ExecutionTrace,
  ): ResponseMeta {
    return {
      requestId,
      model: trace.model ?? decision.model,
      task: features.task,
      priority: decision.priority,
      fallbacks: trace.fallbacks,
      decision,
    };
  }

  const gateway: Gateway = {
    config,
    events,
    logger,
    health,

    async chat(request, requestOptions = {}) {
      const requestId = requestOptions.requestId ?? newRequestId();
      const started = { wall: Date.now(), clock: clock.now() };
      let features: RequestFeatures | undefined;
      let decision: RouteDecision | undefined;
      const trace = new ExecutionTrace();
      try {
        const planned = plan(request, requestOptions);
        features = planned.features;
        if (planned.decision.model === undefined) throw noRouteError(planned.decision);
        decision = planned.decision;
        const { completion } = await executor.chat(
          { ...request, stream: false },
          executionContext(requestId, decision, features, requestOptions),
          trace,
        );
        const summary = finish(
          requestOptions,
          started,
          request,
          requestId,
          features,
          decision,
          trace,
          undefined,
        );
        // No usage from the upstream: the client gets the gateway's own count (as the log does).
        completion.usage ??= {
          prompt_tokens: summary.promptTokens,
          completion_tokens: summary.completionTokens,
          total_tokens: summary.promptTokens + summary.completionTokens,
        };
        return { completion, meta: metaOf(requestId, decision, features, trace) };
      } catch (error) {
        const gatewayError = asGatewayError(error);
        finish(requestOptions, started, request, requestId, features, decision, trace, gatewayError);
        throw gatewayError;
      }
    },

    async chatStream(request, requestOptions = {}) {
      const requestId = requestOptions.requestId ?? newRequestId();
      const started = { wall: Date.now(), clock: clock.now() };
      let planned: ReturnType<typeof plan>;
      try {
        planned = plan(request, requestOptions);
        if (planned.decision.model === undefined) throw noRouteError(planned.decision);
      } catch (error) {
        const gatewayError = asGatewayError(error);
        finish(requestOptions, started, request, requestId, undefined, undefined, undefined, gatewayError);
        throw gatewayError;
      }
      const { features } = planned;
      const decision = planned.decision as RouteDecision;
      const trace = new ExecutionTrace();
      const inner = executor.stream(
        { ...request, stream: true },
        executionContext(requestId, decision, features, requestOptions),
        trace,
      );
      // Pull the first chunk now, so failures before any output become a plain error
      // response (with the right status) instead of a broken stream.
      let first: IteratorResult<ChatCompletionChunk>;
      try {
        first = await inner.next();
      } catch (error) {
        const gatewayError = asGatewayError(error);
        finish(requestOptions, started, request, requestId, features, decision, trace, gatewayError);
        throw gatewayError;
      }
      const meta = metaOf(requestId, decision, features, trace);
      async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
        let failure: GatewayError | undefined;
        try {
          if (!first.done) yield first.value;
          for (;;) {
            const next = await inner.next();
            if (next.done) break;
            meta.model = trace.model ?? meta.model;
            yield next.value;
          }
        } catch (error) {
          failure = asGatewayError(error);
          throw failure;
        } finally {
          if (!failure && requestOptions.signal?.aborted) {
            failure = new GatewayError('client_closed_request', 'the client closed the request');
          }
          // A consumer that stops early (client gone) must cancel the upstream call.
          await inner.return(undefined).catch(() => {});
          finish(requestOptions, started, request, requestId, features, decision, trace, failure);
        }
      }
      return { meta, chunks: chunks() };
    },

    route(request, requestOptions = {}) {
      return plan(request, requestOptions).decision;
    },

    async embeddings(request, requestOptions = {}) {
      const model = request.model;
      const candidates =
        model === 'auto' || model.startsWith('auto:')
          ? specList.filter((spec) => spec.capabilities.has('embeddings'))
          : specs.has(model)
            ? [specs.get(model)!]
            : [];
      if (candidates.length === 0) {
        if (!specs.has(model) && !model.startsWith('auto')) throw unknownModel(model, names);
        throw new GatewayError('invalid_request', `no configured model serves embeddings for "${model}"`, {
          param: 'model',
        });
      }
      const failures: string[] = [];
      for (const spec of candidates) {
        const client = clients.get(spec.name);
        if (!client?.embeddings) {
          failures.push(`${spec.name}: provider ${spec.provider} does not serve embeddings`);
          continue;
        }
        try {
          const { response } = await client.embeddings(request, {
            signal: requestOptions.signal ?? neverAborted,
            requestId: requestOptions.requestId ?? newRequestId(),
            timeouts: spec.timeouts,
          });
          return { response, model: spec.name };
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
      throw new GatewayError('upstream_error', `embeddings failed: ${failures.join('; ')}`);
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

    modelNames: () => names,

    startHealthChecks() {
      healthChecker.start();
    },

    simulation(name) {
      const client = clients.get(name);
      return client && isSimulatedClient(client) ? client.control : undefined;
    },

    async close() {
      healthChecker.close();
      await Promise.all([...clients.values()].map((client) => client.close?.()));
      await http.close();
    },
  };
  return gateway;
}

const neverAborted = new AbortController().signal;
// Many concurrent requests listen on it (and remove their listener when done).
setMaxListeners(0, neverAborted);

// Request ids: a random per-process prefix and a counter (unique, and cheaper than a UUID each).
const requestIdPrefix = `req_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
let requestCounter = 0;
function newRequestId(): string {
  return `${requestIdPrefix}${(++requestCounter).toString(36).padStart(8, '0')}`;
}

function isNormalized(config: RawConfig | GatewayConfig): config is GatewayConfig {
  return Array.isArray((config as GatewayConfig).models);
}

function headerValue(headers: RequestOptions['headers'], name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

function unknownModel(requested: string, names: readonly string[]): GatewayError {
  return new GatewayError(
    'model_not_found',
    `The model "${requested}" does not exist. Valid models: ${names.join(', ')}`,
    {
      param: 'model',
    },
  );
}

export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError('internal_error', 'internal error', { cause: error });
}
