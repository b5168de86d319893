/**
 * OpenTelemetry traces over OTLP/HTTP: one SERVER span per request (`chat auto`) and a CLIENT
 * child per upstream attempt (`chat gpt-4o`), with the GenAI semantic conventions' attributes and
 * Switchyard's own (`switchyard.*`). Spans are batched and exported off the request path.
 *
 * Load this module only when tracing is configured (`start.ts` imports it dynamically): with
 * tracing off the gateway keeps `noTracer` and no OpenTelemetry code is loaded at all.
 *
 * @example
 * const tracer = createOtelTracer({ settings: config.observability.otel! });
 * const gateway = createGateway({ config, tracer });
 * // ... on shutdown: await tracer.close(); (flushes what is queued)
 */
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, parseTraceParent } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type {
  AttemptRecord,
  AttemptSpan,
  FrontDoor,
  RequestSpan,
  RequestSummary,
  RequestTracer,
} from './events.ts';
import { inputMessages, outputMessages } from './otel-content.ts';
import type { OtelSettings } from './otel-settings.ts';

/**
 * GenAI attribute names as the current conventions spell them. They moved out of
 * `@opentelemetry/semantic-conventions` (its constants are deprecated, and it still has the old
 * `cache_creation` name), so they are written out here.
 */
export const genAi = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestStream: 'gen_ai.request.stream',
  responseModel: 'gen_ai.response.model',
  finishReasons: 'gen_ai.response.finish_reasons',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheWriteTokens: 'gen_ai.usage.cache_write.input_tokens',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
} as const;

/** Our provider names as the conventions' well-known `gen_ai.provider.name` values. */
const providerNames: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gcp.gemini',
  simulated: 'switchyard.simulated',
};

function genAiProvider(provider: string): string {
  return providerNames[provider] ?? provider;
}

function operationOf(api: FrontDoor): 'chat' | 'embeddings' {
  return api === 'embeddings' ? 'embeddings' : 'chat';
}

export interface OtelTracerOptions {
  settings: OtelSettings;
  /** The configured models' base URLs, for `server.address` / `server.port` on attempt spans. */
  models?: ReadonlyArray<{ name: string; baseUrl: string | undefined }>;
  /** An export failed (at most one call a minute; `suppressed` failures since the last call). */
  onExportError?: (error: Error, suppressed: number) => void;
  /** Longest wait before queued spans are exported, ms (OpenTelemetry's default: 5000). */
  exportDelayMs?: number;
}

export interface OtelTracer extends RequestTracer {
  /** Where attempt spans read `switchyard.breaker_state` (the gateway exists after its tracer). */
  watchBreakers(phaseOf: (model: string) => string | undefined): void;
  /** Export what is queued now. */
  flush(): Promise<void>;
  /** Flush, then stop exporting (waits at most `timeoutMs`). */
  close(timeoutMs?: number): Promise<void>;
}

interface Shared {
  tracer: Tracer;
  servers: Map<string, { address: string; port: number }>;
  breakerPhase: (model: string) => string | undefined;
}

export function createOtelTracer(options: OtelTracerOptions): OtelTracer {
  const { settings } = options;
  const exporter = new ReportingExporter(
    new OTLPTraceExporter({ url: settings.endpoint, headers: settings.headers }),
    throttled(options.onExportError ?? (() => {})),
  );
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] })) // OTEL_RESOURCE_ATTRIBUTES
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.service_name }));
  const provider = new BasicTracerProvider({
    resource,
    // A client's sampled traceparent is always followed; new traces are kept at the configured ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampling_ratio) }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, { scheduledDelayMillis: options.exportDelayMs ?? 5000 }),
    ],
  });
  const shared: Shared = {
    tracer: provider.getTracer('switchyard'),
    servers: serversOf(options.models ?? []),
    breakerPhase: () => undefined,
  };
  let closing: Promise<void> | undefined;
  return {
    startRequest(info) {
      const operation = operationOf(info.api);
      const attributes: Attributes = {
        [genAi.operation]: operation,
        [genAi.requestModel]: info.requestedModel,
        'switchyard.api': info.api,
        'switchyard.request_id': info.requestId,
      };
      if (info.stream) attributes[genAi.requestStream] = true;
      const parent = parentContext(info.traceparent);
      const span = shared.tracer.startSpan(
        `${operation} ${info.requestedModel}`,
        { kind: SpanKind.SERVER, attributes, startTime: info.startedAt },
        parent,
      );
      return new OtelRequestSpan(shared, span, trace.setSpan(parent, span), operation, info.stream);
    },
    watchBreakers(phaseOf) {
      shared.breakerPhase = phaseOf;
    },
    flush: () => provider.forceFlush(),
    close(timeoutMs = 5000) {
      closing ??= Promise.race([
        provider.shutdown(),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
      return closing;
    },
  };
}

/** A valid W3C traceparent from the client becomes the request span's remote parent; anything else is ignored. */
function parentContext(traceparent: string | undefined): Context {
  const parent = traceparent ? parseTraceParent(traceparent) : null;
  return parent ? trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true }) : ROOT_CONTEXT;
}

