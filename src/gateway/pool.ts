/**
 * The model pool: every configured model with its client and its policy stack, built once —
 * bulkhead (slot across retries), retry (the failure plan's call), admission against its
 * fleet-wide rpm/tpm caps, circuit breaker, per-attempt timeout — and the per-request pieces
 * the chain needs: the tracked operation (attempt records, in-flight counts, passive health,
 * 429 cool-downs) and what to do after a model failed (stop, move on, skip smaller windows).
 */
import type { ModelSpec } from '../config/model-spec.ts';
import { abortReasons, countsAgainstModel, GatewayError, logText, UpstreamError } from '../errors.ts';
import type { CancelSignal } from '../lib/cancel.ts';
import type { RandomSource } from '../lib/random.ts';
import type { AttemptRecord, GatewayEvents, RequestSpan } from '../observability/events.ts';
import type { CallOptions, ModelClient } from '../providers/types.ts';
import { BreakerPolicy } from '../resilience/breaker-policy.ts';
import { Bulkhead, BulkheadPolicy } from '../resilience/bulkhead.ts';
import type { Clock } from '../resilience/clock.ts';
import { type FailurePolicy, planAfterFailure } from '../resilience/failure-plan.ts';
import type { ChainOptions, ChainTarget } from '../resilience/fallback.ts';
import type { HealthBoard } from '../resilience/health-board.ts';
import { type AdmissionPlan, AdmissionPolicy, type Limiter } from '../resilience/limiter.ts';
import {
  type AttemptContext,
  type Operation,
  type Policy,
  TargetSkipped,
  type WorkMeter,
  wrap,
} from '../resilience/policy.ts';
import { RetryPolicy } from '../resilience/retry.ts';
import { TimeoutPolicy } from '../resilience/timeout.ts';
import { type ModelCapKeys, modelCapKeys } from '../state/keys.ts';
import type { Adjustment, Bucket } from '../state/store.ts';
import type { RequestTrace } from './trace.ts';

export interface ResilienceSettings extends FailurePolicy {
  maxAttemptsTotal: number;
  requestDeadlineMs: number;
  /** How long a bad key keeps a model out of rotation. */
  unhealthyForMs: number;
  hedging: { delayMs: number | undefined; budget: number; quantile: number };
}

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export interface PoolDeps {
  clock: Clock;
  random: RandomSource;
  board: HealthBoard;
  limiter: Limiter;
  events: GatewayEvents;
  logger: Logger;
  settings: ResilienceSettings;
  onStoreError: (error: unknown) => void;
}

interface PoolEntry {
  spec: ModelSpec;
  client: ModelClient;
  target: ChainTarget;
}

const minuteMs = 60_000;

/** Whether a failure says something about the model's health. */
export function countsAgainst(error: unknown): boolean {
  return error instanceof UpstreamError && countsAgainstModel(error.kind);
}

export class ModelPool {
  private readonly entries = new Map<string, PoolEntry>();

  constructor(
    clients: ReadonlyMap<string, ModelClient>,
    private readonly deps: PoolDeps,
  ) {
    for (const [name, client] of clients) {
      this.entries.set(name, {
        spec: client.spec,
        client,
        target: { name, policy: this.stackFor(client.spec) },
      });
    }
  }

  spec(name: string): ModelSpec | undefined {
    return this.entries.get(name)?.spec;
  }

  client(name: string): ModelClient | undefined {
    return this.entries.get(name)?.client;
  }

  targets(names: readonly string[]): ChainTarget[] {
    const targets: ChainTarget[] = [];
    for (const name of names) {
      const entry = this.entries.get(name);
      if (entry) targets.push(entry.target);
    }
    return targets;
  }

