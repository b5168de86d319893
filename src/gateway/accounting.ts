/**
 * Accounting: one record per finished request (`RequestSummary`), built from what the request
 * asked, what was planned and what the trace saw. Usage is what reached the client, per model
 * that delivered part of it, priced at that model's rates, with prompt-cache reads and writes
 * priced apart; where an upstream sent no usage it is counted with the tokenizer and marked
 * estimated.
 */
import type { ModelSpec } from '../config/model-spec.ts';
import type { GatewayError } from '../errors.ts';
import { truncate } from '../lib/secrets.ts';
import type {
  FrontDoor,
  ModelUsage,
  RequestSpan,
  RequestSummary,
  RequestTracer,
} from '../observability/events.ts';
import type { RequestFeatures, RouteDecision } from '../routing/types.ts';
import type { ChatRequest, Usage } from '../types/openai.ts';
import type { RequestTrace, Segment } from './trace.ts';
import type { RequestOptions } from './types.ts';

export interface RequestFacts {
  requestId: string;
  api: FrontDoor;
  /** Wall-clock ms. */
  startedAt: number;
  clientKeyId: string | undefined;
  clientRequestId?: string;
  requestedModel: string;
  stream: boolean;
  features: RequestFeatures | undefined;
  decision: RouteDecision | undefined;
  trace: RequestTrace | undefined;
  error: GatewayError | undefined;
  /** Run with the summary once the request ended (settles a key's reservations). */
  onFinish?: (summary: RequestSummary) => void;
  /** The request's trace span (a no-op when tracing is off). */
  span: RequestSpan;
  cache?: 'hit' | 'miss';
}

/** USD for `usage` at the model's rates: uncached input, cache reads, cache writes, output. */
export function priceOf(
  spec: ModelSpec,
  usage: Pick<ModelUsage, 'promptTokens' | 'completionTokens' | 'cachedTokens' | 'cacheWriteTokens'>,
): number {
  const uncached = Math.max(0, usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens);
  return (
    (uncached * spec.inputCostPer1k +
      usage.cachedTokens * spec.cacheReadCostPer1k +
      usage.cacheWriteTokens * spec.cacheWriteCostPer1k +
      usage.completionTokens * spec.outputCostPer1k) /
    1000
  );
}

export class Accountant {
  constructor(
    private readonly specs: ReadonlyMap<string, ModelSpec>,
    private readonly countTokens: (text: string) => number,
  ) {}

  /** What one segment cost: the upstream's usage, else the tokenizer's count of what it delivered. */
  segmentUsage(segment: Segment): ModelUsage | undefined {
    const spec = this.specs.get(segment.model);
    if (!spec) return undefined;
    const usage: Usage | undefined = segment.usage;
    const estimated = usage === undefined;
    const entry: ModelUsage = {
      model: segment.model,
      provider: spec.provider,
      promptTokens: usage?.prompt_tokens ?? segment.promptTokens,
      completionTokens:
        usage?.completion_tokens ?? (segment.text.length > 0 ? this.countTokens(segment.text) : 0),
      cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
      cacheWriteTokens: usage?.prompt_tokens_details?.cache_write_tokens ?? 0,
      costUsd: 0,
      estimated,
    };
    entry.costUsd = priceOf(spec, entry);
    return entry;
  }

  /** `latencyMs` apart from the facts: copying them into a new object per request cost more than the rest. */
  summarize(facts: RequestFacts, latencyMs: number): RequestSummary {
    const { trace, error } = facts;
    const usage: ModelUsage[] = [];
    for (const segment of trace?.segments ?? []) {
      const entry = this.segmentUsage(segment);
      if (entry) usage.push(entry);
    }
    let promptTokens = 0;
    let completionTokens = 0;
    let costUsd = 0;
    for (const entry of usage) {
      promptTokens += entry.promptTokens;
      completionTokens += entry.completionTokens;
      costUsd += entry.costUsd;
    }
    const summary: RequestSummary = {
      requestId: facts.requestId,
      api: facts.api,
      startedAt: facts.startedAt,
      clientKeyId: facts.clientKeyId,
      clientRequestId: facts.clientRequestId,
      stream: facts.stream,
      requestedModel: truncate(facts.requestedModel, 256),
      task: facts.features?.task,
      priority: facts.decision?.priority,
      model: error ? undefined : trace?.model,
      attempts: trace?.attempts ?? [],
      fallbacks: trace?.fallbacks ?? 0,
      retries: trace?.retries ?? 0,
      latencyMs,
      ttftMs: trace?.ttftMs,
      promptTokens,
      completionTokens,
      costUsd,
      usageEstimated: usage.some((entry) => entry.estimated),
      usage,
      status: error ? error.status : 200,
      errorCode: error?.code,
      errorMessage: error ? truncate(error.detail ?? error.message, 2000) : undefined,
      reason: facts.decision?.reason,
    };
    if (facts.cache) summary.cache = facts.cache;
    const { decision } = facts;
    if (decision?.rule) summary.rule = decision.rule;
    // References, not copies: the decision is not changed after it is made (the log copies at write).
    if (decision) {
      summary.candidates = {
        primary: decision.model,
        fallbacks: decision.fallbacks,
        scored: decision.scores,
        excluded: decision.excluded,
      };
    }
    return summary;
  }
}

/** What is known of a request before it runs. */
export function baseFacts(
  requestId: string,
  startedAt: number,
  request: ChatRequest,
  requestOptions: RequestOptions,
  trace: RequestTrace,
  tracer: RequestTracer,
): RequestFacts {
  const api = requestOptions.api ?? 'chat';
  const traceparent = requestOptions.headers?.traceparent;
  return {
    requestId,
    api,
    startedAt,
    clientKeyId: requestOptions.clientKeyId,
    clientRequestId: requestOptions.clientRequestId,
    requestedModel: request.model,
    stream: request.stream === true,
    features: undefined,
    decision: undefined,
    trace,
    error: undefined,
    span: tracer.startRequest({
      requestId,
      api,
      requestedModel: request.model,
      stream: request.stream === true,
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      startedAt,
    }),
  };
}

/** The usage the client gets when the upstream sent none: the gateway's own count. */
export function accountantUsage(usage: ReturnType<Accountant['segmentUsage']>) {
  const prompt = usage?.promptTokens ?? 0;
  const completion = usage?.completionTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}
