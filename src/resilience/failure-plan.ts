/**
 * What to do after an attempt failed: retry the same model, move to the next one, or stop and
 * give the client this error. A pure function of the failure, the attempt count and the
 * policy, so every branch is unit-tested without HTTP.
 */
import type { UpstreamError } from '../errors.ts';
import type { RandomSource } from '../lib/random.ts';
import { fullJitterBackoff } from './backoff.ts';

export interface FailurePolicy {
  maxAttemptsPerModel: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Longest Retry-After worth waiting for on the same model. */
  maxRetryAfterMs: number;
  retrySilent: boolean;
  fallbackOnContentPolicy: boolean;
}

export type FailurePlan =
  | { action: 'retry'; delayMs: number }
  | { action: 'next'; onlyLargerWindow?: boolean; markUnhealthy?: boolean }
  | { action: 'stop' };

export function planAfterFailure(
  error: UpstreamError,
  attemptOnModel: number,
  remainingMs: number,
  policy: FailurePolicy,
  random: RandomSource,
  /** Another model is left in the chain. */
  hasAlternatives = false,
): FailurePlan {
  const canRetry = attemptOnModel + 1 < policy.maxAttemptsPerModel;
  switch (error.kind) {
    case 'invalid_request':
    case 'cancelled':
      return { action: 'stop' };
    case 'content_policy':
      return policy.fallbackOnContentPolicy ? { action: 'next' } : { action: 'stop' };
    case 'context_length':
      return { action: 'next', onlyLargerWindow: true };
    case 'auth':
    case 'not_found':
      return { action: 'next', markUnhealthy: true };
    case 'bad_response':
      return { action: 'next' };
    case 'silent':
      // Waiting twice on a dead route only doubles the wait: fail over at once by default.
      if (policy.retrySilent && canRetry)
        return retryAfter(
          fullJitterBackoff(attemptOnModel, policy.backoffBaseMs, policy.backoffMaxMs, random),
          remainingMs,
        );
      return { action: 'next' };
    case 'rate_limited': {
      const hinted = error.retryAfterMs;
      // The upstream said when to come back, soon enough to be worth waiting for: the client
      // asked for this model (or the router chose it), so wait and ask it again.
      if (hinted !== undefined && hinted <= policy.maxRetryAfterMs) {
        return canRetry ? retryAfter(hinted, remainingMs) : { action: 'next' };
      }
      // Long or no hint: this deployment is busy; another model answers sooner.
      if (!canRetry || hasAlternatives || hinted !== undefined) return { action: 'next' };
      return retryAfter(
        fullJitterBackoff(attemptOnModel, policy.backoffBaseMs, policy.backoffMaxMs, random),
        remainingMs,
      );
    }
    case 'server':
    case 'network':
    case 'timeout':
      if (!canRetry) return { action: 'next' };
      return retryAfter(
        fullJitterBackoff(attemptOnModel, policy.backoffBaseMs, policy.backoffMaxMs, random),
        remainingMs,
      );
  }
}

/** Retry only if the wait leaves time for the attempt itself; else move on. */
function retryAfter(delayMs: number, remainingMs: number): FailurePlan {
  return delayMs < remainingMs / 2 ? { action: 'retry', delayMs } : { action: 'next' };
}