  /**
   * One request's operation: `call` the model's client with its timeouts (shortened to the
   * request deadline), and keep the books on the attempt. A successful attempt's record is
   * reported when its lifetime ends, with the outcome it really had (a stream can break later).
   */
  tracked<T>(
    trace: RequestTrace,
    requestId: string,
    call: (client: ModelClient, options: CallOptions, context: AttemptContext) => Promise<T>,
    span: RequestSpan,
  ): Operation<T> {
    const { clock, board, events } = this.deps;
    return async (context) => {
      const entry = this.entries.get(context.target)!;
      const { spec } = entry;
      const name = spec.name;
      context.budget.take();
      if (context.attempt > 0) trace.retries++;
      const started = clock.now();
      const attemptSpan = span.startAttempt({
        model: name,
        provider: spec.provider,
        upstreamModel: spec.upstreamModel,
        attempt: context.attempt,
        hedge: context.hedge,
      });
      const callOptions = this.callOptions(spec, context, requestId);
      if (attemptSpan.traceparent) callOptions.traceparent = attemptSpan.traceparent;
      const startedAt = Date.now();
      board.begin(name);
      events.inFlight(name, 1);
      const leave = () => {
        board.end(name);
        events.inFlight(name, -1);
      };
      let value: T;
      try {
        value = await call(entry.client, callOptions, context);
      } catch (caught) {
        leave();
        const latencyMs = clock.now() - started;
        const error = asUpstream(caught, spec, context.signal);
        const record = attemptRecord(spec, error.kind, latencyMs, context.hedge, error);
        record.startedAt = startedAt;
        trace.attempts.push(record);
        events.attempt(requestId, record);
        attemptSpan.end(record);
        if (error.kind === 'rate_limited') board.coolDown(name, error.retryAfterMs ?? 1000);
        if (countsAgainstModel(error.kind)) board.recordFailure(name, latencyMs);
        throw error;
      }
      // A stream counts as a success at its first token: that is when this model proved it works
      // now (a long answer that started before an outage must not mask the outage).
      const latencyMs = clock.now() - started;
      board.recordSuccess(name, latencyMs);
      const record = attemptRecord(spec, 'success', latencyMs, context.hedge);
      record.startedAt = startedAt;
      trace.attempts.push(record);
      context.lifetime.defer((failure) => {
        leave();
        if (failure !== undefined) {
          const error = asUpstream(failure, spec, context.signal);
          record.outcome = error.kind;
          record.status = error.status;
          record.message = logText(error);
          record.latencyMs = clock.now() - started;
          if (countsAgainstModel(error.kind)) board.recordFailure(name, record.latencyMs);
        }
        events.attempt(requestId, record);
        attemptSpan.end(record);
      });
      return value;
    };
  }

  /** Whether `name` has fleet-wide caps (rpm or tpm), so that its attempts are admitted. */
  hasCaps(name: string): boolean {
    const spec = this.spec(name);
    return spec !== undefined && hasCaps(spec);
  }

  /** The caps an attempt on `name` takes (undefined for a model without rpm/tpm). */
  admission(name: string, meter: WorkMeter): AdmissionPlan | undefined {
    const spec = this.spec(name);
    return spec && hasCaps(spec) ? new ModelCapsAdmission(spec, meter) : undefined;
  }

  /** What the chain does after a model failed, for one request. */
  chainOptions(trace: RequestTrace, requestId: string, meter: WorkMeter, hedge = false): ChainOptions {
    const { board, logger, settings, random } = this.deps;
    let minWindow = 0;
    return {
      hedge,
      meter,
      afterFailure: (error, target) => {
        trace.failed(target);
        if (!(error instanceof UpstreamError)) return 'next';
        // Retries are over for this model: ask only whether to stop or move on.
        const plan = planAfterFailure(error, Number.POSITIVE_INFINITY, 0, settings, random, false);
        if (plan.action === 'stop') return 'stop';
        if (plan.action === 'next' && plan.markUnhealthy) {
          board.markUnhealthy(target, error.message, settings.unhealthyForMs);
          logger.error(
            { requestId, model: target, status: error.status, kind: error.kind },
            `${target} rejected the gateway's credentials or model id: check its api_key/model in the config; taken out of rotation`,
          );
        }
        if (plan.action === 'next' && plan.onlyLargerWindow) {
          minWindow = Math.max(minWindow, this.entries.get(target)?.spec.contextWindow ?? 0);
        }
        return 'next';
      },
      skip: (target) =>
        minWindow > 0 && (this.entries.get(target)?.spec.contextWindow ?? 0) <= minWindow
          ? 'context window not larger than the one that overflowed'
          : undefined,
    };
  }

  private callOptions(spec: ModelSpec, context: AttemptContext, requestId: string): CallOptions {
    const remaining = Math.max(1, Math.floor(context.deadline - this.deps.clock.now()));
    const { connectMs, firstTokenMs, idleMs, totalMs } = spec.timeouts;
    return {
      signal: context.signal,
      requestId,
      timeouts: {
        connectMs: Math.min(connectMs, remaining),
        firstTokenMs: Math.min(firstTokenMs, remaining),
        idleMs: Math.min(idleMs, remaining),
        totalMs: Math.min(totalMs, remaining),
      },
    };
  }

