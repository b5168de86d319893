/**
 * Admission against shared limits (a model's rpm/tpm caps, a client key's limits and budget),
 * through the store's all-or-nothing `admit`, with a local "over until T" cache: once a bucket
 * refused, this instance refuses it locally until then, so refused traffic never reaches the
 * store (and routing can skip the target without asking).
 */
import type { Admissions } from '../state/admission-leases.ts';
import type { Adjustment, Admission, AdmissionResult, Admitted, Bucket } from '../state/store.ts';
import type { Clock } from './clock.ts';
import { type AttemptContext, holding, type Operation, type Policy, TargetSkipped } from './policy.ts';

export interface Refusal {
  bucket: Bucket;
  retryAfterMs: number;
}

export class Limiter {
  /** Bucket key -> local clock ms until which it refuses. */
  private readonly overUntil = new Map<string, number>();
  private sequence = 0;

  constructor(
    /** A store, or admission leases over it. */
    private readonly store: Admissions,
    private readonly clock: Clock,
    private readonly instance: string,
  ) {}

  /** A unique admission id. */
  newId(): string {
    return `${this.instance}:${(++this.sequence).toString(36)}`;
  }

  /** Whether any bucket is known to refuse (nearly always false: then nothing need be looked up). */
  get refusingAny(): boolean {
    return this.overUntil.size > 0;
  }

  /** The bucket key's refusal, if it is known to refuse now (no store call). */
  refusedLocally(bucketKey: string): number | undefined {
    if (!this.refusingAny) return undefined;
    const until = this.overUntil.get(bucketKey);
    if (until === undefined) return undefined;
    const left = until - this.clock.now();
    if (left > 0) return left;
    this.overUntil.delete(bucketKey);
    return undefined;
  }

  /** Admit all buckets or none. Refused: which bucket, and for how long. */
  async admit(id: string, buckets: readonly Bucket[]): Promise<AdmissionResult | Refusal> {
    for (const bucket of buckets) {
      const left = this.refusedLocally(bucket.key);
      if (left !== undefined) return { bucket, retryAfterMs: left };
    }
    const admission: Admission = { id, buckets };
    const result = await this.store.admit(admission);
    if (result.admitted) return result;
    const bucket = buckets[result.refusedIndex ?? 0]!;
    const retryAfterMs = result.retryAfterMs ?? 1000;
    // An amount that can never fit is not cached: a smaller request may still pass. A quota may
    // be refunded at settle (or raised) long before its period ends: cached for a second at most.
    // A slot frees when its holder ends, not at the lease expiry the store reports: not cached.
    const cacheMs =
      bucket.kind === 'window' ? retryAfterMs : bucket.kind === 'quota' ? Math.min(retryAfterMs, 1000) : 0;
    if (Number.isFinite(cacheMs) && cacheMs > 0) this.overUntil.set(bucket.key, this.clock.now() + cacheMs);
    return { bucket, retryAfterMs };
  }

  /** The Redis store sends a turn's settles together after the turn (the response's bytes first). */
  settle(admission: Admitted, adjustments: readonly Adjustment[]): Promise<void> {
    if (adjustments.length === 0) return Promise.resolve();
    return this.store.settle(admission, adjustments);
  }
}

/**
 * A model admission taken ahead of a request's chain: the request's client key is admitted
 * together with its primary model's caps in one store call (one Redis round trip, not two), and
 * the first attempt on that model uses the admission instead of taking another.
 */
export class AdmittedAhead {
  private admitted: Admitted | undefined;

  constructor(readonly target: string) {}

  set(admitted: Admitted): void {
    this.admitted = admitted;
  }

  /** The admission, if it was taken for `target` and not yet used (then never again). */
  take(target: string): Admitted | undefined {
    if (target !== this.target) return undefined;
    const admitted = this.admitted;
    this.admitted = undefined;
    return admitted;
  }
}

/** Adjustments that give a window admission's amounts back whole (it was never used). */
export function refundAll(buckets: readonly Bucket[]): Adjustment[] {
  const adjustments: Adjustment[] = [];
  for (const bucket of buckets) {
    if (bucket.kind === 'window')
      adjustments.push({ kind: 'window', key: bucket.key, windowMs: bucket.windowMs, delta: -bucket.amount });
  }
  return adjustments;
}

export function isRefusal(result: AdmissionResult | Refusal): result is Refusal {
  return 'bucket' in result;
}

/** What the admission policy asks of its caller, per attempt. */
export interface AdmissionPlan {
  buckets: Bucket[];
  /** Why a refused bucket refused, for the skip reason ("at its rpm cap"). */
  describe(bucket: Bucket): string;
  /** Corrections once the attempt's lifetime ended (real tokens known, or the attempt failed). */
  settle(failure: unknown): Adjustment[];
}

/** Admission before every attempt on a target; refused -> the chain skips the target. */
export class AdmissionPolicy implements Policy {
  constructor(
    private readonly limiter: Limiter,
    private readonly plan: (context: AttemptContext) => AdmissionPlan | undefined,
    private readonly onStoreError: (error: unknown) => void,
  ) {}

  // Not `async` (see BulkheadPolicy.execute): an attempt admitted ahead, or on a model without
  // caps, returns the attempt's own promise.
  execute<T>(operation: Operation<T>, context: AttemptContext): Promise<T> {
    try {
      const plan = this.plan(context);
      if (!plan) return operation(context);
      const held = (admitted: Admitted) =>
        holding(operation, context, (failure) => {
          this.limiter.settle(admitted, plan.settle(failure)).catch(this.onStoreError);
        });
      // The request's first attempt here may have been admitted already, with its client key.
      const ahead = context.attempt === 0 ? context.meter.ahead?.take(context.target) : undefined;
      return ahead ? held(ahead) : this.admit(plan, context).then(held);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Admit the attempt's buckets, or skip the target. */
  private async admit(plan: AdmissionPlan, context: AttemptContext): Promise<Admitted> {
    const id = this.limiter.newId();
    const result = await this.limiter.admit(id, plan.buckets);
    if (isRefusal(result)) {
      throw new TargetSkipped(context.target, plan.describe(result.bucket), result.retryAfterMs);
    }
    return { id, at: result.now };
  }
}
