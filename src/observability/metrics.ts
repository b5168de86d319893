/**
 * Prometheus metrics for `GET /metrics`, on a registry of our own (never prom-client's global
 * one, so two gateways in one process never share or clash).
 *
 * Labels only ever take bounded values: configured model names, provider names, HTTP status
 * codes and failure kinds. A model name a client made up is reported as `unknown`; request ids
 * and keys are never labels. Label children are created once per model and cached, so the hot
 * path is a map lookup and an increment.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptRecord, GatewayEvents, ModelStatusSource, RequestSummary } from './events.ts';

/** What metrics are read from: the gateway's events and its models' state. */
export interface MetricsSource extends ModelStatusSource {
  readonly events: { subscribe(sink: Partial<GatewayEvents>): () => void };
  /** Whether the gateway serves on local state because the shared store is down. */
  stateStatus?(): {
    shared: boolean;
    degraded: boolean;
    degradedSinceMs: number | undefined;
    admissions?: { lease: number; store: number };
  };
}

export interface MetricsOptionsSources {
  /** Every instance's spend per model (state shared through the store). */
  fleetSpend?: () => Promise<ReadonlyMap<string, number>>;
}

/** Seconds; LLM calls span from a cached 50 ms answer to a minute-long generation. */
export const latencyBuckets = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60];

const breakerValue: Record<string, number> = { closed: 0, half_open: 1, open: 2 };

const autoNames = new Set(['auto', 'auto:cost', 'auto:speed', 'auto:quality', 'auto:balanced']);

/** The cached label children of one model. */
interface ModelChildren {
  provider: string;
  requests: Map<number, Tally>;
  attempts: Map<string, Tally>;
  retries: Tally;
  fallbacks: Tally;
  tokensIn: Tally;
  tokensOut: Tally;
  cost: Tally;
  duration: Histogram.Internal<string>;
  ttft: Histogram.Internal<string>;
}

/**
 * A counter series whose increments add up here and reach prom-client when the metrics are read
 * (every counter's `collect`): prom-client hashes the label set on each `inc`, which for the five
 * counters a request touches was ~1.8 KB allocated per request.
 */
class Tally {
  private pending = 0;
  constructor(
    private readonly child: Counter.Internal,
    tallies: Tally[],
  ) {
    tallies.push(this);
  }
  inc(value = 1): void {
    this.pending += value;
  }
  /** The series exists from the first scrape, at zero. */
  zero(): void {
    this.child.inc(0);
  }
  flush(): void {
    if (this.pending === 0) return;
    this.child.inc(this.pending);
    this.pending = 0;
  }
}

export interface GatewayMetrics {
  readonly registry: Registry;
  /** The event sink (already subscribed to the gateway's events). */
  readonly sink: Partial<GatewayEvents>;
  /** The Prometheus text exposition and its content type. */
  render(): Promise<{ text: string; contentType: string }>;
  /**
   * Re-read the configured models from the source (after a config reload): new ones get their
   * series at zero; removed ones leave the gauges, their counters stay.
   */
  refreshModels(): void;
  /** Unsubscribe from the gateway's events. */
  close(): void;
}

