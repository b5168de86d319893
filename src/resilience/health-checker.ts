/**
 * Active health probes: every `health_check.interval`, a one-token request to each model that
 * has probes enabled. A failed probe counts as a failure (and can open the breaker); a
 * successful probe of a model that is OPEN or marked unhealthy brings it back at once, so a
 * recovered model returns to rotation without waiting for live traffic to find out.
 *
 * While a model is degraded it is probed every `unhealthyIntervalMs` (default 5 s) instead of
 * the normal interval, and the moment live traffic finds it degraded it is probed at once
 * (`nudge`): a real outage then opens its breaker in seconds and a recovery is seen in seconds,
 * at the price of a few one-token requests to a model that is down anyway.
 */
import type { ModelClient } from '../providers/types.ts';
import type { ChatRequest } from '../types/openai.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './executor.ts';
import type { ModelHealthRegistry } from './model-health.ts';

const probeRequest: ChatRequest = {
  model: 'probe',
  messages: [{ role: 'user', content: 'ping' }],
  max_tokens: 1,
  temperature: 0,
};

export interface ProbeResult {
  model: string;
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export class HealthChecker {
  private readonly stop = new AbortController();
  private readonly wakers = new Map<string, AbortController>();
  private readonly lastProbeAt = new Map<string, number>();
  private readonly lastFailed = new Set<string>();
  unhealthyIntervalMs = 5000;

  constructor(
    private readonly clients: ReadonlyMap<string, ModelClient>,
    private readonly health: ModelHealthRegistry,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly onProbe: (result: ProbeResult) => void = () => {},
  ) {}

  /** Start one probe loop per model that has probes enabled. */
  start(): void {
    for (const client of this.clients.values()) {
      if (client.spec.healthCheck.enabled) void this.loop(client);
    }
  }

  async probe(client: ModelClient): Promise<ProbeResult> {
    const { spec } = client;
    const started = this.clock.now();
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      await client.chat(probeRequest, {
        signal: controller.signal,
        requestId: `probe-${spec.name}`,
        timeouts: spec.timeouts,
      });
      const latencyMs = this.clock.now() - started;
      const view = this.health.get(spec.name);
      if (view && (view.breaker !== 'closed' || !view.healthy)) {
        this.health.markHealthy(spec.name, 'health probe succeeded');
        this.logger.info({ model: spec.name, latencyMs }, 'model recovered (health probe succeeded)');
      }
      return { model: spec.name, ok: true, latencyMs };
    } catch (error) {
      const latencyMs = this.clock.now() - started;
      if (this.stop.signal.aborted) return { model: spec.name, ok: false, latencyMs, error: 'stopped' };
      const message = error instanceof Error ? error.message : String(error);
      this.health.recordFailure(spec.name, latencyMs);
      this.logger.warn({ model: spec.name, latencyMs, error: message }, 'health probe failed');
      return { model: spec.name, ok: false, latencyMs, error: message };
    } finally {
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  close(): void {
    this.stop.abort();
  }

  /** Probe this model now (at most once a second), e.g. because live traffic saw it fail. */
  nudge(model: string): void {
    this.wakers.get(model)?.abort();
  }

  private async loop(client: ModelClient): Promise<void> {
    const name = client.spec.name;
    while (!this.stop.signal.aborted) {
      const view = this.health.get(name);
      // After a failed probe, or while live traffic sees the model degraded, look again soon.
      const degraded =
        this.lastFailed.has(name) || (view !== undefined && (view.breaker !== 'closed' || !view.healthy));
      const interval = degraded
        ? Math.min(this.unhealthyIntervalMs, client.spec.healthCheck.intervalMs)
        : client.spec.healthCheck.intervalMs;
      const waker = new AbortController();
      this.wakers.set(name, waker);
      const onStop = () => waker.abort();
      this.stop.signal.addEventListener('abort', onStop, { once: true });
      await this.clock.sleep(interval, waker.signal).catch(() => {});
      this.stop.signal.removeEventListener('abort', onStop);
      if (this.stop.signal.aborted) return;
      const last = this.lastProbeAt.get(name) ?? Number.NEGATIVE_INFINITY;
      if (this.clock.now() - last < 1000) continue;
      this.lastProbeAt.set(name, this.clock.now());
      const result = await this.probe(client);
      if (result.ok) this.lastFailed.delete(name);
      else this.lastFailed.add(name);
      this.onProbe(result);
    }
  }
}
