/**
 * What this instance knows about every model's health, split by who must agree on it:
 * - shared by the fleet (through the store): the breaker's phase and 429 cool-downs;
 * - local to this instance: passive health from its own traffic (EWMA latency and success
 *   rate, recent latencies for the hedge delay), bad-key marks, in-flight attempts, and the
 *   upstream's own rate-limit headers.
 * Routing reads `get()`, a synchronous snapshot: the store is never on the routing path.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import type { HealthSnapshot, ModelHealth } from '../routing/types.ts';
import { modelCapKeys, type SharedBreakerState, stateChannels, stateKeys } from '../state/keys.ts';
import type { Store } from '../state/store.ts';
import { type BreakerTransition, CircuitBreaker } from './breaker.ts';
import type { Clock } from './clock.ts';
import { LatencyWindow } from './latency-window.ts';
import type { Limiter } from './limiter.ts';

const ewmaAlpha = 0.2;

/** The upstream's own view of our remaining budget, from its rate-limit headers. */
export interface UpstreamBudget {
  remainingRequests?: number;
  remainingTokens?: number;
}

export interface ModelState {
  readonly spec: ModelSpec;
  readonly breaker: CircuitBreaker;
  /** EWMA of time to first byte/token, ms. */
  latencyMs: number | undefined;
  /** Recent latencies, for the quantile the hedge delay uses. */
  readonly recentLatency: LatencyWindow;
  /** EWMA of success (1) / failure (0). */
  successRate: number;
  /** Marked unhealthy until this time (bad key). */
  unhealthyUntil: number;
  unhealthyReason: string | undefined;
  inFlight: number;
  upstream: UpstreamBudget;
  /** Until then the upstream's budget above is worth believing. */
  upstreamSeenUntil: number;
  /** After a 429, fleet-wide: the model counts as saturated until then. */
  coolDownUntil: number;
}

export interface HealthBoardOptions {
  clock: Clock;
  store: Store;
  limiter: Limiter;
  instance: string;
  onTransition: (model: string, transition: BreakerTransition) => void;
  onStoreError: (error: unknown) => void;
}

export class HealthBoard implements HealthSnapshot {
  private readonly models = new Map<string, ModelState>();
  private readonly unsubscribe: Array<() => void> = [];
  /** Models an operator took out of rotation, as this instance last heard from the fleet. */
  private outOfRotation = new Set<string>();
  private readonly clock: Clock;
  /** Called when a model turns degraded (so an active probe can look at once). */
  onDegraded: (model: string) => void = () => {};

  constructor(
    specs: readonly ModelSpec[],
    private readonly options: HealthBoardOptions,
  ) {
    this.clock = options.clock;
    for (const spec of specs) {
      this.models.set(spec.name, {
        spec,
        breaker: new CircuitBreaker(spec.name, spec.breaker, {
          clock: options.clock,
          store: options.store,
          instance: options.instance,
          onTransition: options.onTransition,
          onStoreError: options.onStoreError,
        }),
        latencyMs: undefined,
        recentLatency: new LatencyWindow(),
        successRate: 1,
        unhealthyUntil: 0,
        unhealthyReason: undefined,
        inFlight: 0,
        upstream: {},
        upstreamSeenUntil: 0,
        coolDownUntil: 0,
      });
    }
  }

  /** Follow the fleet: other instances' breaker transitions and cool-downs, and the current state. */
  async start(): Promise<void> {
    const { store } = this.options;
    this.unsubscribe.push(
      store.subscribe(stateChannels.breaker, (message) => {
        const parsed = parseMessage<{ target: string; version: number; state: SharedBreakerState }>(message);
        if (parsed) this.models.get(parsed.target)?.breaker.apply(parsed.state, parsed.version);
      }),
      store.subscribe(stateChannels.rotation, () => {
        void this.readRotation();
      }),
      store.subscribe(stateChannels.coolDown, (message) => {
        const parsed = parseMessage<{ model: string; forMs: number }>(message);
        const model = parsed && this.models.get(parsed.model);
        if (model) model.coolDownUntil = Math.max(model.coolDownUntil, this.clock.now() + parsed.forMs);
      }),
    );
    await this.resync();
  }

  /** Read every breaker's shared state (at start, and when the store comes back). */
  async resync(): Promise<void> {
    await Promise.all([
      ...[...this.models.values()].map((model) => model.breaker.sync().catch(this.options.onStoreError)),
      this.readRotation(),
    ]);
  }

  /** Take a model out of rotation (true) or put it back, on every instance of the fleet. */
  async setInRotation(name: string, inRotation: boolean): Promise<void> {
    const { store } = this.options;
    if (inRotation) await store.removeFromSet(stateKeys.outOfRotation(), name);
    else await store.addToSet(stateKeys.outOfRotation(), name);
    if (inRotation) this.outOfRotation.delete(name);
    else this.outOfRotation.add(name);
    await store.publish(stateChannels.rotation, name);
  }

  /** Close a model's breaker now, for the fleet (an operator reset it). */
  resetBreaker(name: string): void {
    this.models.get(name)?.breaker.forceClose('reset by an operator');
  }

  isInRotation(name: string): boolean {
    return !this.outOfRotation.has(name);
  }