export interface MetricsOptions extends MetricsOptionsSources {
  /** Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

export function createMetrics(source: MetricsSource, options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const tallies: Tally[] = [];
  const collect = (): void => {
    for (const tally of tallies) tally.flush();
  };

  const requests = new Counter({
    name: 'switchyard_requests_total',
    help: 'Chat requests finished, by the model that answered (else the primary candidate), provider and HTTP status.',
    labelNames: ['model', 'provider', 'status'],
    registers,
    collect,
  });
  const attempts = new Counter({
    name: 'switchyard_attempts_total',
    help: 'Upstream attempts, by model, provider and outcome (success or the failure kind).',
    labelNames: ['model', 'provider', 'outcome'],
    registers,
    collect,
  });
  const retries = new Counter({
    name: 'switchyard_retries_total',
    help: 'Extra attempts on the same model after a failure.',
    labelNames: ['model'],
    registers,
    collect,
  });
  const fallbacks = new Counter({
    name: 'switchyard_fallbacks_total',
    help: 'Requests for which this model failed and the gateway moved on to another candidate (or gave up).',
    labelNames: ['model'],
    registers,
    collect,
  });
  const tokens = new Counter({
    name: 'switchyard_tokens_total',
    help: 'Tokens processed, by model, provider and direction (input = prompt, output = completion).',
    labelNames: ['model', 'provider', 'direction'],
    registers,
    collect,
  });
  const cost = new Counter({
    name: 'switchyard_cost_usd_total',
    help: 'Spend in US dollars, from the configured per-1k-token prices.',
    labelNames: ['model', 'provider'],
    registers,
    collect,
  });
  const cacheLookups = new Counter({
    name: 'switchyard_cache_total',
    help: 'Response cache look-ups, by result: hit (answered at no cost) or miss (answered upstream, then stored).',
    labelNames: ['result'],
    registers,
    collect,
  });
  const cacheHits = new Tally(cacheLookups.labels({ result: 'hit' }), tallies);
  const cacheMisses = new Tally(cacheLookups.labels({ result: 'miss' }), tallies);
  const duration = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Whole-request latency as the client sees it, retries and fallbacks included.',
    labelNames: ['model'],
    buckets: latencyBuckets,
    registers,
  });
  const ttft = new Histogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time to the first token (streams) or first byte (non-streaming) of the answering model.',
    labelNames: ['model'],
    buckets: latencyBuckets,
    registers,
  });

  /** The models configured now (`refreshModels` re-reads them). */
  let models: Array<{ name: string; provider: string }> = [];
  const inFlight = new Map<string, number>();
  new Gauge({
    name: 'switchyard_breaker_state',
    help: 'Circuit breaker per model: 0 closed, 1 half_open, 2 open.',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset(); // a model removed by a reload leaves the gauge
      for (const status of source.modelStatus())
        this.set({ model: status.model }, breakerValue[status.breaker] ?? 0);
    },
  });
  new Gauge({
    name: 'switchyard_model_health_score',
    help: 'Passive health per model, 0..1: the EWMA success rate, 0 while the breaker is open.',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const status of source.modelStatus()) {
        this.set({ model: status.model }, Number.isFinite(status.healthScore) ? status.healthScore : 0);
      }
    },
  });
  new Gauge({
    name: 'switchyard_in_flight_requests',
    help: 'Upstream attempts in progress per model.',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const model of models) this.set({ model: model.name }, inFlight.get(model.name) ?? 0);
      // A removed model still draining its last requests stays visible until they end.
      for (const [model, count] of inFlight) if (count > 0) this.set({ model }, count);
    },
  });

  const { stateStatus } = source;
  if (stateStatus) {
    new Gauge({
      name: 'switchyard_state_degraded',
      help: '1 while shared state (Redis) is unreachable and this instance serves on local state; limits are per instance then.',
      registers,
      collect() {
        this.set(stateStatus.call(source).degraded ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchyard_state_degraded_seconds',
      help: 'How long this instance has been serving on local state (0 when shared state is reachable).',
      registers,
      collect() {
        const since = stateStatus.call(source).degradedSinceMs;
        this.set(since === undefined ? 0 : Math.max(0, (Date.now() - since) / 1000));
      },
    });
    if (stateStatus.call(source).admissions) {
      // The leases count since they started; a gateway swapped by a reload starts again from 0.
      const reported = { lease: 0, store: 0 };
      new Counter({
        name: 'switchyard_shared_admissions_total',
        help: 'Admissions against shared limits, budgets and slots: served here from units taken ahead (lease) or by a script in Redis (store).',
        labelNames: ['served'],
        registers,
        collect() {
          const counts = stateStatus.call(source).admissions;
          if (!counts) return;
          for (const served of ['lease', 'store'] as const) {
            const delta = counts[served] - reported[served];
            if (delta > 0) this.inc({ served }, delta);
            reported[served] = counts[served];
          }
        },
      });
    }
  }
  const { fleetSpend } = options;
  if (fleetSpend) {
    new Gauge({
      name: 'switchyard_fleet_cost_usd',
      help: 'Spend in US dollars of every instance sharing this state store, by model.',
      labelNames: ['model'],
      registers,
      async collect() {
        for (const [model, cost] of await fleetSpend()) this.set({ model }, cost);
      },
    });
  }

  const children = new Map<string, ModelChildren>();
  const childrenOf = (model: string): ModelChildren => {
    let entry = children.get(model);
    if (entry) return entry;
    const provider = providerOf(model);
    entry = {
      provider,
      requests: new Map(),
      attempts: new Map(),
      retries: new Tally(retries.labels({ model }), tallies),
      fallbacks: new Tally(fallbacks.labels({ model }), tallies),
      tokensIn: new Tally(tokens.labels({ model, provider, direction: 'input' }), tallies),
      tokensOut: new Tally(tokens.labels({ model, provider, direction: 'output' }), tallies),
      cost: new Tally(cost.labels({ model, provider }), tallies),
      duration: duration.labels({ model }),
      ttft: ttft.labels({ model }),
    };
    children.set(model, entry);
    return entry;
  };
  /** Every model configured since start: a removed one keeps its label for its last requests. */
  const specs = new Map<string, { name: string; provider: string }>();
  function providerOf(model: string): string {
    return specs.get(model)?.provider ?? (autoNames.has(model) ? 'switchyard' : 'none');
  }
  /** A bounded label value for a model name: configured, an `auto` alias, else `unknown`. */
  function modelLabel(name: string | undefined): string {
    if (name === undefined) return 'unknown';
    return specs.has(name) || autoNames.has(name) ? name : 'unknown';
  }
  // Every configured model is present from the first scrape (or the reload that added it), with zeros.
  function refreshModels(): void {
    models = source.modelStatus().map((status) => ({ name: status.model, provider: status.provider }));
    for (const spec of models) {
      if (specs.has(spec.name)) continue;
      specs.set(spec.name, spec);
      const entry = childrenOf(spec.name);
      for (const child of [entry.retries, entry.fallbacks, entry.tokensIn, entry.tokensOut, entry.cost])
        child.zero();
      requestsChild(entry, spec.name, 200).zero();
      attemptsChild(entry, spec.name, 'success').zero();
      duration.zero({ model: spec.name });
      ttft.zero({ model: spec.name });
      if (!inFlight.has(spec.name)) inFlight.set(spec.name, 0);
    }
  }
  refreshModels();

  function requestsChild(entry: ModelChildren, model: string, status: number): Tally {
    let child = entry.requests.get(status);
    if (!child) {
      child = new Tally(
        requests.labels({ model, provider: entry.provider, status: String(status) }),
        tallies,
      );
      entry.requests.set(status, child);
    }
    return child;
  }

  function attemptsChild(entry: ModelChildren, model: string, outcome: string): Tally {
    let child = entry.attempts.get(outcome);
    if (!child) {
      child = new Tally(attempts.labels({ model, provider: entry.provider, outcome }), tallies);
      entry.attempts.set(outcome, child);
    }
    return child;
  }

  const sink: Partial<GatewayEvents> = {
    attempt(_requestId: string, record: AttemptRecord): void {
      const model = modelLabel(record.model);
      attemptsChild(childrenOf(model), model, record.outcome).inc();
    },

    requestFinished(summary: RequestSummary): void {
      if (summary.cache === 'hit') cacheHits.inc();
      else if (summary.cache === 'miss') cacheMisses.inc();
      const model = modelLabel(summary.model ?? summary.attempts[0]?.model ?? summary.requestedModel);
      const entry = childrenOf(model);
      requestsChild(entry, model, summary.status).inc();
      entry.duration.observe(Math.max(0, summary.latencyMs) / 1000);
      if (summary.model !== undefined && summary.ttftMs !== undefined) {
        entry.ttft.observe(Math.max(0, summary.ttftMs) / 1000);
      }
      // Tokens and spend per model that delivered part of the answer (billed even if it failed later).
      for (const usage of summary.usage) {
        const usageModel = modelLabel(usage.model);
        const children = usageModel === model ? entry : childrenOf(usageModel);
        if (usage.promptTokens > 0) children.tokensIn.inc(usage.promptTokens);
        if (usage.completionTokens > 0) children.tokensOut.inc(usage.completionTokens);
        if (usage.costUsd > 0) children.cost.inc(usage.costUsd);
      }
      if (summary.attempts.length > 1 || (summary.attempts.length === 1 && summary.model === undefined)) {
        countRetriesAndFallbacks(summary);
      }
    },

    inFlight(model: string, delta: number): void {
      inFlight.set(model, Math.max(0, (inFlight.get(model) ?? 0) + delta));
    },
  };

  /** Retries: extra (non-hedge) attempts on one model. Fallbacks: failed models that did not answer. */
  function countRetriesAndFallbacks(summary: RequestSummary): void {
    const seen: string[] = [];
    const failed: string[] = [];
    for (const attempt of summary.attempts) {
      const model = modelLabel(attempt.model);
      if (!attempt.hedge) {
        if (seen.includes(model)) childrenOf(model).retries.inc();
        else seen.push(model);
      }
      if (attempt.outcome !== 'success' && attempt.outcome !== 'cancelled' && !failed.includes(model))
        failed.push(model);
    }
    for (const model of failed) if (model !== summary.model) childrenOf(model).fallbacks.inc();
  }

  const unsubscribe = source.events.subscribe(sink);

  return {
    registry,
    sink,
    async render() {
      return { text: await registry.metrics(), contentType: registry.contentType };
    },
    refreshModels,
    close() {
      unsubscribe();
      registry.clear();
    },
  };
}
