import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelSpec } from '../../src/config/model-spec.ts';
import type { TaskType } from '../../src/config/schema.ts';
import { seededRandom } from '../../src/lib/random.ts';
import { createAnalyzer } from '../../src/routing/analyze.ts';
import { decideRoute } from '../../src/routing/decide.ts';
import type {
  HealthSnapshot,
  NoRoute,
  RequestFeatures,
  RouteDecision,
  RoutingPolicy,
} from '../../src/routing/types.ts';
import type { ChatRequest } from '../../src/types/openai.ts';
import { makeSpec } from '../helpers/spec.ts';
import { analysisDefaults, briefModels, healthOf, policyOf } from './fixtures.ts';

function features(overrides: Partial<RequestFeatures> = {}): RequestFeatures {
  return {
    task: 'coding',
    taskReason: 'code keyword "bug"',
    promptTokens: 1000,
    tokensEstimated: false,
    maxOutputTokens: undefined,
    hasImages: false,
    hasTools: false,
    wantsJson: false,
    hasPrefill: false,
    stream: false,
    ...overrides,
  };
}

function route(
  overrides: { features?: Partial<RequestFeatures>; policy?: Partial<RoutingPolicy> } = {},
  models: ModelSpec[] = briefModels(),
  health: HealthSnapshot = healthOf(),
  seed = 1,
) {
  return decideRoute(
    features(overrides.features),
    models,
    health,
    policyOf(overrides.policy),
    seededRandom(seed),
  );
}

function routed(decision: RouteDecision | NoRoute): RouteDecision {
  assert.ok(decision.model !== undefined, `expected a route, got: ${decision.reason}`);
  return decision as RouteDecision;
}

function noRoute(decision: RouteDecision | NoRoute): NoRoute {
  assert.equal(decision.model, undefined, `expected no route, got ${decision.model}`);
  return decision as NoRoute;
}

const chainOf = (decision: RouteDecision) => [decision.model, ...decision.fallbacks];

/** The brief's table with every model given the task's strengths, so the priority alone decides. */
function equalMatchModels(): ModelSpec[] {
  return briefModels().map((spec) => ({ ...spec, strengths: ['creative_writing', 'complex_reasoning'] }));
}

const observedLatency = healthOf({
  'gemini-pro': { latencyMs: 300 },
  'gpt-4o-mini': { latencyMs: 600 },
  'gpt-4o': { latencyMs: 900 },
  'claude-3-5-sonnet': { latencyMs: 1200 },
});

