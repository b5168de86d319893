/**
 * Turning how a chain ended into what the client gets: the request's own fault as a 4xx with
 * the upstream's reason, a cancelled request as `client_closed_request`, and an exhausted chain
 * as one error that names every model tried and why.
 */
import { GatewayError, UpstreamError } from '../errors.ts';
import { ChainExhausted } from '../resilience/fallback.ts';
import type { TargetSkipped } from '../resilience/policy.ts';

export const clientClosed = () => new GatewayError('client_closed_request', 'the client closed the request');

/** The error a client sees for a chain that did not produce an answer. */
export function chainFailure(error: unknown, clientGone: boolean): GatewayError {
  if (clientGone) return clientClosed();
  if (error instanceof GatewayError) return error;
  if (error instanceof ChainExhausted) return exhausted(error.failures, error.skipped, error.deadlineHit);
  if (error instanceof UpstreamError) {
    if (error.kind === 'cancelled') return clientClosed();
    return clientError(error);
  }
  return new GatewayError('internal_error', 'internal error', { cause: error });
}

/** The client's own fault, or a refusal, passed on as a 400 with the upstream's reason. */
function clientError(error: UpstreamError): GatewayError {
  const code =
    error.kind === 'content_policy'
      ? 'content_policy_violation'
      : error.kind === 'context_length'
        ? 'context_length_exceeded'
        : 'invalid_request';
  return new GatewayError(code, error.message, {
    param: error.param ?? (code === 'context_length_exceeded' ? 'messages' : null),
    status: 400,
    cause: error,
  });
}

/** Every candidate failed: one error that names each model tried and why. */
function exhausted(failures: unknown[], skipped: TargetSkipped[], deadlineHit: boolean): GatewayError {
  const upstream = failures.filter((failure): failure is UpstreamError => failure instanceof UpstreamError);
  const tried = upstream.map((failure) => `${failure.model}: ${failure.message}`);
  const detail = [...new Set([...tried, ...skipped.map((skip) => skip.message)])].join('; ');
  if (upstream.length > 0 && upstream.every((failure) => failure.kind === 'context_length')) {
    return new GatewayError(
      'context_length_exceeded',
      `the prompt does not fit any available model (${detail})`,
      {
        param: 'messages',
      },
    );
  }
  if (upstream.length === 0) {
    const capped = skipped.filter((skip) => skip.retryAfterMs !== undefined);
    if (capped.length > 0 && capped.length === skipped.length) {
      return rateLimited(
        `every candidate is at its rate limit: ${detail}`,
        capped.map((skip) => skip.retryAfterMs!),
      );
    }
    return new GatewayError(
      'no_model_available',
      `no model could take the request: ${detail || 'every candidate is unavailable'}`,
    );
  }
  if (upstream.every((failure) => failure.kind === 'rate_limited')) {
    return rateLimited(
      `every candidate is rate limited: ${detail}`,
      upstream.map((failure) => failure.retryAfterMs ?? 1000),
    );
  }
  if (deadlineHit || upstream.every((failure) => failure.kind === 'timeout' || failure.kind === 'silent')) {
    return new GatewayError('upstream_timeout', `no model answered in time: ${detail}`);
  }
  if (upstream.every((failure) => failure.kind === 'bad_response')) {
    return new GatewayError(
      'bad_upstream_response',
      `every candidate returned an invalid response: ${detail}`,
    );
  }
  return new GatewayError('upstream_error', `every candidate failed: ${detail}`);
}

export function rateLimited(message: string, retryAfterMs: readonly number[]): GatewayError {
  const soonest = Math.min(...retryAfterMs);
  return new GatewayError('rate_limited', message, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(soonest / 1000))) },
  });
}