  /** bulkhead -> retry -> admission (rpm/tpm caps) -> breaker -> timeout -> the call. */
  private stackFor(spec: ModelSpec): Policy {
    const { clock, random, board, limiter, settings, onStoreError } = this.deps;
    const policies: Policy[] = [];
    if (spec.maxConcurrency !== undefined) {
      policies.push(new BulkheadPolicy(new Bulkhead(spec.maxConcurrency, spec.maxQueue)));
    }
    policies.push(
      new RetryPolicy(clock, (error, context) =>
        error instanceof UpstreamError
          ? planAfterFailure(
              error,
              context.attempt,
              context.deadline - clock.now(),
              settings,
              random,
              !context.isLast,
            )
          : { action: 'next' },
      ),
    );
    if (hasCaps(spec)) {
      policies.push(
        new AdmissionPolicy(limiter, (context) => new ModelCapsAdmission(spec, context.meter), onStoreError),
      );
    }
    const breaker = board.model(spec.name)?.breaker;
    if (breaker) policies.push(new BreakerPolicy(breaker, countsAgainst));
    policies.push(new TimeoutPolicy(clock, () => spec.timeouts.totalMs));
    return wrap(...policies);
  }
}

function hasCaps(spec: ModelSpec): boolean {
  return spec.rpm !== undefined || spec.tpm !== undefined;
}

/**
 * A model's fleet-wide caps: one request, and the request's estimated tokens, per minute. A class
 * (methods on the prototype, not closures per request): it lives as long as its request, so
 * what it allocates is copied by young-generation GCs (bench/README.md, round 8).
 */
class ModelCapsAdmission implements AdmissionPlan {
  readonly buckets: Bucket[] = [];
  private readonly keys: ModelCapKeys;
  private readonly tokens: number;

  constructor(
    private readonly spec: ModelSpec,
    private readonly meter: WorkMeter,
  ) {
    this.keys = modelCapKeys(spec.name);
    if (spec.rpm !== undefined) {
      this.buckets.push({
        kind: 'window',
        key: this.keys.requests,
        limit: spec.rpm,
        windowMs: minuteMs,
        amount: 1,
      });
    }
    // A request larger than the whole cap can pass only on an empty window.
    this.tokens = spec.tpm === undefined ? 0 : Math.max(1, Math.min(spec.tpm, Math.ceil(meter.estimate)));
    if (spec.tpm !== undefined) {
      this.buckets.push({
        kind: 'window',
        key: this.keys.tokens,
        limit: spec.tpm,
        windowMs: minuteMs,
        amount: this.tokens,
      });
    }
  }

  describe(bucket: Bucket): string {
    return bucket.key === this.keys.requests
      ? `at its rpm cap (${this.spec.rpm}/min)`
      : `at its tpm cap (${this.spec.tpm}/min)`;
  }

  settle(failure: unknown): Adjustment[] {
    if (this.spec.tpm === undefined) return [];
    const actual = this.meter.actual(this.spec.name);
    // A failed attempt with no usage is not billed by the upstream: give its tokens back.
    const delta = actual !== undefined ? actual - this.tokens : failure !== undefined ? -this.tokens : 0;
    return delta === 0 ? [] : [{ kind: 'window', key: this.keys.tokens, windowMs: minuteMs, delta }];
  }
}

/** Any failure as a classified UpstreamError naming the model. */
export function asUpstream(error: unknown, spec: ModelSpec, signal: CancelSignal): UpstreamError {
  const context = { model: spec.name, provider: spec.provider };
  if (signal.aborted && signal.reason === abortReasons.requestDeadline) {
    return new UpstreamError('timeout', `request deadline passed while waiting for ${spec.name}`, {
      ...context,
      cause: error,
    });
  }
  if (error instanceof UpstreamError) {
    error.model ??= spec.name;
    return error;
  }
  if (error instanceof TargetSkipped) return new UpstreamError('cancelled', error.message, context);
  if (error instanceof GatewayError && error.code === 'client_closed_request') {
    return new UpstreamError('cancelled', `request to ${spec.name} was cancelled`, context);
  }
  return new UpstreamError(
    'server',
    `${spec.name} failed: ${error instanceof Error ? error.message : String(error)}`,
    {
      ...context,
      cause: error,
    },
  );
}

function attemptRecord(
  spec: ModelSpec,
  outcome: AttemptRecord['outcome'],
  latencyMs: number,
  hedge: boolean,
  error?: UpstreamError,
): AttemptRecord {
  const record: AttemptRecord = { model: spec.name, provider: spec.provider, outcome, latencyMs };
  if (error) {
    record.status = error.status;
    record.message = logText(error);
  }
  if (hedge) record.hedge = true;
  return record;
}