describe("decideRoute: priorities on the brief's table", () => {
  const tasks: Array<[TaskType, string]> = [
    ['simple_qa', 'gpt-4o-mini'],
    ['coding', 'gpt-4o'],
    ['long_context', 'claude-3-5-sonnet'],
    ['multimodal', 'gemini-pro'],
    ['creative_writing', 'gpt-4o'],
  ];
  for (const [task, expected] of tasks) {
    it(`${task} -> ${expected} under every priority (the only model with the strengths)`, () => {
      for (const priority of ['cost', 'speed', 'quality', 'balanced'] as const) {
        const decision = routed(route({ features: { task }, policy: { priority } }));
        assert.equal(decision.model, expected, `${priority}: ${decision.reason}`);
        assert.equal(decision.priority, priority);
        assert.equal(decision.task, task);
      }
    });
  }

  it('the priority orders the fallbacks (next-best by score)', () => {
    const chain = (priority: RoutingPolicy['priority']) => chainOf(routed(route({ policy: { priority } })));
    assert.deepEqual(chain('cost'), ['gpt-4o', 'gpt-4o-mini', 'gemini-pro']);
    assert.deepEqual(chain('speed'), ['gpt-4o', 'gpt-4o-mini', 'gemini-pro']);
    assert.deepEqual(chain('quality'), ['gpt-4o', 'claude-3-5-sonnet', 'gemini-pro']);
    assert.deepEqual(chain('balanced'), ['gpt-4o', 'gpt-4o-mini', 'gemini-pro']);
  });

  it('with equal strengths, each priority picks its own model', () => {
    const pick = (priority: RoutingPolicy['priority']) =>
      routed(
        route(
          { features: { task: 'creative_writing' }, policy: { priority, nearTop: 0 } },
          equalMatchModels(),
          observedLatency,
        ),
      ).model;
    assert.equal(pick('cost'), 'gpt-4o-mini');
    assert.equal(pick('speed'), 'gemini-pro');
    // gpt-4o and claude tie on quality 9: an exact tie is always shared by weight.
    const qualityPicks = new Set(
      Array.from(
        { length: 50 },
        (_, seed) =>
          routed(
            route(
              { features: { task: 'creative_writing' }, policy: { priority: 'quality', nearTop: 0 } },
              equalMatchModels(),
              observedLatency,
              seed,
            ),
          ).model,
      ),
    );
    assert.deepEqual([...qualityPicks].sort(), ['claude-3-5-sonnet', 'gpt-4o']);
    assert.equal(pick('balanced'), 'gpt-4o-mini');
  });

  it('balanced differs from quality (and from cost)', () => {
    const models = [
      makeSpec({
        name: 'premium',
        strengths: ['coding'],
        inputCostPer1k: 0.01,
        outputCostPer1k: 0.01,
        quality: 10,
      }),
      makeSpec({
        name: 'solid',
        strengths: ['coding'],
        inputCostPer1k: 0.0015,
        outputCostPer1k: 0.0015,
        quality: 9,
      }),
      makeSpec({
        name: 'budget',
        strengths: ['coding'],
        inputCostPer1k: 0.0005,
        outputCostPer1k: 0.0005,
        quality: 2,
      }),
    ];
    const health = healthOf({
      premium: { latencyMs: 1000 },
      solid: { latencyMs: 800 },
      budget: { latencyMs: 700 },
    });
    const pick = (priority: RoutingPolicy['priority']) =>
      routed(route({ policy: { priority, nearTop: 0 } }, models, health)).model;
    assert.equal(pick('quality'), 'premium');
    assert.equal(pick('balanced'), 'solid');
    assert.equal(pick('cost'), 'budget');
    assert.equal(pick('speed'), 'budget');
  });

  it('balanced weights shift the choice', () => {
    const pick = (balancedWeights: RoutingPolicy['balancedWeights']) =>
      routed(
        route(
          { features: { task: 'creative_writing' }, policy: { nearTop: 0, balancedWeights } },
          equalMatchModels(),
          observedLatency,
        ),
      ).model;
    assert.equal(pick({ cost: 1, speed: 1, quality: 1 }), 'gpt-4o-mini');
    assert.ok(['gpt-4o', 'claude-3-5-sonnet'].includes(pick({ cost: 0, speed: 0, quality: 1 })));
    assert.equal(pick({ cost: 0, speed: 1, quality: 0 }), 'gemini-pro');
  });

  it('speed uses observed latency when known, the first-token timeout before any data', () => {
    const models = equalMatchModels();
    const speed = {
      features: { task: 'creative_writing' as const },
      policy: { priority: 'speed' as const, nearTop: 0 },
    };
    assert.equal(routed(route(speed, models)).model, 'gpt-4o-mini'); // 15 s timeout, the shortest
    const slowMini = healthOf({ 'gpt-4o-mini': { latencyMs: 5000 }, 'gemini-pro': { latencyMs: 400 } });
    assert.equal(routed(route(speed, models, slowMini)).model, 'gemini-pro');
  });

  it('scores are sorted best first, matching models ahead of the rest, with normalised components', () => {
    const decision = routed(route({ policy: { priority: 'cost' } }));
    assert.deepEqual(
      decision.scores.map((score) => score.model),
      ['gpt-4o', 'gpt-4o-mini', 'gemini-pro', 'claude-3-5-sonnet'],
    );
    const mini = decision.scores.find((score) => score.model === 'gpt-4o-mini')!;
    assert.equal(mini.match, 0);
    assert.equal(mini.cost, 1);
    assert.equal(mini.speed, 1);
    assert.ok(Math.abs(mini.quality - 5 / 9) < 1e-9);
    const gpt4o = decision.scores[0]!;
    assert.equal(gpt4o.match, 1);
    assert.ok(Math.abs(gpt4o.cost - 0.0003 / 0.01) < 1e-6);
  });

  it('a model with no required strength never ranks above a matching one, even a degraded and dear one', () => {
    const models = [
      makeSpec({ name: 'matching', strengths: ['coding'], inputCostPer1k: 0.1, outputCostPer1k: 0.1 }),
      makeSpec({ name: 'cheap-general', strengths: [], inputCostPer1k: 0.0001, outputCostPer1k: 0.0001 }),
    ];
    const health = healthOf({ matching: { healthy: false, saturated: true } });
    const decision = routed(route({ policy: { priority: 'cost' } }, models, health));
    assert.equal(decision.model, 'matching');
    assert.deepEqual(decision.fallbacks, ['cheap-general']);
    assert.equal(decision.scores[0]!.health, 0.3 * 0.5);
  });

  it('match is the share of required strengths', () => {
    const models = [
      makeSpec({ name: 'half', strengths: ['coding'] }),
      makeSpec({ name: 'full', strengths: ['coding', 'complex_reasoning'] }),
    ];
    const decision = routed(route({ policy: { nearTop: 0 } }, models));
    assert.equal(decision.model, 'full');
    assert.equal(decision.scores[1]!.match, 0.5);
    assert.ok(Math.abs(decision.scores[1]!.score - decision.scores[0]!.score / 2) < 1e-9);
  });
});

