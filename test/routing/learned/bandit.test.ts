import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../../src/lib/random.ts';
import { sampleBeta, ThompsonBandit } from '../../../src/routing/learned/bandit.ts';

describe('ThompsonBandit', () => {
  it('converges to the better arm on a synthetic stream', () => {
    const bandit = new ThompsonBandit({ explorationShare: 0.2 });
    const random = seededRandom(1);
    const quality: Record<string, number> = { cheap: 0.55, strong: 0.75 };
    // The router prefers "cheap" (listed first); feedback says "strong" answers better.
    let lateStrong = 0;
    for (let step = 0; step < 4000; step++) {
      const { model } = bandit.choose(['cheap', 'strong'], 'coding', random);
      bandit.update('coding', model, random() < quality[model]! ? 1 : 0);
      if (step >= 3000 && model === 'strong') lateStrong++;
    }
    assert.ok(bandit.mean('coding', 'strong') > bandit.mean('coding', 'cheap'));
    assert.ok(Math.abs(bandit.mean('coding', 'strong') - 0.75) < 0.05);
    assert.ok(lateStrong / 1000 > 0.85, `strong chosen ${lateStrong} of the last 1000`);
    // Another task has its own arms: no evidence there, so the router's order stands.
    assert.equal(bandit.choose(['cheap', 'strong'], 'simple_qa', () => 0.99).model, 'cheap');
  });

  it('explores about the configured share', () => {
    const bandit = new ThompsonBandit({ explorationShare: 0.1 });
    const random = seededRandom(7);
    let explored = 0;
    for (let step = 0; step < 20000; step++) {
      const choice = bandit.choose(['a', 'b', 'c'], 'task', random);
      if (choice.explored) explored++;
      bandit.update('task', choice.model, choice.model === 'a' ? 0.6 : 0.5);
    }
    assert.ok(Math.abs(explored / 20000 - 0.1) < 0.01, `explored ${explored / 20000}`);
    // A single candidate is never an exploration.
    assert.equal(bandit.choose(['only'], 'task', () => 0).explored, false);
  });

  it('keeps its state as a plain object that survives JSON, and decays old evidence', () => {
    const bandit = new ThompsonBandit({ decay: 0.5 });
    bandit.update('qa', 'm', 1);
    bandit.update('qa', 'm', 1);
    const copy = new ThompsonBandit({ decay: 0.5 }, JSON.parse(JSON.stringify(bandit.state)));
    assert.deepEqual(copy.posterior('qa', 'm'), bandit.posterior('qa', 'm'));
    // Prior 1/1; after 1: alpha 2; after the second, (2 - 1) * 0.5 + 1 + 1 = 2.5.
    assert.deepEqual(bandit.posterior('qa', 'm'), { alpha: 2.5, beta: 1, updates: 2 });
    assert.throws(() => bandit.update('qa', 'm', 1.5), /0\.\.1/);
    assert.throws(() => new ThompsonBandit({ explorationShare: 2 }), /explorationShare/);
  });

  it('same seed, same choices', () => {
    const run = () => {
      const bandit = new ThompsonBandit({ explorationShare: 0.5 });
      const random = seededRandom(3);
      return Array.from({ length: 200 }, () => {
        const { model } = bandit.choose(['x', 'y'], 't', random);
        bandit.update('t', model, random() < 0.5 ? 1 : 0);
        return model;
      }).join('');
    };
    assert.equal(run(), run());
  });
});

describe('sampleBeta', () => {
  it('has the Beta distribution mean and variance', () => {
    const random = seededRandom(11);
    for (const [alpha, beta] of [
      [2, 5],
      [0.5, 0.5],
      [30, 10],
    ] as const) {
      const draws = Array.from({ length: 20000 }, () => sampleBeta(alpha, beta, random));
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
      const variance = draws.reduce((sum, x) => sum + (x - mean) ** 2, 0) / draws.length;
      const expectedMean = alpha / (alpha + beta);
      const expectedVariance = (alpha * beta) / ((alpha + beta) ** 2 * (alpha + beta + 1));
      assert.ok(Math.abs(mean - expectedMean) < 0.01, `Beta(${alpha}, ${beta}) mean ${mean}`);
      assert.ok(
        Math.abs(variance - expectedVariance) < 0.1 * expectedVariance + 1e-4,
        `variance ${variance}`,
      );
      assert.ok(draws.every((x) => x >= 0 && x <= 1));
    }
  });
});
