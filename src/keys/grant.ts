/**
 * A key record as the gateway applies it: an `AccessGrant` (allowed models, and an admission that
 * builds the key's buckets for one request). Buckets, reserved all or nothing at admission:
 * - budget: a quota on the period's bucket, amount = the request's estimated cost (its output
 *   capped by max_tokens or the model's max_output_tokens, priced at the dearest model of its
 *   chain), limit = the budget; it expires when the period ends;
 * - rpm: a 60 s window, amount 1; tpm: a 60 s window, amount = the estimated tokens;
 * - max_concurrency: a slot, leased for the request deadline plus a margin (a crashed holder's
 *   slot comes back then).
 * Settling corrects the reservation to what the request really used (a refund when it cost less,
 * everything back when it never reached a model) and gives the slot back. In-flight reservations
 * count against the budget, so concurrent requests cannot jointly spend past it: the most a
 * budget can be overspent is what the requests in flight cost beyond their estimates.
 */
import type { AccessGrant, KeyAdmission, RequestEstimate, RequestUsage } from '../gateway/types.ts';
import { stateKeys } from '../state/keys.ts';
import type { Adjustment, Bucket, BucketState } from '../state/store.ts';
import { currentPeriod } from './periods.ts';
import type { KeyRecord } from './record.ts';

const minuteMs = 60_000;
const autoAliases = new Set(['auto', 'auto:cost', 'auto:speed', 'auto:quality', 'auto:balanced']);

export interface GrantOptions {
  /** How long a concurrency slot is leased (request deadline plus a margin), ms. */
  leaseMs: number;
  /** Wall clock (epoch ms), for the budget period. */
  now?: () => number;
}

type Limit = 'budget' | 'requests' | 'tokens' | 'concurrency';

/**
 * @example
 * const grant = grantFor({ id: 'k3x9q0m2w7ab', rpm: 60, budget: { usd: 10, period: 'day' }, … }, { leaseMs: 90_000 });
 * grant.admission?.({ tokens: 300, costUsd: 0.002 })?.buckets.length // 2
 */
export function grantFor(record: KeyRecord, options: GrantOptions): AccessGrant {
  const grant: AccessGrant = { keyId: record.id };
  // `auto` always chooses among the key's models; naming it in the list adds nothing.
  if (record.models) grant.models = new Set(record.models.filter((name) => !autoAliases.has(name)));
  if (record.budget || record.rpm || record.tpm || record.max_concurrency) {
    // Built once per record version, not per request.
    const names: BucketNames = {
      requests: stateKeys.keyRequests(record.id),
      tokens: stateKeys.keyTokens(record.id),
      concurrency: stateKeys.keyConcurrency(record.id),
      budget: { label: '', key: '' },
    };
    grant.admission = (estimate) => new KeyRequestAdmission(record, names, estimate, options);
  }
  return grant;
}

interface BucketNames {
  requests: string;
  tokens: string;
  concurrency: string;
  /** The budget bucket of the last period asked for (its name changes with the period). */
  budget: { label: string; key: string };
}

/**
 * One request's admission under a key. A class (methods on the prototype, not closures per
 * request): it lives as long as its request, so what it allocates is copied by young-generation
 * GCs (bench/README.md, round 8).
 */
class KeyRequestAdmission implements KeyAdmission {
  readonly buckets: Bucket[] = [];
  /** Which limit each bucket is, by index. */
  private readonly limits: Limit[] = [];

  constructor(
    private readonly record: KeyRecord,
    names: BucketNames,
    private readonly estimate: RequestEstimate,
    options: GrantOptions,
  ) {
    const { buckets, limits } = this;
    // The budget first: once it is spent, that is what the client must hear, not a rate limit.
    if (record.budget) {
      const period = currentPeriod(record.budget.period, (options.now ?? Date.now)());
      if (names.budget.label !== period.label)
        names.budget = { label: period.label, key: stateKeys.keyBudget(record.id, period.label) };
      buckets.push({
        kind: 'quota',
        key: names.budget.key,
        limit: record.budget.usd,
        amount: estimate.costUsd,
        expiresAtMs: period.endMs,
      });
      limits.push('budget');
    }
    if (record.rpm) {
      buckets.push({
        kind: 'window',
        key: names.requests,
        limit: record.rpm,
        windowMs: minuteMs,
        amount: 1,
      });
      limits.push('requests');
    }
    if (record.tpm) {
      buckets.push({
        kind: 'window',
        key: names.tokens,
        limit: record.tpm,
        windowMs: minuteMs,
        amount: estimate.tokens,
      });
      limits.push('tokens');
    }
    if (record.max_concurrency) {
      buckets.push({
        kind: 'concurrency',
        key: names.concurrency,
        limit: record.max_concurrency,
        leaseMs: options.leaseMs,
      });
      limits.push('concurrency');
    }
  }

