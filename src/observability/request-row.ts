/**
 * The request log's JSON columns beyond the first schema: the routing decision (what the
 * request console's detail view shows) and the usage per model, built from the summary at write
 * time, off the request path.
 */
import type { CandidateScore, DecisionCandidates, ModelUsage } from './events.ts';

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

/** The decision as stored: model names and rounded numbers, exclusion reasons cut to a line. */
export function decisionRow(candidates: DecisionCandidates): DecisionRow {
  return {
    primary: candidates.primary,
    fallbacks: [...candidates.fallbacks],
    candidates: candidates.scored.map((entry) => {
      const row: CandidateScore = {
        model: entry.model,
        score: round(entry.score),
        match: round(entry.match),
        health: round(entry.health),
        cost: round(entry.cost),
        speed: round(entry.speed),
        quality: round(entry.quality),
      };
      if (entry.predicted !== undefined) row.predicted = round(entry.predicted);
      return row;
    }),
    excluded: candidates.excluded.map((entry) => ({
      model: entry.model,
      reason: entry.reason.slice(0, 300),
    })),
  };
}

export function usageRow(usage: ModelUsage): UsageRow {
  return {
    model: usage.model,
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    cached_tokens: usage.cachedTokens,
    cache_write_tokens: usage.cacheWriteTokens,
    cost_usd: usage.costUsd,
    estimated: usage.estimated,
  };
}