function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

function serversOf(models: ReadonlyArray<{ name: string; baseUrl: string | undefined }>) {
  const servers = new Map<string, { address: string; port: number }>();
  for (const model of models) {
    if (!model.baseUrl) continue;
    try {
      const url = new URL(model.baseUrl);
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
      servers.set(model.name, { address: url.hostname, port });
    } catch {
      // An unparsable base URL fails the model's own calls; the span just goes without it.
    }
  }
  return servers;
}

class OtelRequestSpan implements RequestSpan {
  private readonly attempts: OtelAttemptSpan[] = [];
  ended = false;

  constructor(
    private readonly shared: Shared,
    private readonly span: Span,
    private readonly context: Context,
    private readonly operation: string,
    private readonly stream: boolean,
  ) {}

  startAttempt(info: Parameters<RequestSpan['startAttempt']>[0]): AttemptSpan {
    const attributes: Attributes = {
      [genAi.operation]: this.operation,
      [genAi.provider]: genAiProvider(info.provider),
      [genAi.requestModel]: info.upstreamModel,
      'switchyard.model': info.model,
      'switchyard.attempt': info.attempt,
      'switchyard.hedge': info.hedge,
    };
    if (this.stream) attributes[genAi.requestStream] = true;
    const breaker = this.shared.breakerPhase(info.model);
    if (breaker) attributes['switchyard.breaker_state'] = breaker;
    const server = this.shared.servers.get(info.model);
    if (server) {
      attributes[ATTR_SERVER_ADDRESS] = server.address;
      attributes[ATTR_SERVER_PORT] = server.port;
    }
    const span = this.shared.tracer.startSpan(
      `${this.operation} ${info.upstreamModel}`,
      { kind: SpanKind.CLIENT, attributes },
      this.context,
    );
    const attempt = new OtelAttemptSpan(span, info.model, info.upstreamModel, this);
    this.attempts.push(attempt);
    return attempt;
  }

  end(summary: RequestSummary, finishReasons: readonly string[]): void {
    if (this.ended) return;
    this.ended = true;
    try {
      if (this.span.isRecording()) {
        this.describe(summary, finishReasons);
        this.creditAttempts(summary, finishReasons);
      }
    } finally {
      // Attempts that already ended waited for the usage above; the others end on their own.
      for (const attempt of this.attempts) if (attempt.record) attempt.finish();
      this.span.end();
    }
  }

