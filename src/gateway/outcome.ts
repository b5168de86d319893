/**
 * Turning how a chain ended into what the client gets: the request's own fault as a 4xx with
 * the upstream's reason, a cancelled request as `client_closed_request`, and an exhausted chain
 * as one error that names every model tried and why.
 */
import { type ErrorCode, GatewayError, logText, UpstreamError } from '../errors.ts';
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
  const skips = skipped.map((skip) => skip.message);
  // The client sees each model's failure as we classified it; what the upstreams said goes to the logs.
  const shown = [
    ...new Set([...upstream.map((failure) => `${failure.model}: ${failure.message}`), ...skips]),
  ].join('; ');
  const logged = [
    ...new Set([...upstream.map((failure) => `${failure.model}: ${logText(failure)}`), ...skips]),
  ].join('; ');
  const error = (
    code: ErrorCode,
    prefix: string,
    options: { param?: string; headers?: Record<string, string> } = {},
  ) => new GatewayError(code, `${prefix}${shown}`, { ...options, detail: `${prefix}${logged}` });
  if (upstream.length > 0 && upstream.every((failure) => failure.kind === 'context_length')) {
    return error('context_length_exceeded', 'the prompt does not fit any available model: ', {
      param: 'messages',
    });
  }
  if (upstream.length === 0) {
    const capped = skipped.filter((skip) => skip.retryAfterMs !== undefined);
    if (capped.length > 0 && capped.length === skipped.length) {
      return rateLimited(
        `every candidate is at its rate limit: ${shown}`,
        capped.map((skip) => skip.retryAfterMs!),
      );
    }
    return new GatewayError(
      'no_model_available',
      `no model could take the request: ${shown || 'every candidate is unavailable'}`,
    );
  }
  if (upstream.every((failure) => failure.kind === 'rate_limited')) {
    const limited = rateLimited(
      `every candidate is rate limited: ${shown}`,
      upstream.map((failure) => failure.retryAfterMs ?? 1000),
    );
    return error('rate_limited', 'every candidate is rate limited: ', { headers: limited.headers });
  }
  if (deadlineHit || upstream.every((failure) => failure.kind === 'timeout' || failure.kind === 'silent')) {
    return error('upstream_timeout', 'no model answered in time: ');
  }
  if (upstream.every((failure) => failure.kind === 'bad_response')) {
    return error('bad_upstream_response', 'every candidate returned an invalid response: ');
  }
  return error('upstream_error', 'every candidate failed: ');
}

export function rateLimited(message: string, retryAfterMs: readonly number[]): GatewayError {
  const soonest = Math.min(...retryAfterMs);
  return new GatewayError('rate_limited', message, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(soonest / 1000))) },
  });
}
