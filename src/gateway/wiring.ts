/**
 * The gateway's wiring details, kept out of the composition root: the shared store, resilience
 * settings in milliseconds, every configured secret (for scrubbing), and request ids.
 */
import { randomUUID } from 'node:crypto';
import type { GatewayConfig } from '../config/load.ts';
import { FailoverStore } from '../state/failover-store.ts';
import { RedisStore } from '../state/redis-store.ts';
import { MemoryStore, type Store } from '../state/store.ts';
import type { ResilienceSettings } from './pool.ts';

/** The store the gateway shares state through: the caller's, Redis (behind local fail-over) with `state.redis`, else memory. */
export function storeFor(
  config: GatewayConfig,
  given: Store | undefined,
  clock: { now(): number },
  instance: string,
  logger: { warn(object: object, message?: string): void },
): { store: Store; failover?: FailoverStore } {
  if (given) return { store: given };
  const redis = config.state.redis;
  if (!redis) return { store: new MemoryStore(() => clock.now()) };
  const failover = new FailoverStore(
    new RedisStore({
      url: redis.url,
      prefix: redis.prefix,
      commandTimeoutMs: redis.command_timeout * 1000,
      connectionName: `switchyard:${instance}`,
    }),
    new MemoryStore(),
    { logger },
  );
  return { store: failover, failover };
}

export function resilienceSettings(config: GatewayConfig): ResilienceSettings {
  const { resilience } = config;
  return {
    maxAttemptsPerModel: resilience.max_attempts_per_model,
    maxAttemptsTotal: resilience.max_attempts_total,
    backoffBaseMs: resilience.backoff_base * 1000,
    backoffMaxMs: resilience.backoff_max * 1000,
    maxRetryAfterMs: resilience.max_retry_after * 1000,
    requestDeadlineMs: resilience.request_deadline * 1000,
    retrySilent: resilience.retry_silent,
    fallbackOnContentPolicy: resilience.fallback_on_content_policy,
    unhealthyForMs: 60_000,
    hedging: {
      delayMs: resilience.hedging.delay === undefined ? undefined : resilience.hedging.delay * 1000,
      budget: resilience.hedging.budget,
      quantile: resilience.hedging.quantile,
    },
  };
}

/** Every secret the config holds: provider keys, upstream header values, client and admin keys, the key secret, trace export headers. */
export function secretsOf(config: GatewayConfig): string[] {
  const secrets: string[] = [...config.server.api_keys];
  if (config.server.admin_key) secrets.push(config.server.admin_key);
  if (config.server.key_secret) secrets.push(config.server.key_secret);
  for (const spec of config.models) {
    if (spec.apiKey) secrets.push(spec.apiKey);
    secrets.push(...Object.values(spec.headers));
  }
  // The trace exporter's headers (collector API keys), from the config or OTEL_EXPORTER_OTLP_HEADERS;
  // `Bearer <token>`-style values count with and without their scheme.
  for (const value of Object.values(config.observability.otel?.headers ?? {})) {
    secrets.push(value);
    const token = value.slice(value.lastIndexOf(' ') + 1);
    if (token !== value) secrets.push(token);
  }
  return secrets;
}

// Request ids: a random per-process prefix and a counter (unique, and cheaper than a UUID each).
const requestIdPrefix = `req_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
let requestCounter = 0;
export function newRequestId(): string {
  return `${requestIdPrefix}${(++requestCounter).toString(36).padStart(8, '0')}`;
}