  private describe(summary: RequestSummary, finishReasons: readonly string[]): void {
    const attributes: Attributes = {
      'switchyard.fallbacks': summary.fallbacks,
      'switchyard.retries': summary.retries,
      'switchyard.attempts': summary.attempts.length,
      'switchyard.hedge': summary.attempts.some((attempt) => attempt.hedge === true),
      'switchyard.cost_usd': summary.costUsd,
      [ATTR_HTTP_RESPONSE_STATUS_CODE]: summary.status,
    };
    const answering = summary.model
      ? summary.attempts.findLast((attempt) => attempt.model === summary.model)
      : summary.attempts.at(-1);
    if (answering) attributes[genAi.provider] = genAiProvider(answering.provider);
    if (summary.model) attributes[genAi.responseModel] = summary.model;
    if (summary.task) attributes['switchyard.task'] = summary.task;
    if (summary.priority) attributes['switchyard.priority'] = summary.priority;
    const rule = summary.rule;
    if (rule) attributes['switchyard.rule'] = rule;
    if (summary.reason) attributes['switchyard.reason'] = summary.reason;
    if (summary.clientKeyId) attributes['switchyard.client_key_id'] = summary.clientKeyId;
    if (summary.stream && summary.ttftMs !== undefined)
      attributes[genAi.timeToFirstChunk] = summary.ttftMs / 1000;
    if (summary.usage.length > 0) {
      Object.assign(attributes, usageAttributes(summary.usage, this.operation));
      attributes['switchyard.usage_estimated'] = summary.usageEstimated;
    }
    const reasons = this.finishReasonsOf(summary, finishReasons);
    if (reasons) attributes[genAi.finishReasons] = reasons;
    if (summary.errorCode) attributes[ATTR_ERROR_TYPE] = summary.errorCode;
    // The client's own faults (4xx) are not the server's errors (as for HTTP server spans).
    if (summary.status >= 500) {
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: summary.errorMessage ?? summary.errorCode });
    }
    if (summary.content) {
      const input = inputMessages(summary.content.request);
      if (input) attributes[genAi.inputMessages] = JSON.stringify(input);
      if (this.operation === 'chat') {
        attributes[genAi.outputMessages] = JSON.stringify(
          outputMessages(summary.content.response, reasons?.[0] ?? 'error'),
        );
      }
    }
    this.span.setAttributes(attributes);
  }

  private finishReasonsOf(summary: RequestSummary, finishReasons: readonly string[]): string[] | undefined {
    if (this.operation !== 'chat') return undefined;
    if (finishReasons.length > 0) return [...finishReasons];
    // The conventions' `error`: a finish reason was expected but the generation ended abnormally.
    return summary.errorCode ? ['error'] : undefined;
  }

  /** Each model's usage goes on the attempt that delivered it; finish reasons on the one that answered. */
  private creditAttempts(summary: RequestSummary, finishReasons: readonly string[]): void {
    for (const usage of summary.usage) {
      const attempt = this.deliveringAttempt(usage.model);
      if (!attempt) continue;
      attempt.span.setAttributes(usageAttributes([usage], this.operation));
      if (usage.model === summary.model && this.operation === 'chat' && finishReasons.length > 0) {
        attempt.span.setAttribute(genAi.finishReasons, [...finishReasons]);
      }
    }
  }

  /** The model's last successful attempt, else its last one still running, else its last one. */
  private deliveringAttempt(model: string): OtelAttemptSpan | undefined {
    let running: OtelAttemptSpan | undefined;
    let last: OtelAttemptSpan | undefined;
    for (let i = this.attempts.length - 1; i >= 0; i--) {
      const attempt = this.attempts[i]!;
      if (attempt.model !== model) continue;
      if (attempt.record?.outcome === 'success') return attempt;
      if (!attempt.record) running ??= attempt;
      last ??= attempt;
    }
    return running ?? last;
  }
}

class OtelAttemptSpan implements AttemptSpan {
  readonly traceparent: string;
  record: AttemptRecord | undefined;
  private endedAt = 0;
  private finished = false;

  constructor(
    readonly span: Span,
    readonly model: string,
    private readonly upstreamModel: string,
    private readonly request: OtelRequestSpan,
  ) {
    this.traceparent = traceparentOf(span);
  }

  end(record: AttemptRecord): void {
    if (this.record) return;
    this.record = record;
    this.endedAt = Date.now();
    const attributes: Attributes = { 'switchyard.outcome': record.outcome };
    if (record.status !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = record.status;
    if (record.outcome === 'success') {
      // The upstream's own model echo is not in the record: this is the id the gateway asked for.
      attributes[genAi.responseModel] = this.upstreamModel;
    } else if (record.outcome !== 'cancelled') {
      // A cancelled attempt (hedge lost, client gone) is no error of the upstream's.
      attributes[ATTR_ERROR_TYPE] = record.outcome;
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: record.message });
    }
    this.span.setAttributes(attributes);
    // Usage is known when the request ends: until then the ended attempt waits (end time kept).
    if (this.request.ended) this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.span.end(this.endedAt || undefined);
  }
}

function usageAttributes(usage: RequestSummary['usage'], operation: string): Attributes {
  let input = 0;
  let output = 0;
  let cacheRead = 0;
  let cacheWrite = 0;
  for (const entry of usage) {
    input += entry.promptTokens;
    output += entry.completionTokens;
    cacheRead += entry.cachedTokens;
    cacheWrite += entry.cacheWriteTokens;
  }
  // Input tokens include the cached ones, as the conventions ask (and as the summary counts them).
  const attributes: Attributes = { [genAi.inputTokens]: input };
  if (operation === 'chat') attributes[genAi.outputTokens] = output;
  if (cacheRead > 0) attributes[genAi.cacheReadTokens] = cacheRead;
  if (cacheWrite > 0) attributes[genAi.cacheWriteTokens] = cacheWrite;
  return attributes;
}

/** Forwards exports, and says when one fails (the SDK itself only tells its diagnostics logger). */
class ReportingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly onError: (error: Error) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        this.onError(result.error ?? new Error(`OTLP export of ${spans.length} spans failed`));
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

function throttled(report: (error: Error, suppressed: number) => void, everyMs = 60_000) {
  let lastAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (error: Error) => {
    const now = Date.now();
    if (now - lastAt < everyMs) {
      suppressed++;
      return;
    }
    lastAt = now;
    report(error, suppressed);
    suppressed = 0;
  };
}