describe('decideRoute: health', () => {
  it('skips a model whose breaker is open, with the reason', () => {
    const decision = routed(route({}, briefModels(), healthOf({ 'gpt-4o': { breaker: 'open' } })));
    assert.notEqual(decision.model, 'gpt-4o');
    assert.ok(!chainOf(decision).includes('gpt-4o'));
    assert.ok(!decision.scores.some((score) => score.model === 'gpt-4o'));
    assert.deepEqual(decision.excluded, [{ model: 'gpt-4o', reason: 'breaker open' }]);
    // The only model with coding strengths is gone: a zero-match model still serves.
    assert.equal(decision.model, 'gpt-4o-mini');
  });

  it('half-open and unhealthy models get the unhealthy factor; saturated halves it', () => {
    const models = [
      makeSpec({ name: 'a', strengths: ['coding'] }),
      makeSpec({ name: 'b', strengths: ['coding'] }),
    ];
    const health = (entry: Parameters<typeof healthOf>[0]) =>
      routed(route({ policy: { nearTop: 0 } }, models, healthOf(entry)));
    const halfOpen = health({ a: { breaker: 'half_open' } });
    assert.equal(halfOpen.model, 'b');
    assert.equal(halfOpen.scores.find((score) => score.model === 'a')!.health, 0.3);
    const unhealthy = health({ a: { healthy: false } });
    assert.equal(unhealthy.scores.find((score) => score.model === 'a')!.health, 0.3);
    const saturated = health({ b: { saturated: true } });
    assert.equal(saturated.model, 'a');
    assert.equal(saturated.scores.find((score) => score.model === 'b')!.health, 0.5);
    assert.deepEqual(saturated.excluded, []);
    const custom = routed(
      route({ policy: { unhealthyFactor: 0.6 } }, models, healthOf({ a: { healthy: false } })),
    );
    assert.equal(custom.scores.find((score) => score.model === 'a')!.health, 0.6);
  });
});

