/**
 * The routing core with the learned router's predictions (issue 15): predicted quality replaces
 * static strengths and quality, the quality floor makes `cost` the cheapest model that loses at
 * most the floor, and exploration draws a primary from the feedback evidence.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/lib/random.ts';
import { decideRoute } from '../../src/routing/decide.ts';
import { explore } from '../../src/routing/explore.ts';
import type { NoRoute, RequestFeatures, RouteDecision, RoutingPolicy } from '../../src/routing/types.ts';
import { makeSpec } from '../helpers/spec.ts';
import { healthOf, policyOf } from './fixtures.ts';

// A strong dear model whose strengths match coding, and a cheap one with none of them.
const models = [
  makeSpec({
    name: 'strong',
    strengths: ['coding', 'complex_reasoning'],
    inputCostPer1k: 0.0025,
    outputCostPer1k: 0.01,
    quality: 9,
  }),
  makeSpec({ name: 'cheap', strengths: [], inputCostPer1k: 0.00015, outputCostPer1k: 0.0006, quality: 5 }),
];

function features(predictedQuality?: Record<string, number>): RequestFeatures {
  const result: RequestFeatures = {
    task: 'coding',
    taskReason: 'code keyword',
    promptTokens: 200,
    tokensEstimated: false,
    maxOutputTokens: undefined,
    hasImages: false,
    hasTools: false,
    wantsJson: false,
    hasPrefill: false,
    stream: false,
  };
  if (predictedQuality) result.predictedQuality = predictedQuality;
  return result;
}

function decide(predicted: Record<string, number> | undefined, policy: Partial<RoutingPolicy> = {}) {
  const decision = decideRoute(features(predicted), models, healthOf(), policyOf(policy), seededRandom(1));
  assert.ok(decision.model !== undefined, (decision as NoRoute).reason);
  return decision as RouteDecision;
}

describe('decisions with predicted quality', () => {
  it('without predictions, a matching strength ranks above a cheaper model even for cost (the old behaviour)', () => {
    assert.equal(decide(undefined, { priority: 'cost' }).model, 'strong');
  });

  it('cost picks the cheapest model within the quality floor of the best prediction', () => {
    const close = decide({ strong: 0.8, cheap: 0.75 }, { priority: 'cost', qualityFloor: 0.1 });
    assert.equal(close.model, 'cheap');
    assert.deepEqual(close.fallbacks, ['strong']);
    const cheap = close.scores.find((score) => score.model === 'cheap')!;
    assert.equal(cheap.predicted, 0.75);
    assert.equal(cheap.withinFloor, true);
    assert.match(close.reason, /predicted 0\.75/);
    assert.match(close.reason, /learned router \(quality floor 0\.10\)/);

    const far = decide({ strong: 0.9, cheap: 0.6 }, { priority: 'cost', qualityFloor: 0.1 });
    assert.equal(far.model, 'strong', 'the cheap model loses 0.3 > floor: the strong one answers');
    assert.equal(far.scores.find((score) => score.model === 'cheap')!.withinFloor, false);
    assert.match(far.reason, /1 below it/);
  });

  it('a prediction exactly at the floor counts as within it', () => {
    assert.equal(decide({ strong: 0.8, cheap: 0.7 }, { priority: 'cost', qualityFloor: 0.1 }).model, 'cheap');
  });

  it('quality uses the prediction, not the configured quality', () => {
    // Configured quality says strong (9 vs 5); the router says the cheap one answers this prompt better.
    const decision = decide({ strong: 0.5, cheap: 0.9 }, { priority: 'quality', qualityFloor: 0.1 });
    assert.equal(decision.model, 'cheap');
    assert.equal(decision.scores[0]!.quality, 1);
    assert.ok(Math.abs(decision.scores[1]!.quality - 0.5 / 0.9) < 1e-9);
  });

  it('balanced weighs predicted quality and still never goes below the floor', () => {
    const balanced = decide({ strong: 0.85, cheap: 0.8 }, { priority: 'balanced', qualityFloor: 0.1 });
    assert.equal(balanced.model, 'cheap', 'close in quality and 16x cheaper');
    const floored = decide({ strong: 0.85, cheap: 0.5 }, { priority: 'balanced', qualityFloor: 0.1 });
    assert.equal(floored.model, 'strong');
  });

  it('predictions that miss a candidate are not used, and the reason says which', () => {
    const decision = decide({ strong: 0.2 }, { priority: 'cost', qualityFloor: 0.1 });
    assert.equal(decision.model, 'strong', 'back to strengths: strong matches coding');
    assert.equal(decision.scores[0]!.predicted, undefined);
    assert.match(decision.reason, /learned router off \(cheap has no router label\)/);
  });

  it('hard filters still apply before predictions', () => {
    const decision = decideRoute(
      features({ strong: 0.9, cheap: 0.9 }),
      models,
      healthOf({ cheap: { breaker: 'open' } }),
      policyOf({ priority: 'cost', qualityFloor: 0.1 }),
      seededRandom(1),
    ) as RouteDecision;
    assert.equal(decision.model, 'strong');
    assert.equal(decision.excluded[0]!.model, 'cheap');
  });
});

describe('exploration', () => {
  const base = decide({ strong: 0.9, cheap: 0.6 }, { priority: 'cost', qualityFloor: 0.1 });

  it('draws the primary from the evidence and keeps every other model in the chain', () => {
    // Feedback says cheap answers coding well (30 good, 1 bad) and strong badly.
    const evidence = (_task: string, model: string) =>
      model === 'cheap' ? { alpha: 31, beta: 2 } : { alpha: 2, beta: 31 };
    const explored = explore(base, evidence, seededRandom(7));
    assert.equal(explored.model, 'cheap');
    assert.deepEqual(explored.fallbacks, ['strong']);
    assert.equal(explored.explored, true);
    assert.match(
      explored.reason,
      /explored: cheap by a Thompson draw over feedback \(the best score was strong\)/,
    );
    assert.equal(base.explored, undefined, 'the input decision is not changed');
  });

  it('with no evidence both arms are drawn about equally, and the same seed draws the same', () => {
    const prior = () => ({ alpha: 1, beta: 1 });
    const random = seededRandom(3);
    let cheap = 0;
    for (let i = 0; i < 2000; i++) if (explore(base, prior, random).model === 'cheap') cheap++;
    assert.ok(cheap > 900 && cheap < 1100, `cheap drawn ${cheap} of 2000`);
    const first = [1, 2, 3, 4, 5].map((seed) => explore(base, prior, seededRandom(seed)).model);
    const again = [1, 2, 3, 4, 5].map((seed) => explore(base, prior, seededRandom(seed)).model);
    assert.deepEqual(first, again);
  });
});
