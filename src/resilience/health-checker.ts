/**
 * Active health probes: every interval, one small request to each target that has probes on.
 * A failed probe is judged as live traffic is (a refusal for the request's own sake, such as a
 * 400, says nothing about the target's health); a successful probe of a target that is OPEN or
 * marked unhealthy brings it back at once, so a recovered target returns without waiting for
 * live traffic to find out. In a fleet, one instance probes each target per interval (a lease).
 *
 * While a target is degraded it is probed every `unhealthyIntervalMs` (default 5 s) instead of
 * the normal interval, and the moment live traffic finds it degraded it is probed at once
 * (`nudge`), at most once a second.
 */
import { stateKeys } from '../state/keys.ts';
import type { Store } from '../state/store.ts';
import type { Clock } from './clock.ts';
import type { HealthBoard } from './health-board.ts';

export interface ProbeTarget {
  name: string;
  intervalMs: number;
  /** One small request; rejects with the failure. */
  probe(signal: AbortSignal): Promise<void>;
}

export interface ProbeResult {
  model: string;
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export interface ProbeLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}

export interface HealthCheckerOptions {
  clock: Clock;
  board: HealthBoard;
  logger: ProbeLogger;
  store: Store;
  instance: string;
  /** Whether a failure says something about the target's health. */
  countsAgainstTarget: (error: unknown) => boolean;
  /** Turn a failure into a log-safe line (secrets scrubbed). */
  describe: (error: unknown) => string;
  onProbe?: (result: ProbeResult) => void;
}

export class HealthChecker {
  private readonly stop = new AbortController();
  private readonly wakers = new Map<string, AbortController>();
  private readonly lastProbeAt = new Map<string, number>();
  private readonly lastFailed = new Set<string>();
  unhealthyIntervalMs = 5000;

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly options: HealthCheckerOptions,
  ) {}

  /** Start one probe loop per target. */
  start(): void {
    for (const target of this.targets) void this.loop(target);
  }

  async probe(target: ProbeTarget): Promise<ProbeResult> {
    const { clock, board, logger } = this.options;
    const started = clock.now();
    const controller = new AbortController();
    const onStop = () => controller.abort(this.stop.signal.reason);
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      await target.probe(controller.signal);
      const latencyMs = clock.now() - started;
      const view = board.get(target.name);
      if (view && (view.breaker !== 'closed' || !view.healthy)) {
        board.markHealthy(target.name, 'health probe succeeded');
        logger.info({ model: target.name, latencyMs }, 'model recovered (health probe succeeded)');
      }
      return { model: target.name, ok: true, latencyMs };
    } catch (error) {
      const latencyMs = clock.now() - started;
      if (this.stop.signal.aborted) return { model: target.name, ok: false, latencyMs, error: 'stopped' };
      const message = this.options.describe(error);
      if (!this.options.countsAgainstTarget(error)) {
        // The upstream answered and refused the probe's request itself: the model is up.
        logger.info({ model: target.name, latencyMs, error: message }, 'health probe refused (model is up)');
        return { model: target.name, ok: true, latencyMs, error: message };
      }
      board.recordFailure(target.name, latencyMs);
      board.model(target.name)?.breaker.failure();
      logger.warn({ model: target.name, latencyMs, error: message }, 'health probe failed');
      return { model: target.name, ok: false, latencyMs, error: message };
    } finally {
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  close(): void {
    this.stop.abort(new Error('health checks stopped'));
  }

  /** Probe this target now (at most once a second), e.g. because live traffic saw it fail. */
  nudge(target: string): void {
    this.wakers.get(target)?.abort();
  }

  private async loop(target: ProbeTarget): Promise<void> {
    const { clock, board, store, instance } = this.options;
    const name = target.name;
    while (!this.stop.signal.aborted) {
      const view = board.get(name);
      // After a failed probe, or while live traffic sees the target degraded, look again soon.
      const degraded =
        this.lastFailed.has(name) || (view !== undefined && (view.breaker !== 'closed' || !view.healthy));
      const interval = degraded ? Math.min(this.unhealthyIntervalMs, target.intervalMs) : target.intervalMs;
      const waker = new AbortController();
      this.wakers.set(name, waker);
      const onStop = () => waker.abort();
      this.stop.signal.addEventListener('abort', onStop, { once: true });
      await clock.sleep(interval, waker.signal).catch(() => {});
      this.stop.signal.removeEventListener('abort', onStop);
      if (this.stop.signal.aborted) return;
      const last = this.lastProbeAt.get(name) ?? Number.NEGATIVE_INFINITY;
      if (clock.now() - last < 1000) continue;
      // One instance of the fleet probes each target per interval.
      const mine = await store
        .acquireLease(stateKeys.probeLease(name), instance, Math.max(1000, interval - 100))
        .catch(() => true);
      if (!mine) continue;
      this.lastProbeAt.set(name, clock.now());
      const result = await this.probe(target);
      if (result.ok) this.lastFailed.delete(name);
      else this.lastFailed.add(name);
      this.options.onProbe?.(result);
    }
  }
}