describe('decideRoute: hard filters', () => {
  it('filters models whose context window cannot hold prompt + output', () => {
    const decision = routed(route({ features: { task: 'long_context', promptTokens: 150_000 } }));
    assert.deepEqual(chainOf(decision), ['claude-3-5-sonnet']);
    assert.equal(decision.excluded.length, 3);
    assert.match(
      decision.excluded.find((entry) => entry.model === 'gpt-4o')!.reason,
      /context 128000 < 151024/,
    );
  });

  it('reserves min(max output, 1024) when the client sets no limit, else its limit', () => {
    const tight = route({ features: { promptTokens: 127_500 } });
    assert.deepEqual(chainOf(routed(tight)), ['claude-3-5-sonnet']);
    const small = routed(route({ features: { promptTokens: 127_500, maxOutputTokens: 100 } }));
    assert.equal(small.model, 'gpt-4o');
    const big = routed(route({ features: { promptTokens: 1000, maxOutputTokens: 150_000 } }));
    assert.equal(big.model, 'claude-3-5-sonnet');
  });

  it('filters models without vision for image requests', () => {
    const decision = routed(route({ features: { task: 'multimodal', hasImages: true } }));
    assert.equal(decision.model, 'gemini-pro');
    assert.deepEqual(decision.excluded, [{ model: 'gpt-4o-mini', reason: 'no vision' }]);
  });

  it('filters models without tools or JSON mode when the request needs them', () => {
    const models = briefModels().map((spec) =>
      spec.name === 'gpt-4o' ? { ...spec, capabilities: new Set(['chat', 'vision'] as const) } : spec,
    );
    const tools = routed(route({ features: { hasTools: true } }, models));
    assert.deepEqual(tools.excluded, [{ model: 'gpt-4o', reason: 'no tools' }]);
    const json = routed(route({ features: { wantsJson: true } }, models));
    assert.deepEqual(json.excluded, [{ model: 'gpt-4o', reason: 'no json mode' }]);
  });

  it('all excluded by the request itself -> NoRoute with requestProblem true (a 4xx)', () => {
    const decision = noRoute(route({ features: { promptTokens: 300_000 } }));
    assert.equal(decision.requestProblem, true);
    assert.equal(decision.excluded.length, 4);
    for (const model of ['gpt-4o', 'claude-3-5-sonnet', 'gemini-pro', 'gpt-4o-mini']) {
      assert.ok(decision.reason.includes(model), decision.reason);
    }
    assert.match(decision.reason, /claude-3-5-sonnet \(context 200000 < 301024 tokens needed\)/);
  });

  it('all breakers open -> NoRoute with requestProblem false (a 503)', () => {
    const allOpen = healthOf(
      Object.fromEntries(briefModels().map((spec) => [spec.name, { breaker: 'open' as const }])),
    );
    const decision = noRoute(route({}, briefModels(), allOpen));
    assert.equal(decision.requestProblem, false);
    assert.match(decision.reason, /gpt-4o \(breaker open\)/);
    assert.equal(decision.task, 'coding');
  });

  it('requestProblem is false when a model that could take the request is merely down', () => {
    const claudeDown = healthOf({ 'claude-3-5-sonnet': { breaker: 'open' } });
    const decision = noRoute(route({ features: { promptTokens: 150_000 } }, briefModels(), claudeDown));
    assert.equal(decision.requestProblem, false);
  });

  it('requestProblem is true when a down model could not take the request anyway', () => {
    const claudeDown = healthOf({ 'claude-3-5-sonnet': { breaker: 'open' } });
    const decision = noRoute(route({ features: { promptTokens: 300_000 } }, briefModels(), claudeDown));
    assert.equal(decision.requestProblem, true);
    assert.match(decision.reason, /claude-3-5-sonnet \(breaker open, context 200000/);
  });
});

describe('decideRoute: explicit models and rules', () => {
  const withFallbacks = () =>
    briefModels().map((spec) => (spec.name === 'gemini-pro' ? { ...spec, fallbacks: ['gpt-4o'] } : spec));

  it('an explicit model is used as asked, then its own fallbacks, and no other model', () => {
    const decision = routed(
      route({ features: { task: 'simple_qa' }, policy: { explicitModel: 'gemini-pro' } }, withFallbacks()),
    );
    assert.deepEqual(chainOf(decision), ['gemini-pro', 'gpt-4o']);
    assert.match(decision.reason, /as requested/);
    const alone = routed(
      route({ features: { task: 'simple_qa' }, policy: { explicitModel: 'gpt-4o-mini' } }),
    );
    assert.deepEqual(chainOf(alone), ['gpt-4o-mini'], 'no fallbacks configured: no other model');
  });

  it('an explicit model that is down hands over to its own fallbacks only', () => {
    const decision = routed(
      route(
        { features: { task: 'simple_qa' }, policy: { explicitModel: 'gemini-pro' } },
        withFallbacks(),
        healthOf({ 'gemini-pro': { breaker: 'open' } }),
      ),
    );
    assert.deepEqual(chainOf(decision), ['gpt-4o']);
    assert.match(decision.reason, /gemini-pro unavailable/);
    const none = noRoute(
      route(
        { features: { task: 'simple_qa' }, policy: { explicitModel: 'gpt-4o-mini' } },
        briefModels(),
        healthOf({ 'gpt-4o-mini': { breaker: 'open' } }),
      ),
    );
    assert.equal(none.requestProblem, false, 'down without fallbacks: a 503, never another model');
  });

  it('an unknown explicit model is a request problem', () => {
    const decision = noRoute(route({ policy: { explicitModel: 'gpt-9' } }));
    assert.equal(decision.requestProblem, true);
    assert.deepEqual(decision.excluded, [{ model: 'gpt-9', reason: 'not a configured model' }]);
  });

  it("the auto-picked primary's configured fallbacks come before next-best", () => {
    const models = briefModels().map((spec) =>
      spec.name === 'gpt-4o' ? { ...spec, fallbacks: ['claude-3-5-sonnet'] } : spec,
    );
    const decision = routed(route({ policy: { priority: 'cost' } }, models));
    assert.deepEqual(chainOf(decision), ['gpt-4o', 'claude-3-5-sonnet', 'gpt-4o-mini', 'gemini-pro']);
  });

  it('fallbackCount bounds the next-best models', () => {
    assert.deepEqual(routed(route({ policy: { fallbackCount: 0 } })).fallbacks, []);
    assert.equal(routed(route({ policy: { fallbackCount: 1 } })).fallbacks.length, 1);
    assert.equal(routed(route({ policy: { fallbackCount: 10 } })).fallbacks.length, 3);
  });

  it("rule-named models: only those, in the rule's order, still filtered", () => {
    const rule = { rule: 'docs', models: ['claude-3-5-sonnet', 'gemini-pro'] };
    const decision = routed(route({ features: { task: 'simple_qa' }, policy: { rule } }));
    assert.deepEqual(chainOf(decision), ['claude-3-5-sonnet', 'gemini-pro']);
    assert.equal(decision.rule, 'docs');
    assert.match(decision.reason, /rule docs/);
    const down = routed(
      route(
        { features: { task: 'simple_qa' }, policy: { rule } },
        briefModels(),
        healthOf({ 'claude-3-5-sonnet': { breaker: 'open' } }),
      ),
    );
    assert.deepEqual(chainOf(down), ['gemini-pro']);
    const allDown = healthOf({ 'claude-3-5-sonnet': { breaker: 'open' }, 'gemini-pro': { breaker: 'open' } });
    assert.equal(noRoute(route({ policy: { rule } }, briefModels(), allDown)).requestProblem, false);
  });

  it("rule exclude removes models with a reason; the priority is the policy's (resolved before routing)", () => {
    const rule = { rule: 'no-mini', exclude: ['gpt-4o-mini'], priority: 'quality' as const };
    const decision = routed(route({ features: { task: 'simple_qa' }, policy: { rule, priority: 'cost' } }));
    assert.notEqual(decision.model, 'gpt-4o-mini');
    assert.equal(decision.priority, 'cost', 'precedence is decided once, in gateway/plan.ts');
    assert.deepEqual(decision.excluded, [{ model: 'gpt-4o-mini', reason: 'excluded by no-mini' }]);
  });
});

describe('decideRoute: load balancing and determinism', () => {
  const twins = (weightA: number, weightB: number) => [
    makeSpec({ name: 'a', strengths: ['coding', 'complex_reasoning'], weight: weightA }),
    makeSpec({ name: 'b', strengths: ['coding', 'complex_reasoning'], weight: weightB }),
  ];

  function split(models: ModelSpec[], runs: number, policy: Partial<RoutingPolicy> = {}, seed = 2024) {
    const random = seededRandom(seed);
    const counts = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      const decision = decideRoute(features(), models, healthOf(), policyOf(policy), random);
      counts.set(decision.model!, (counts.get(decision.model!) ?? 0) + 1);
    }
    return counts;
  }

  it('splits near-top traffic by weight: 100/50 -> 2:1 over 10,000 seeded decisions', () => {
    const counts = split(twins(100, 50), 10_000);
    const shareA = (counts.get('a') ?? 0) / 10_000;
    // Binomial sd at p = 2/3, n = 10,000 is 0.0047: 1.5 points is over 3 sd.
    assert.ok(Math.abs(shareA - 2 / 3) < 0.015, `a got ${(shareA * 100).toFixed(1)}%`);
  });

  it('the other model becomes the first fallback', () => {
    const random = seededRandom(9);
    for (let i = 0; i < 50; i++) {
      const decision = routed(decideRoute(features(), twins(100, 100), healthOf(), policyOf(), random));
      assert.deepEqual([decision.model, ...decision.fallbacks].sort(), ['a', 'b']);
    }
  });

  it('models outside nearTop of the best never take the primary spot', () => {
    const models = [
      ...twins(100, 100),
      makeSpec({ name: 'slow', strengths: ['coding', 'complex_reasoning'], weight: 1000 }),
    ];
    const health = healthOf({ slow: { latencyMs: 7000 }, a: { latencyMs: 5000 }, b: { latencyMs: 5000 } });
    const random = seededRandom(5);
    for (let i = 0; i < 500; i++) {
      const decision = decideRoute(features(), models, health, policyOf({ priority: 'speed' }), random);
      assert.notEqual(decision.model, 'slow');
    }
  });

  it('nearTop 0 takes the top score (exact ties still share); weight 0 never takes the primary from a peer', () => {
    const counts = split(twins(100, 0), 1000);
    assert.equal(counts.get('a'), 1000);
    const top = split([twins(100, 100)[0]!, { ...twins(100, 100)[1]!, inputCostPer1k: 0.0011 }], 1000, {
      nearTop: 0,
    });
    assert.equal(top.get('a'), 1000);
  });

  it("the brief's quality tie (gpt-4o and claude at 9) shares traffic 100:80", () => {
    const counts = split(equalMatchModels(), 9000, { priority: 'quality' });
    const share = (counts.get('gpt-4o') ?? 0) / 9000;
    assert.ok(Math.abs(share - 100 / 180) < 0.02, `gpt-4o got ${(share * 100).toFixed(1)}%`);
    assert.equal((counts.get('gpt-4o') ?? 0) + (counts.get('claude-3-5-sonnet') ?? 0), 9000);
  });

  it('is deterministic for a given random source', () => {
    function sequence(seed: number) {
      const random = seededRandom(seed);
      return Array.from({ length: 200 }, () =>
        decideRoute(features(), twins(100, 100), healthOf(), policyOf(), random),
      );
    }
    assert.deepEqual(sequence(7), sequence(7));
    assert.notDeepEqual(sequence(7), sequence(8));
  });
});

