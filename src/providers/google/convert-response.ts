/**
 * Gemini `GenerateContentResponse` -> OpenAI `ChatCompletion`, plus the Gemini error-body
 * classification shared by the non-streaming and streaming paths. Pure: ids and time come in
 * through the context.
 */
import { UpstreamError } from '../../errors.ts';
import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../../types/openai.ts';
import { type ErrorContext, type ErrorDetails, errorFromResponse, type HeaderMap } from '../http.ts';
import type { GeminiPart } from './convert-request.ts';

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  finishMessage?: string;
  index?: number;
  safetyRatings?: SafetyRating[];
}

interface SafetyRating {
  category?: string;
  probability?: string;
  blocked?: boolean;
}

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string; safetyRatings?: SafetyRating[] };
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
}

export interface ConvertContext {
  /** The gateway's model name (spec.name), reported as `model`. */
  model: string;
  provider: string;
  id: string;
  created: number;
  newId: (prefix: string) => string;
  /** Told about a malformed stream event that was skipped. */
  warn?: (message: string) => void;
}

/** Finish reasons meaning "the upstream's filters stopped this output". */
const filteredReasons = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

export function mapFinishReason(reason: string, hadToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (filteredReasons.has(reason)) return 'content_filter';
  // STOP and the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ...): the turn is over.
  return hadToolCalls ? 'tool_calls' : 'stop';
}

export function toChatCompletion(body: unknown, ctx: ConvertContext): ChatCompletion {
  if (!isRecord(body)) throw badResponse(ctx, 'response body is not a JSON object');
  const response = body as GeminiResponse;
  const candidates: GeminiCandidate[] = Array.isArray(response.candidates)
    ? response.candidates.filter((candidate) => typeof candidate === 'object' && candidate !== null)
    : [];
  if (candidates.length === 0) {
    if (response.promptFeedback?.blockReason) throw promptBlocked(response, ctx);
    throw badResponse(ctx, 'response has no candidates');
  }

  const choices = candidates.map((candidate, position) => {
    const parts = partsOf(candidate);
    const text = textOf(parts);
    const toolCalls: ToolCall[] = functionCallsOf(parts).map((call) => ({
      id: ctx.newId('call'),
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
    }));
    const finish = mapFinishReason(candidate.finishReason ?? 'STOP', toolCalls.length > 0);
    return {
      index: typeof candidate.index === 'number' ? candidate.index : position,
      message: {
        role: 'assistant' as const,
        content: text === '' && toolCalls.length > 0 ? null : text,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      },
      finish_reason: finish,
      empty: text === '' && toolCalls.length === 0,
    };
  });

  // Every candidate filtered away with nothing to show: a refusal, not an empty answer.
  if (choices.every((choice) => choice.finish_reason === 'content_filter' && choice.empty)) {
    throw responseBlocked(candidates[0]!, ctx);
  }

  const completion: ChatCompletion = {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: choices.map(({ empty: _empty, ...choice }) => choice),
  };
  const usage = toUsage(response.usageMetadata);
  if (usage) completion.usage = usage;
  return completion;
}

export function partsOf(candidate: GeminiCandidate): GeminiPart[] {
  const parts = candidate.content?.parts;
  return Array.isArray(parts) ? parts.filter(isRecord) : [];
}

/** Visible text only: `thought: true` parts are the model's reasoning summary. */
export function textOf(parts: GeminiPart[]): string {
  let text = '';
  for (const part of parts) if (typeof part.text === 'string' && part.thought !== true) text += part.text;
  return text;
}

export function functionCallsOf(
  parts: GeminiPart[],
): Array<{ name: string; args?: Record<string, unknown> }> {
  const calls: Array<{ name: string; args?: Record<string, unknown> }> = [];
  for (const part of parts) {
    const call = part.functionCall;
    if (isRecord(call) && typeof call.name === 'string') {
      calls.push({ name: call.name, args: isRecord(call.args) ? call.args : {} });
    }
  }
  return calls;
}

/**
 * Gemini usage in the normalised form (src/types/openai.ts). Gemini counts thinking separately;
 * OpenAI bills it as completion (reasoning) tokens. `cachedContentTokenCount` is already inside
 * `promptTokenCount`, as OpenAI's `cached_tokens` is inside `prompt_tokens`, so it is reported as
 * is and never added. Gemini reports no cache writes (a cache is created by its own API call).
 */
