/**
 * A client key's limits and budget, per request: reserve the request's estimate in every bucket
 * at once (or refuse with 429), and settle the reservation with the real usage when it ends.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import { GatewayError } from '../errors.ts';
import {
  type AdmissionPlan,
  type AdmittedAhead,
  isRefusal,
  type Limiter,
  type Refusal,
  refundAll,
} from '../resilience/limiter.ts';
import type { RequestFeatures } from '../routing/types.ts';
import type { AdmissionResult } from '../state/store.ts';
import { priceOf, type RequestFacts } from './accounting.ts';
import type { AccessGrant, RequestEstimate } from './types.ts';

export class KeyAdmissions {
  constructor(
    private readonly limiter: Limiter,
    private readonly specs: ReadonlyMap<string, ModelSpec>,
    private readonly onStoreError: (error: unknown) => void,
  ) {}

  /** What a request may cost: its prompt plus its output cap, at the dearest model of its chain. */
  estimate(features: RequestFeatures, chain: readonly string[]): RequestEstimate {
    let output = features.maxOutputTokens ?? 0;
    let costUsd = 0;
    for (const name of chain) {
      const spec = this.specs.get(name);
      if (!spec) continue;
      const cap = features.maxOutputTokens ?? spec.maxOutputTokens;
      output = Math.max(output, cap);
      const price = priceOf(spec, {
        promptTokens: features.promptTokens,
        completionTokens: cap,
        cachedTokens: 0,
        cacheWriteTokens: 0,
      });
      costUsd = Math.max(costUsd, price);
    }
    return { tokens: features.promptTokens + output, costUsd };
  }

  /**
   * A key's limits and budget: reserve the estimate in every bucket at once, or refuse with 429.
   * The reservation is settled with the real usage when the request ends.
   */
  async admit(
    access: AccessGrant | undefined,
    estimate: RequestEstimate,
    facts: RequestFacts,
    ahead?: ModelAhead,
  ): Promise<Record<string, string> | undefined> {
    const plan = access?.admission?.(estimate);
    if (!plan || plan.buckets.length === 0) return undefined;
    const id = this.limiter.newId();
    let result: AdmissionResult | Refusal;
    /** Set when the model's caps were admitted with the key's buckets. */
    let taken: ModelAhead | undefined;
    if (ahead && ahead.plan.buckets.length > 0) {
      // The key's buckets and the primary model's caps, all or nothing, in one store call.
      result = await this.limiter.admit(id, [...plan.buckets, ...ahead.plan.buckets]);
      if (isRefusal(result) && !plan.buckets.includes(result.bucket)) {
        // The model is at its cap (the limiter now refuses it locally, so its attempt is
        // skipped at no cost): the key's buckets alone.
        result = await this.limiter.admit(id, plan.buckets);
      } else if (!isRefusal(result)) {
        taken = ahead;
      }
    } else {
      result = await this.limiter.admit(id, plan.buckets);
    }
    if (isRefusal(result)) {
      const { code, message, headers: own } = plan.describe(result.bucket, result.retryAfterMs);
      const headers: Record<string, string> = own ?? {};
      if (!own && Number.isFinite(result.retryAfterMs))
        headers['retry-after'] = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
      throw new GatewayError(code, message, { headers });
    }
    const admitted = { id, at: result.now };
    taken?.into.set(admitted);
    facts.onFinish = (summary) => {
      const billed = summary.usage.length > 0;
      const usage = billed
        ? { tokens: summary.promptTokens + summary.completionTokens, costUsd: summary.costUsd }
        : undefined;
      this.limiter.settle(admitted, plan.settle(usage)).catch(this.onStoreError);
      // The model admission no attempt used (a cached answer, a breaker that opened meanwhile): given back whole.
      if (taken?.into.take(taken.into.target)) {
        this.limiter.settle(admitted, refundAll(taken.plan.buckets)).catch(this.onStoreError);
      }
    };
    // The key's own buckets come first in the result.
    return plan.headers?.(taken ? result.buckets.slice(0, plan.buckets.length) : result.buckets);
  }
}

/** The primary model's caps, to be admitted with the key's buckets (`into` keeps the admission for its first attempt). */
export interface ModelAhead {
  plan: AdmissionPlan;
  into: AdmittedAhead;
}