describe('decideRoute: cost estimate and reason', () => {
  it("estimates prompt + expected output (client limit, else 256) at the primary's prices", () => {
    const explicit = routed(route({ features: { promptTokens: 1000, maxOutputTokens: 500 } }));
    assert.ok(Math.abs(explicit.estimatedCostUsd - (1 * 0.005 + 0.5 * 0.005)) < 1e-12);
    const implicit = routed(route({ features: { promptTokens: 1000 } }));
    assert.ok(Math.abs(implicit.estimatedCostUsd - (1 * 0.005 + 0.256 * 0.005)) < 1e-12);
  });

  it('gives one readable line: task, why, priority, score parts, fallbacks, exclusions', () => {
    const decision = routed(route({}, briefModels(), healthOf({ 'claude-3-5-sonnet': { breaker: 'open' } })));
    assert.equal(
      decision.reason,
      'task coding (code keyword "bug"), priority balanced: gpt-4o scored 0.25 (match 1.00, cost 0.03, speed 0.50, ' +
        'quality 1.00); fallbacks gpt-4o-mini, gemini-pro; excluded claude-3-5-sonnet (breaker open)',
    );
    assert.ok(!decision.reason.includes('\n'));
  });

  it('says when the primary came from the weighted pick', () => {
    const models = [
      makeSpec({ name: 'a', strengths: ['coding', 'complex_reasoning'], weight: 1 }),
      makeSpec({ name: 'b', strengths: ['coding', 'complex_reasoning'], weight: 1000 }),
    ];
    const decision = routed(route({ policy: { priority: 'quality' } }, models));
    assert.ok(['a', 'b'].includes(decision.model));
    assert.match(decision.reason, /, weighted pick among 2 near-top; /);
  });
});

