/**
 * A gateway whose config can be replaced while it serves (config reload, issue 16).
 *
 * Everything that holds a `Gateway` (the server, every route module, stats, metrics, the keys)
 * holds `live.gateway`, a facade that sends each call to the current generation. A request keeps
 * the generation it started on until its answer (or its stream) ends, so a swap is one
 * assignment: requests already running finish on the config they started with, new ones get the
 * new config. The previous generation closes once its last request ended, or after
 * `server.drain_timeout` at most.
 *
 * Every generation shares what must outlive a config: the store (breaker phases, cool-downs,
 * caps, rotation: models that stayed keep them, the new health board reads them at start), the
 * event bus (stats, metrics, request log and dashboard keep their subscriptions and counters),
 * the logger, the tracer and the instance id. This object owns the store and closes it last.
 *
 * @example
 * const live = await openLiveGateway({ config });
 * createGatewayServer(live.gateway, ...);
 * live.swap(await live.build(nextConfig));
 */
import { randomUUID } from 'node:crypto';
import type { GatewayConfig } from '../config/load.ts';
import { createGateway, type Gateway, type StreamHandle } from '../gateway/index.ts';
import { storeFor } from '../gateway/wiring.ts';
import { afterTurn } from '../lib/after-turn.ts';
import { EventBus, type RequestTracer } from '../observability/events.ts';
import { createLogger, type GatewayLogger } from '../observability/logger.ts';
import { type Clock, systemClock } from '../resilience/clock.ts';
import type { HealthBoard } from '../resilience/health-board.ts';
import type { Store } from '../state/store.ts';

export interface LiveGatewayOptions {
  config: GatewayConfig;
  seed?: number;
  logger?: GatewayLogger;
  tracer?: RequestTracer;
  clock?: Clock;
}

/** One gateway built from one config, and the requests running on it. */
interface Generation {
  gateway: Gateway;
  inFlight: number;
  /** Set once it was replaced: it closes when `inFlight` reaches 0. */
  retired: boolean;
  closing?: Promise<void>;
  drainTimer?: NodeJS.Timeout;
}

export interface LiveGateway {
  /** The facade to hand to the server and every route module. */
  readonly gateway: Gateway;
  readonly store: Store;
  /** A gateway for `config` sharing this one's store, bus, logger, tracer and instance id; ready, not yet serving. */
  build(config: GatewayConfig): Promise<Gateway>;
  /** Serve `next` from now on; the previous generation drains, then closes. */
  swap(next: Gateway): void;
  /** Requests still running on replaced generations (they are draining). */
  draining(): number;
  /** Close every generation now (the server has already drained) and then the store. */
  close(): Promise<void>;
}

