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
import { type GatewayConfig, normalizeConfig } from '../config/load.ts';
import type { ModelSpec } from '../config/model-spec.ts';
import { type RawConfig, taskTypes } from '../config/schema.ts';
import { logText, UpstreamError } from '../errors.ts';
import { type RandomSource, seededRandom } from '../lib/random.ts';
import { createScrubber } from '../lib/secrets.ts';
import { EventBus, noTracer } from '../observability/events.ts';
import { createLogger } from '../observability/logger.ts';
import { createHttpClient } from '../providers/http.ts';
import { createModelClient } from '../providers/registry.ts';
import { isSimulatedClient } from '../providers/simulated/index.ts';
import type { ModelClient, ProviderDeps } from '../providers/types.ts';
import { systemClock } from '../resilience/clock.ts';
import { HealthBoard } from '../resilience/health-board.ts';
import { HealthChecker } from '../resilience/health-checker.ts';
import { HedgeBudget } from '../resilience/hedge.ts';
import { Limiter } from '../resilience/limiter.ts';
import { countTokens, estimateTokens } from '../routing/tokenizer.ts';
import { AdmissionLeases } from '../state/admission-leases.ts';
import { FailoverStore } from '../state/failover-store.ts';
import type { ChatRequest } from '../types/openai.ts';
import { Accountant } from './accounting.ts';
import { ResponseCache } from './cache.ts';
import { FeedbackLearner } from './feedback.ts';
import { KeyAdmissions } from './key-admission.ts';
import { Planner, refuseDeepNesting } from './plan.ts';
import { countsAgainst, ModelPool } from './pool.ts';
import { asGatewayError, runChat, runEmbeddings } from './run-chat.ts';
import { runStream } from './run-stream.ts';
import { RequestRunner } from './runner.ts';
import type { BatchResult, Gateway, GatewayOptions, ModelStatus } from './types.ts';
import { resilienceSettings, secretsOf, storeFor } from './wiring.ts';

export type * from './types.ts';

/** Output tokens assumed for a rate-limit reservation when the client sets no limit. */
const _expectedOutputTokens = 256;

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
  const events =
    options.events ?? new EventBus((error) => logger.error({ err: error }, 'an event sink failed'));
  const instance = options.instanceId ?? randomUUID().slice(0, 8);
  const tracer = options.tracer ?? noTracer;
  const { store, failover: ownFailover } = storeFor(config, options.store, clock, instance, logger);
  // A fail-over store handed in (config reload: the next gateway shares its predecessor's) is
  // followed here (degraded status, re-sync on recovery) but started and closed by its owner.
  const failover = ownFailover ?? (options.store instanceof FailoverStore ? options.store : undefined);
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

  // With Redis, most admissions are served from units leased ahead (none near a limit).
  const leases =
    failover && config.state.redis?.admission_leases !== false
      ? new AdmissionLeases(store, {
          now: () => clock.now(),
          bypass: () => failover.degraded,
          onError: onStoreError,
        })
      : undefined;
  const limiter = new Limiter(leases ?? store, clock, instance);
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
    await ownFailover?.start();
    await board.start();
  })().catch(onStoreError);
  // Back on shared state after an outage: adopt what the fleet decided meanwhile.
  const stopFollowingStore = failover?.onStateChange((change) => {
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
  const learner = new FeedbackLearner(store, {
    models: config.models.map((spec) => spec.name),
    tasks: taskTypes,
    shared: config.state.redis !== undefined || store.kind === 'redis',
    windowMs: config.routing.feedback_window * 1000,
    capacity: 20_000,
    // The evidence is read back only for exploration draws.
    refreshMs: config.routing.exploration > 0 ? 10_000 : 0,
    clock,
    onStoreError,
  });
  // Remembering each answer costs a map entry (and a store write in a fleet): only where a score
  // can change routing. Without it, feedback still reaches the request log's rows.
  const stopRemembering =
    config.learned || config.routing.exploration > 0
      ? events.subscribe({ requestFinished: (summary) => learner.remember(summary) })
      : () => {};
  const planner = new Planner(
    config,
    board,
    random,
    config.routing.exploration > 0
      ? { share: config.routing.exploration, evidenceOf: learner.evidenceOf }
      : undefined,
  );
  const hedges = new HedgeBudget(settings.hedging.budget);
  // Tokens an upstream did not report (a stream cut short, an upstream that sends no usage) are
  // counted as prompts are: estimated under `token_count: auto`, so a client that disconnects
  // mid-stream does not load the o200k tables (~60 MB) into a gateway that never needed them;
  // exact under `token_count: exact`. Either way the usage is flagged as estimated.
  const { exact_count_chars: exactChars, token_count: tokenCount } = config.routing.analysis;
  const count =
    tokenCount === 'exact'
      ? (text: string) => countTokens(text, { exactChars }).tokens
      : (text: string) => estimateTokens(text, { exactChars });
  const accountant = new Accountant(specs, count);
  const keyAdmissions = new KeyAdmissions(limiter, specs, onStoreError);
  const cache = config.cache.enabled
    ? new ResponseCache(
        {
          ttlMs: config.cache.ttl * 1000,
          maxBytes: config.cache.max_bytes,
          maxEntries: config.cache.max_entries,
          maxEntryBytes: config.cache.max_entry_bytes,
          sharedAcrossKeys: config.cache.shared_across_keys,
          shared: config.state.redis !== undefined,
        },
        store,
      )
    : undefined;

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

  const runner = new RequestRunner({
    config,
    clock,
    logger,
    events,
    tracer,
    specs,
    pool,
    planner,
    board,
    settings,
    hedges,
    accountant,
    keyAdmissions,
    cache,
    countTokens: count,
    onStoreError,
  });

  const gateway: Gateway = {
    config,
    events,
    logger,
    health: board,
    store,

    chat: (request, requestOptions = {}) => runChat(runner, request, requestOptions),

    chatStream: (request, requestOptions = {}) => runStream(runner, request, requestOptions),

    route(request, requestOptions = {}) {
      refuseDeepNesting(request);
      return planner.plan(request, requestOptions.headers, requestOptions.access?.models).decision;
    },

    embeddings: (request, requestOptions = {}) => runEmbeddings(runner, request, requestOptions),

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
      admissions: leases && { lease: leases.stats.local, store: leases.stats.remote },
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
          inRotation: board.isInRotation(model.spec.name),
        });
      }
      return statuses;
    },

    async setInRotation(model, inRotation) {
      if (!specs.has(model)) return false;
      await board.setInRotation(model, inRotation);
      return true;
    },

    resetBreaker(model) {
      if (!specs.has(model)) return false;
      board.resetBreaker(model);
      return true;
    },

    feedback: (requestId, score, feedbackOptions = {}) =>
      learner.record(requestId, score, feedbackOptions.clientKeyId, feedbackOptions.known),

    startHealthChecks() {
      healthChecker.start();
    },

    simulation(name) {
      const client = clients.get(name);
      return client && isSimulatedClient(client) ? client.control : undefined;
    },

    async close() {
      stopFollowingStore?.();
      stopRemembering();
      learner.close();
      healthChecker.close();
      board.close();
      await Promise.all([...clients.values()].map((client) => client.close?.()));
      await http.close();
      // Unused leased units go back before the store closes.
      await leases?.close();
      if (!options.store) await store.close();
    },
  };

  return gateway;
}

function isNormalized(config: RawConfig | GatewayConfig): config is GatewayConfig {
  return Array.isArray((config as GatewayConfig).models);
}

export { asGatewayError };
