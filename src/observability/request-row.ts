/**
 * The request log's JSON columns beyond the first schema: the routing decision (what the
 * request console's detail view shows), the usage per model and the attempts, written from the
 * summary at write time, off the request path.
 */
import type { AttemptRecord, CandidateScore, DecisionCandidates, ModelUsage } from './events.ts';

/** The routing decision as stored: the chain, every scored candidate, every exclusion with its reason. */
export interface DecisionRow {
  primary: string;
  fallbacks: string[];
  candidates: CandidateScore[];
  excluded: Array<{ model: string; reason: string }>;
}

/** Tokens and spend of one model within the request (a stream that failed over has two). */
export interface UsageRow {
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  cost_usd: number;
  estimated: boolean;
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;

/*
 * The columns are written as JSON text directly, not built as objects and passed to
 * JSON.stringify: the row is made for every request, and for the decision column the
 * intermediate objects cost about as much again as the text (bench/README.md, round 8). The
 * text is what JSON.stringify would give for the row types above (same keys, same order):
 * request-row.test.ts pins that.
 */
const text = JSON.stringify as (value: string) => string;

/**
 * Model names and outcomes as JSON, remembered: every row holds the same few, and a row cost
 * 0.4-0.7 µs less than quoting them each time (bench/README.md, round 12). Bounded: a stranger
 * set starts it over.
 */
const quotedNames = new Map<string, string>();
function name(value: string): string {
  let json = quotedNames.get(value);
  if (json === undefined) {
    if (quotedNames.size >= 1024) quotedNames.clear();
    json = text(value);
    quotedNames.set(value, json);
  }
  return json;
}
/** A number as JSON writes it (NaN and infinities as null). */
const num = (value: number) => (Number.isFinite(value) ? `${value}` : 'null');

/** The decision as stored (`DecisionRow`): model names and rounded numbers, exclusion reasons cut to a line. */
export function decisionJson(candidates: DecisionCandidates): string {
  let fallbacks = '';
  for (const model of candidates.fallbacks) fallbacks += `${fallbacks ? ',' : ''}${name(model)}`;
  let scored = '';
  for (const entry of candidates.scored) {
    const predicted = entry.predicted === undefined ? '' : `,"predicted":${num(round(entry.predicted))}`;
    scored +=
      `${scored ? ',' : ''}{"model":${name(entry.model)},"score":${num(round(entry.score))},` +
      `"match":${num(round(entry.match))},"health":${num(round(entry.health))},"cost":${num(round(entry.cost))},` +
      `"speed":${num(round(entry.speed))},"quality":${num(round(entry.quality))}${predicted}}`;
  }
  let excluded = '';
  for (const entry of candidates.excluded)
    excluded += `${excluded ? ',' : ''}{"model":${name(entry.model)},"reason":${text(entry.reason.slice(0, 300))}}`;
  return `{"primary":${name(candidates.primary)},"fallbacks":[${fallbacks}],"candidates":[${scored}],"excluded":[${excluded}]}`;
}

/** Usage per model as stored (`UsageRow[]`). */
export function usageJson(usage: readonly ModelUsage[]): string {
  let json = '';
  for (const entry of usage) {
    json +=
      `${json ? ',' : ''}{"model":${name(entry.model)},"prompt_tokens":${num(entry.promptTokens)},` +
      `"completion_tokens":${num(entry.completionTokens)},"cached_tokens":${num(entry.cachedTokens)},` +
      `"cache_write_tokens":${num(entry.cacheWriteTokens)},"cost_usd":${num(entry.costUsd)},"estimated":${entry.estimated}}`;
  }
  return `[${json}]`;
}

/** The attempts as stored (`models_tried`, `AttemptRow[]`): latency and start in whole ms. */
export function attemptsJson(attempts: readonly AttemptRecord[]): string {
  let json = '';
  for (const attempt of attempts) {
    const status = attempt.status === undefined ? 'null' : num(attempt.status);
    const message = attempt.message === undefined ? 'null' : text(attempt.message);
    const startedAt =
      attempt.startedAt === undefined ? '' : `,"started_at":${num(Math.round(attempt.startedAt))}`;
    json +=
      `${json ? ',' : ''}{"model":${name(attempt.model)},"outcome":${name(attempt.outcome)},"status":${status},` +
      `"message":${message},"latency_ms":${num(Math.round(attempt.latencyMs))}${startedAt}${attempt.hedge ? ',"hedge":true' : ''}}`;
  }
  return `[${json}]`;
}