  private limitOf(bucket: Bucket): Limit {
    return this.limits[this.buckets.indexOf(bucket)] ?? 'requests';
  }

  describe(bucket: Bucket, retryAfterMs: number): ReturnType<KeyAdmission['describe']> {
    const { record, estimate } = this;
    const kind = this.limitOf(bucket);
    const name = `key ${record.id}`;
    const retryAfter = Number.isFinite(retryAfterMs)
      ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }
      : undefined;
    if (kind === 'budget') {
      const budget = record.budget!;
      const per = budget.period === 'total' ? 'in total' : `per ${budget.period}`;
      const message = Number.isFinite(retryAfterMs)
        ? `Budget of ${usd(budget.usd)} ${per} spent for ${name}.`
        : `This request may cost up to ${usd(estimate.costUsd)}, more than the budget of ${usd(budget.usd)} ${per} for ${name}; lower max_tokens.`;
      // A total budget never renews: no Retry-After (OpenAI sends none with insufficient_quota).
      return {
        code: 'insufficient_quota',
        message,
        headers: budget.period === 'total' ? {} : { ...retryAfter },
      };
    }
    if (kind === 'concurrency') {
      // The store reports when the soonest lease would expire; a slot frees as soon as a request ends.
      return {
        code: 'rate_limit_exceeded',
        message: `Rate limit reached for ${name}: ${record.max_concurrency} requests at once.`,
        headers: { 'retry-after': '1' },
      };
    }
    const unit = kind === 'requests' ? 'requests' : 'tokens';
    const cap = kind === 'requests' ? record.rpm! : record.tpm!;
    const headers: Record<string, string> = {
      ...retryAfter,
      [`x-ratelimit-limit-${unit}`]: String(cap),
    };
    if (kind === 'requests') headers['x-ratelimit-remaining-requests'] = '0';
    if (Number.isFinite(retryAfterMs)) headers[`x-ratelimit-reset-${unit}`] = resetText(retryAfterMs);
    const message = Number.isFinite(retryAfterMs)
      ? `Rate limit reached for ${name}: ${cap} ${unit} per minute.`
      : `This request needs up to ${estimate.tokens} tokens, more than the limit of ${cap} tokens per minute for ${name}; lower max_tokens.`;
    return { code: 'rate_limit_exceeded', message, headers };
  }

  settle(usage: RequestUsage | undefined): Adjustment[] {
    const adjustments: Adjustment[] = [];
    this.buckets.forEach((bucket, index) => {
      const kind = this.limits[index];
      if (bucket.kind === 'quota') {
        const delta = (usage?.costUsd ?? 0) - bucket.amount;
        if (delta !== 0)
          adjustments.push({ kind: 'quota', key: bucket.key, delta, expiresAtMs: bucket.expiresAtMs });
      } else if (bucket.kind === 'concurrency') {
        adjustments.push({ kind: 'concurrency', key: bucket.key });
      } else if (kind === 'tokens') {
        const delta = (usage?.tokens ?? 0) - bucket.amount;
        if (delta !== 0)
          adjustments.push({ kind: 'window', key: bucket.key, windowMs: bucket.windowMs, delta });
      }
      // A request counts against rpm whatever became of it.
    });
    return adjustments;
  }

  headers(states: readonly BucketState[]): Record<string, string> {
    const headers: Record<string, string> = {};
    for (let index = 0; index < states.length; index++) {
      const kind = this.limits[index];
      if (kind !== 'requests' && kind !== 'tokens') continue;
      const state = states[index]!;
      const name = headerNames[kind];
      headers[name.limit] = String(this.buckets[index]!.limit);
      headers[name.remaining] = String(Math.max(0, Math.floor(state.remaining)));
      headers[name.reset] = resetText(state.resetMs);
    }
    return headers;
  }
}

const headerNames = {
  requests: {
    limit: 'x-ratelimit-limit-requests',
    remaining: 'x-ratelimit-remaining-requests',
    reset: 'x-ratelimit-reset-requests',
  },
  tokens: {
    limit: 'x-ratelimit-limit-tokens',
    remaining: 'x-ratelimit-remaining-tokens',
    reset: 'x-ratelimit-reset-tokens',
  },
};

/** A duration as OpenAI's `x-ratelimit-reset-*` headers write it: `20ms`, `6s`, `1m30s`, `2h0m0s`. */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const total = Math.ceil(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function usd(value: number): string {
  return value >= 0.01 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}