export async function openLiveGateway(options: LiveGatewayOptions): Promise<LiveGateway> {
  const { config, seed, tracer } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.observability.log_level);
  const instanceId = randomUUID().slice(0, 8);
  const events = new EventBus((error) => logger.error({ err: error }, 'an event sink failed'));
  const { store, failover } = storeFor(config, undefined, clock, instanceId, logger);
  // Redis first (or degraded), then the first gateway reads the fleet's breaker states.
  await failover?.start();
  const shared = { seed, logger, tracer, clock, store, instanceId, events };
  let first: Gateway;
  try {
    first = createGateway({ config, ...shared });
  } catch (error) {
    await store.close();
    throw error;
  }
  await first.ready();

  let current: Generation = { gateway: first, inFlight: 0, retired: false };
  const retired = new Set<Generation>();
  let healthChecksStarted = false;
  let closed = false;

  function enter(): Generation {
    current.inFlight++;
    return current;
  }
  function leave(generation: Generation): void {
    generation.inFlight--;
    if (generation.retired && generation.inFlight === 0) void closeGeneration(generation);
  }
  function closeGeneration(generation: Generation): Promise<void> {
    clearTimeout(generation.drainTimer);
    generation.closing ??= generation.gateway
      .close()
      .catch((error: unknown) => logger.error({ err: error }, 'closing a replaced gateway failed'))
      .finally(() => retired.delete(generation));
    return generation.closing;
  }
  /**
   * How a request leaves its generation. A deferred summary is emitted on the turn after the
   * answer at the latest (its fallback is an earlier immediate, and immediates run in order): the
   * generation, whose feedback learner still reads it, stays open until then.
   */
  function releaser(generation: Generation, deferSummary: boolean | undefined): () => void {
    return deferSummary ? () => leaveAfterTurn(generation) : () => leave(generation);
  }
  function leaveAfterTurn(generation: Generation): void {
    afterTurn(() => leave(generation));
  }
  /** Counts `run`'s promise against the generation it started on. */
  function tracked<T>(run: (gateway: Gateway) => Promise<T>, deferSummary?: boolean): Promise<T> {
    const generation = enter();
    let result: Promise<T>;
    try {
      result = run(generation.gateway);
    } catch (error) {
      leave(generation);
      throw error;
    }
    return result.finally(releaser(generation, deferSummary));
  }

  const gateway: Gateway = {
    get config() {
      return current.gateway.config;
    },
    events,
    logger,
    get health(): HealthBoard {
      return current.gateway.health;
    },
    store,
    chat: (request, requestOptions) =>
      tracked((target) => target.chat(request, requestOptions), requestOptions?.deferSummary),
    chatStream(request, requestOptions) {
      // A stream counts until its last chunk was read (or its reader stopped), not until it opened.
      const generation = enter();
      let opened: Promise<StreamHandle>;
      try {
        opened = generation.gateway.chatStream(request, requestOptions);
      } catch (error) {
        leave(generation);
        throw error;
      }
      return opened.then(
        (handle) => {
          if (!requestOptions?.deferSummary) {
            handle.chunks = releasingAtEnd(handle.chunks, () => leave(generation));
            return handle;
          }
          // The caller calls finish() after its last write (the server does, always): the stream
          // leaves its generation then, with no wrapper (a promise per chunk) around its chunks.
          // A caller that never calls it is bounded by the old generation's drain timeout.
          const finish = handle.finish;
          let released = false;
          handle.finish = () => {
            finish?.();
            if (released) return;
            released = true;
            leaveAfterTurn(generation);
          };
          return handle;
        },
        (error: unknown) => {
          leave(generation);
          throw error;
        },
      );
    },
    route: (request, requestOptions) => current.gateway.route(request, requestOptions),
    feedback: (requestId, score, options) => current.gateway.feedback(requestId, score, options),
    embeddings: (request, requestOptions) => tracked((target) => target.embeddings(request, requestOptions)),
    batch: (requests, batchOptions) => tracked((target) => target.batch(requests, batchOptions)),
    ready: () => current.gateway.ready(),
    stateStatus: () => current.gateway.stateStatus(),
    modelNames: () => current.gateway.modelNames(),
    modelStatus: () => current.gateway.modelStatus(),
    startHealthChecks() {
      healthChecksStarted = true;
      current.gateway.startHealthChecks();
    },
    setInRotation: (model, inRotation) => current.gateway.setInRotation(model, inRotation),
    resetBreaker: (model) => current.gateway.resetBreaker(model),
    simulation: (name) => current.gateway.simulation(name),
    close: () => live.close(),
  };

  const live: LiveGateway = {
    gateway,
    store,

    async build(next) {
      const built = createGateway({ config: next, ...shared });
      try {
        await built.ready();
      } catch (error) {
        await built.close();
        throw error;
      }
      return built;
    },

    swap(next) {
      if (closed) throw new Error('the gateway is closed');
      const previous = current;
      carryLocalHealth(previous.gateway.health, next.health);
      current = { gateway: next, inFlight: 0, retired: false };
      if (healthChecksStarted) next.startHealthChecks();
      previous.retired = true;
      retired.add(previous);
      if (previous.inFlight === 0) {
        void closeGeneration(previous);
        return;
      }
      // Requests that never end (a stream nobody reads) must not keep the old gateway forever.
      previous.drainTimer = setTimeout(
        () => void closeGeneration(previous),
        previous.gateway.config.server.drain_timeout * 1000,
      );
      previous.drainTimer.unref();
    },

    draining() {
      let count = 0;
      for (const generation of retired) count += generation.inFlight;
      return count;
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...retired].map(closeGeneration));
      await current.gateway.close();
      await store.close();
    },
  };
  return live;
}

/**
 * What this instance learned about each model that stayed, beyond what the store keeps: its
 * passive health (latency and success EWMAs), bad-key marks, 429 cool-downs and the upstream's
 * own rate-limit view. The new board starts from them instead of from nothing.
 */
function carryLocalHealth(from: HealthBoard, to: HealthBoard): void {
  for (const model of to.all()) {
    const before = from.model(model.spec.name);
    if (!before) continue;
    model.latencyMs = before.latencyMs;
    model.successRate = before.successRate;
    model.unhealthyUntil = before.unhealthyUntil;
    model.unhealthyReason = before.unhealthyReason;
    model.coolDownUntil = Math.max(model.coolDownUntil, before.coolDownUntil);
    model.upstream = { ...before.upstream };
    model.upstreamSeenUntil = before.upstreamSeenUntil;
  }
}

/** `source`, calling `release` once when its reader is done with it: at its end, on an error, or when it stops early. */
function releasingAtEnd<T>(source: AsyncIterable<T>, release: () => void): AsyncIterable<T> {
  let released = false;
  const done = () => {
    if (released) return;
    released = true;
    release();
  };
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const inner = source[Symbol.asyncIterator]();
      return {
        next: () =>
          inner.next().then(
            (result) => {
              if (result.done) done();
              return result;
            },
            (error: unknown) => {
              done();
              throw error;
            },
          ),
        async return(value?: unknown) {
          try {
            return inner.return ? await inner.return(value) : { done: true, value: value as T };
          } finally {
            done();
          }
        },
        async throw(error?: unknown) {
          try {
            if (inner.throw) return await inner.throw(error);
            throw error;
          } finally {
            done();
          }
        },
      };
    },
  };
}
