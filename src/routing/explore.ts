/**
 * Exploration (issue 15): a configured share of `auto` decisions take as primary a Thompson draw
 * over what feedback says of each candidate on this task, instead of the best score. The rest of
 * the chain keeps the decision's order, so an exploring request fails over exactly as any other.
 * Pure: the evidence and the random source are passed in.
 */
import type { RandomSource } from '../lib/random.ts';
import { sampleBeta } from './learned/bandit.ts';
import type { RouteDecision } from './types.ts';

/** Beta posterior of "this model answers this task well": prior plus feedback scores. */
export interface ArmEvidence {
  alpha: number;
  beta: number;
}

export type EvidenceOf = (task: string, model: string) => ArmEvidence;

/**
 * The decision with a Thompson-drawn primary among every candidate that passed the filters.
 * @example explore(decision, () => ({ alpha: 1, beta: 1 }), seededRandom(1)).explored // true
 */
export function explore(
  decision: RouteDecision,
  evidenceOf: EvidenceOf,
  random: RandomSource,
): RouteDecision {
  const candidates = decision.scores;
  if (candidates.length < 2) return decision;
  let chosen = decision.model;
  let best = Number.NEGATIVE_INFINITY;
  for (const candidate of candidates) {
    const { alpha, beta } = evidenceOf(decision.task, candidate.model);
    const draw = sampleBeta(alpha, beta, random);
    if (draw > best) {
      best = draw;
      chosen = candidate.model;
    }
  }
  const chain = [decision.model, ...decision.fallbacks].filter((model) => model !== chosen);
  return {
    ...decision,
    model: chosen,
    fallbacks: chain,
    explored: true,
    reason: `${decision.reason}; explored: ${chosen} by a Thompson draw over feedback (the best score was ${decision.model})`,
  };
}