describe("the brief's usage scenarios, end to end (analyze + decide)", () => {
  const analyze = createAnalyzer(analysisDefaults);
  const models = briefModels();
  const decide = (request: ChatRequest, priority: RoutingPolicy['priority']) =>
    routed(decideRoute(analyze(request), models, healthOf(), policyOf({ priority }), seededRandom(3)));
  const ask = (content: ChatRequest['messages'][number]['content']): ChatRequest => ({
    model: 'auto',
    messages: [{ role: 'user', content }],
  });

  it('"Python 列表推导式怎么写?" -> gpt-4o-mini (cheap) under cost and balanced', () => {
    for (const priority of ['cost', 'balanced'] as const) {
      const decision = decide(ask('Python 列表推导式怎么写?'), priority);
      assert.equal(decision.task, 'simple_qa');
      assert.equal(decision.model, 'gpt-4o-mini');
      assert.ok(decision.estimatedCostUsd < 0.0001);
    }
  });

  it('"帮我写一个 Redis 连接池的实现,要求线程安全" -> gpt-4o', () => {
    for (const priority of ['cost', 'speed', 'quality', 'balanced'] as const) {
      const decision = decide(ask('帮我写一个 Redis 连接池的实现,要求线程安全'), priority);
      assert.equal(decision.task, 'coding');
      assert.equal(decision.model, 'gpt-4o');
    }
  });

  it('"描述这张图片" with an image -> gemini-pro', () => {
    const request = ask([
      { type: 'text', text: '描述这张图片' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ]);
    for (const priority of ['cost', 'speed', 'quality', 'balanced'] as const) {
      const decision = decide(request, priority);
      assert.equal(decision.task, 'multimodal');
      assert.equal(decision.model, 'gemini-pro');
      assert.ok(!chainOf(decision).includes('gpt-4o-mini'));
    }
  });
});