  private async readRotation(): Promise<void> {
    try {
      this.outOfRotation = new Set(await this.options.store.setMembers(stateKeys.outOfRotation()));
    } catch (error) {
      this.options.onStoreError(error);
    }
  }

  close(): void {
    for (const stop of this.unsubscribe.splice(0)) stop();
    for (const model of this.models.values()) model.breaker.close();
  }

  model(name: string): ModelState | undefined {
    return this.models.get(name);
  }

  all(): IterableIterator<ModelState> {
    return this.models.values();
  }

  /** The routing core's view of one model. */
  get(name: string): ModelHealth | undefined {
    const model = this.models.get(name);
    if (!model) return undefined;
    const now = this.clock.now();
    const health: ModelHealth = {
      breaker: model.breaker.phase,
      healthy: model.unhealthyUntil <= now && model.successRate >= 0.5,
      latencyMs: model.latencyMs,
      saturated: this.isSaturated(model, now),
    };
    const capped = this.cappedFor(model.spec);
    if (capped !== undefined) health.cappedForMs = capped;
    if (this.outOfRotation.size > 0 && this.outOfRotation.has(name)) health.outOfRotation = true;
    return health;
  }

  begin(name: string): void {
    const model = this.models.get(name);
    if (model) model.inFlight++;
  }

  end(name: string): void {
    const model = this.models.get(name);
    if (model && model.inFlight > 0) model.inFlight--;
  }

  /** Passive health from a successful attempt (its time to first byte/token). */
  recordSuccess(name: string, latencyMs: number): void {
    const model = this.models.get(name);
    if (!model) return;
    model.latencyMs =
      model.latencyMs === undefined ? latencyMs : model.latencyMs + ewmaAlpha * (latencyMs - model.latencyMs);
    model.recentLatency.record(latencyMs);
    model.successRate += ewmaAlpha * (1 - model.successRate);
  }

  /** Passive health from a failed attempt that counts against the model. */
  recordFailure(name: string, latencyMs?: number): void {
    const model = this.models.get(name);
    if (!model) return;
    const wasHealthy = model.successRate >= 0.5;
    model.successRate += ewmaAlpha * (0 - model.successRate);
    if (wasHealthy && model.successRate < 0.5) this.onDegraded(name);
    // A timeout is latency information too: the model is at least this slow now.
    if (latencyMs !== undefined && model.latencyMs !== undefined && latencyMs > model.latencyMs) {
      model.latencyMs += ewmaAlpha * (latencyMs - model.latencyMs);
    }
  }

  /** A bad key: keep the model out of rotation (its breaker open) for `forMs`. */
  markUnhealthy(name: string, reason: string, forMs: number): void {
    const model = this.models.get(name);
    if (!model) return;
    model.unhealthyUntil = this.clock.now() + forMs;
    model.unhealthyReason = reason;
    model.breaker.forceOpen(reason, forMs);
  }

  /** A probe saw the model answer: back in rotation now. */
  markHealthy(name: string, reason: string): void {
    const model = this.models.get(name);
    if (!model) return;
    model.unhealthyUntil = 0;
    model.unhealthyReason = undefined;
    model.successRate = Math.max(model.successRate, 0.8);
    model.breaker.forceClose(reason);
  }

  /** Remember the upstream's own view of our remaining budget (its rate-limit headers). */
  observeUpstreamBudget(name: string, budget: UpstreamBudget): void {
    const model = this.models.get(name);
    if (!model || (budget.remainingRequests === undefined && budget.remainingTokens === undefined)) return;
    model.upstream = budget;
    model.upstreamSeenUntil = this.clock.now() + 60_000;
  }

  /** A 429 said when to come back: the model counts as saturated until then, on every instance. */
  coolDown(name: string, forMs: number): void {
    const model = this.models.get(name);
    if (!model) return;
    model.coolDownUntil = Math.max(model.coolDownUntil, this.clock.now() + forMs);
    void this.options.store
      .publish(stateChannels.coolDown, JSON.stringify({ model: name, forMs }))
      .catch(this.options.onStoreError);
  }

  /** Ms until the model's rpm or tpm cap admits again, if this instance knows it is at the cap. */
  private cappedFor(spec: ModelSpec): number | undefined {
    const { limiter } = this.options;
    // Nearly always nothing is refused: no lookup per model per routing decision then.
    if (!limiter.refusingAny) return undefined;
    const keys = modelCapKeys(spec.name);
    if (spec.rpm !== undefined) {
      const left = limiter.refusedLocally(keys.requests);
      if (left !== undefined) return left;
    }
    if (spec.tpm !== undefined) return limiter.refusedLocally(keys.tokens);
    return undefined;
  }

  private isSaturated(model: ModelState, now: number): boolean {
    const { spec } = model;
    if (spec.maxConcurrency !== undefined && model.inFlight >= spec.maxConcurrency) return true;
    if (now < model.coolDownUntil) return true;
    if (now < model.upstreamSeenUntil) {
      if (model.upstream.remainingRequests !== undefined && model.upstream.remainingRequests <= 1)
        return true;
      if (model.upstream.remainingTokens !== undefined && model.upstream.remainingTokens <= 500) return true;
    }
    return false;
  }
}

function parseMessage<T>(message: string): T | undefined {
  try {
    return JSON.parse(message) as T;
  } catch {
    return undefined;
  }
}