export function toUsage(metadata: GeminiUsage | undefined): Usage | undefined {
  if (!isRecord(metadata)) return undefined;
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const prompt = count(metadata.promptTokenCount) + count(metadata.toolUsePromptTokenCount);
  const thoughts = count(metadata.thoughtsTokenCount);
  const completion = count(metadata.candidatesTokenCount) + thoughts;
  const usage: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens:
      typeof metadata.totalTokenCount === 'number' ? metadata.totalTokenCount : prompt + completion,
  };
  if (thoughts > 0) usage.completion_tokens_details = { reasoning_tokens: thoughts };
  if (count(metadata.cachedContentTokenCount) > 0) {
    usage.prompt_tokens_details = { cached_tokens: count(metadata.cachedContentTokenCount) };
  }
  return usage;
}

export function promptBlocked(response: GeminiResponse, ctx: ConvertContext): UpstreamError {
  const feedback = response.promptFeedback ?? {};
  const categories = flaggedCategories(feedback.safetyRatings);
  const detail = feedback.blockReasonMessage ? `: ${feedback.blockReasonMessage}` : '';
  return new UpstreamError(
    'content_policy',
    `${ctx.model}: Gemini blocked the prompt (blockReason ${feedback.blockReason}${categories})${detail}`,
    { provider: ctx.provider, model: ctx.model, upstreamCode: feedback.blockReason },
  );
}

export function responseBlocked(candidate: GeminiCandidate, ctx: ConvertContext): UpstreamError {
  const categories = flaggedCategories(candidate.safetyRatings);
  return new UpstreamError(
    'content_policy',
    `${ctx.model}: Gemini withheld the response (finishReason ${candidate.finishReason}${categories})`,
    { provider: ctx.provider, model: ctx.model, upstreamCode: candidate.finishReason },
  );
}

/** Names the harm categories that tripped, so the message says why (e.g. HARM_CATEGORY_HARASSMENT). */
function flaggedCategories(ratings: SafetyRating[] | undefined): string {
  if (!Array.isArray(ratings)) return '';
  const names = ratings
    .filter((rating) => isRecord(rating) && (rating.blocked === true || rating.probability === 'HIGH'))
    .map((rating) => rating.category)
    .filter((name): name is string => typeof name === 'string');
  return names.length > 0 ? `, ${names.join(', ')}` : '';
}

export function badResponse(ctx: ConvertContext, what: string): UpstreamError {
  return new UpstreamError('bad_response', `${ctx.model}'s upstream sent an unusable response: ${what}`, {
    provider: ctx.provider,
    model: ctx.model,
  });
}

/** Gemini errors: `{"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}` (sometimes in an array). */
export function extractGoogleError(body: unknown): ErrorDetails {
  const root = Array.isArray(body) ? body[0] : body;
  const error = isRecord(root) ? root.error : undefined;
  if (!isRecord(error)) return {};
  const status = typeof error.status === 'string' ? error.status : undefined;
  return {
    message: typeof error.message === 'string' ? error.message : undefined,
    code: status,
    type: status,
    retryAfterMs: retryDelayOf(error.details),
  };
}

/** Gemini's 429 says when to retry in the body: `details[]` holds a google.rpc.RetryInfo with `retryDelay: "7s"`. */
function retryDelayOf(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    if (
      !isRecord(detail) ||
      typeof detail['@type'] !== 'string' ||
      !detail['@type'].endsWith('google.rpc.RetryInfo')
    ) {
      continue;
    }
    const match = typeof detail.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay) : null;
    if (match) return Number(match[1]) * 1000;
  }
  return undefined;
}

/** Gemini answers a bad key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), not 401. */
const invalidKeyPattern = /API_KEY_INVALID|API_KEY_EXPIRED|API key (not valid|not found|expired)/i;

/** Classify a Gemini error (HTTP error body or an `error` object mid-stream). */
export function googleError(
  status: number,
  headers: HeaderMap,
  bodyText: string,
  context: ErrorContext,
  nowMs?: number,
): UpstreamError {
  const error = errorFromResponse(status, headers, bodyText, context, extractGoogleError, nowMs);
  if (error.kind === 'auth' || status >= 500 || !invalidKeyPattern.test(bodyText)) return error;
  return new UpstreamError('auth', error.message, {
    status: error.status,
    retryAfterMs: error.retryAfterMs,
    upstreamCode: error.upstreamCode,
    param: error.param,
    provider: context.provider,
    model: context.model,
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
