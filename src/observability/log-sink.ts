/**
 * One structured log line per finished request, keyed by `requestId` (the executor's own lines
 * for the same request carry the same `requestId`). Info for answered and client-error
 * requests, warn when the gateway itself failed (5xx). Never message content, never keys:
 * only ids, names, numbers and the gateway's own error text.
 */
import type { GatewayEvents, RequestSummary } from './events.ts';
import type { GatewayLogger } from './logger.ts';

export function createLogSink(logger: GatewayLogger): Partial<GatewayEvents> {
  return {
    requestFinished(summary: RequestSummary): void {
      const level = summary.status >= 500 ? 'warn' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          requestId: summary.requestId,
          requestedModel: summary.requestedModel,
          model: summary.model ?? null,
          task: summary.task ?? null,
          priority: summary.priority ?? null,
          stream: summary.stream,
          status: summary.status,
          latencyMs: Math.round(summary.latencyMs),
          ttftMs: summary.ttftMs === undefined ? null : Math.round(summary.ttftMs),
          attempts: summary.attempts.length,
          retries: summary.retries,
          fallbacks: summary.fallbacks,
          promptTokens: summary.promptTokens,
          completionTokens: summary.completionTokens,
          costUsd: summary.costUsd,
          ...(summary.clientKeyId ? { clientKeyId: summary.clientKeyId } : {}),
          ...(summary.errorCode ? { errorCode: summary.errorCode, error: summary.errorMessage } : {}),
        },
        'request finished',
      );
    },
  };
}
