/**
 * One structured log line per finished request, keyed by `requestId` (the executor's own lines
 * for the same request carry the same `requestId`). Info for answered and client-error
 * requests, warn when the gateway itself failed (5xx). Never message content, never keys:
 * only ids, names, numbers and the gateway's own error text.
 */
import type { GatewayEvents, RequestSummary } from './events.ts';
import { type GatewayLogger, unredactedSibling } from './logger.ts';

export function createLogSink(gatewayLogger: GatewayLogger): Partial<GatewayEvents> {
  // Every field below is an id, a name, a number or the gateway's own (key-scrubbed) error
  // text, so the line skips the redaction pass (which would cost more than the line itself).
  const logger = unredactedSibling(gatewayLogger);
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
          costUsd: Math.round(summary.costUsd * 1e9) / 1e9,
          ...(summary.clientKeyId ? { clientKeyId: summary.clientKeyId } : {}),
          ...(summary.errorCode ? { errorCode: summary.errorCode, error: summary.errorMessage } : {}),
        },
        'request finished',
      );
    },
  };
}
