/**
 * The learned router in the gateway (issue 15): `routing.learned` loads a router file, every
 * labelled model gets its predicted P(good answer) for the prompt, and the decision follows it
 * within the quality floor; decisions are deterministic for a file and a seed; feedback becomes
 * the bandit's evidence in the store.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, normalizeConfig } from '../../src/config/load.ts';
import type { RawConfig } from '../../src/config/schema.ts';
import { createGateway, type Gateway } from '../../src/gateway/index.ts';
import { loadQualityModel } from '../../src/routing/learned/index.ts';
import type { RouteDecision } from '../../src/routing/types.ts';
import { stateKeys } from '../../src/state/keys.ts';
import { fastSimulated } from '../helpers/gateway.ts';

const routerFile = new URL('../../routers/mmlu-mixtral-gpt4.json', import.meta.url);
const router = loadQualityModel(readFileSync(routerFile, 'utf8'));
const [weakLabel, strongLabel] = router.labels as [string, string];

const models = {
  frontier: fastSimulated({
    input_cost_per_1k: 0.0025,
    output_cost_per_1k: 0.01,
    strengths: ['complex_reasoning', 'coding'],
  }),
  mini: fastSimulated({ input_cost_per_1k: 0.00015, output_cost_per_1k: 0.0006, strengths: [] }),
};

function config(overrides: Partial<RawConfig['routing']> = {}): RawConfig {
  return {
    models,
    routing: {
      learned: { router: routerFile.pathname, labels: { frontier: strongLabel, mini: weakLabel } },
      ...overrides,
    },
    observability: { log_level: 'silent', request_log: { enabled: false } },
  } as RawConfig;
}

const ask = (content: string, model = 'auto') => ({ model, messages: [{ role: 'user' as const, content }] });

// MMLU-style questions; the router's gain (P(strong) - P(weak)) differs between them.
const prompts = [
  'Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.',
  'What is the capital of Australia?',
  'Which of the following is a renewable resource? A. coal B. wind C. oil D. gas',
  'Let A be a real 2x2 matrix. Which of the following statements must be true? I. All of the entries of A^2 are nonnegative. II. The determinant of A^2 is nonnegative.',
  'Statement 1 | Every group of order 42 has a normal subgroup of order 7. Statement 2 | Every group of order 42 has a normal subgroup of order 8.',
  'Which of the following best describes the structure that collects urine in the body? A. Bladder B. Kidney C. Ureter D. Urethra',
  'A 0.217 g sample of HgO (molar mass = 217 g) reacts with excess iodide ions according to the reaction shown above. Titration of the resulting solution requires how many mL of 0.10 M HCl to reach equivalence point?',
  'In the 1930s, which country pioneered the use of the welfare state?',
];

function withGateway<T>(raw: RawConfig, run: (gateway: Gateway) => Promise<T> | T, seed = 5): Promise<T> {
  const gateway = createGateway({ config: raw, seed });
  return Promise.resolve(run(gateway)).finally(() => gateway.close());
}

describe('the learned router in the gateway', () => {
  it('predicts for every labelled model and routes by the quality floor', async () => {
    await withGateway(config({ default_priority: 'cost' }), (gateway) => {
      const primaries = new Set<string>();
      for (const prompt of prompts) {
        const decision = gateway.route(ask(prompt)) as RouteDecision;
        const [pWeak, pStrong] = router.predict(prompt) as unknown as [number, number];
        const scores = Object.fromEntries(decision.scores.map((score) => [score.model, score]));
        assert.equal(scores.frontier!.predicted, pStrong);
        assert.equal(scores.mini!.predicted, pWeak);
        // cost: the cheap model unless it is predicted more than 0.1 (the default floor) below the best.
        const expected = pWeak >= Math.max(pWeak, pStrong) - 0.1 ? 'mini' : 'frontier';
        assert.equal(decision.model, expected, `${prompt}: P(weak) ${pWeak}, P(strong) ${pStrong}`);
        assert.match(decision.reason, /predicted \d\.\d\d/);
        primaries.add(decision.model);
      }
      assert.deepEqual([...primaries].sort(), ['frontier', 'mini'], 'both branches are exercised');
    });
  });

  it('a named model gets no predictions (it is answered by itself and its fallbacks)', async () => {
    await withGateway(config(), (gateway) => {
      const decision = gateway.route(ask(prompts[1]!, 'frontier')) as RouteDecision;
      assert.equal(decision.model, 'frontier');
      assert.ok(decision.scores.every((score) => score.predicted === undefined));
    });
  });

  it('tasks limits where it predicts', async () => {
    await withGateway(
      config({
        learned: {
          router: routerFile.pathname,
          labels: { frontier: strongLabel, mini: weakLabel },
          tasks: ['coding'],
        },
      }),
      (gateway) => {
        const decision = gateway.route(ask(prompts[1]!)) as RouteDecision;
        assert.equal(decision.task, 'simple_qa');
        assert.ok(decision.scores.every((score) => score.predicted === undefined));
      },
    );
  });

  it('is deterministic for a router file and a seed, exploration included', async () => {
    const raw = config({ exploration: 0.3 });
    const run = (seed: number) =>
      withGateway(
        raw,
        (gateway) =>
          [...prompts, ...prompts, ...prompts].map((prompt) => {
            const decision = gateway.route(ask(prompt)) as RouteDecision;
            return `${decision.model}${decision.explored ? '*' : ''}`;
          }),
        seed,
      );
    const first = await run(11);
    assert.deepEqual(await run(11), first);
    assert.ok(
      first.some((entry) => entry.endsWith('*')),
      'some decisions explored',
    );
    assert.ok(
      first.some((entry) => !entry.endsWith('*')),
      'most did not',
    );
  });

  it('refuses a config whose router or labels do not fit, naming the field', () => {
    const problems = (raw: RawConfig) => {
      try {
        normalizeConfig(raw, {});
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems.join('\n');
      }
      assert.fail('expected a ConfigError');
    };
    assert.match(
      problems(config({ learned: { router: routerFile.pathname, labels: { frontier: 'gpt-5' } } })),
      /routing\.learned\.labels\.frontier: "gpt-5" is not a label of the router/,
    );
    assert.match(
      problems(config({ learned: { router: routerFile.pathname, labels: { nobody: weakLabel } } })),
      /routing\.learned\.labels\.nobody: unknown model "nobody"/,
    );
    assert.match(
      problems(config({ learned: { router: '/nonexistent/router.json', labels: {} } })),
      /routing\.learned\.router: cannot read \/nonexistent\/router\.json \(ENOENT\)/,
    );
    assert.match(
      problems(
        config({ learned: { router: new URL('../../package.json', import.meta.url).pathname, labels: {} } }),
      ),
      /routing\.learned\.router: .*package\.json: /,
    );
  });

  it('a bare router name is a packaged router', () => {
    const normalized = normalizeConfig(
      config({ learned: { router: 'mmlu-mixtral-gpt4', labels: { mini: weakLabel } } }),
      {},
    );
    assert.deepEqual(normalized.learned?.model.labels, router.labels);
    assert.equal(normalized.learned?.qualityFloor, 0.1);
  });
});

describe('feedback', () => {
  it('counts a score once in the bandit evidence, for the key that made the request only', async () => {
    await withGateway(config({ default_priority: 'cost' }), async (gateway) => {
      const { meta } = await gateway.chat(ask(prompts[1]!), { clientKeyId: 'key-a' });
      assert.equal(meta.model, 'mini');
      assert.deepEqual(await gateway.feedback(meta.requestId, 1, { clientKeyId: 'key-b' }), {
        status: 'unknown',
      });
      assert.deepEqual(await gateway.feedback('req_nonexistent', 1, { clientKeyId: 'key-a' }), {
        status: 'unknown',
      });
      const first = await gateway.feedback(meta.requestId, 0.25, { clientKeyId: 'key-a' });
      assert.deepEqual(first, { status: 'counted', target: { task: meta.task, model: 'mini' } });
      const second = await gateway.feedback(meta.requestId, 1, { clientKeyId: 'key-a' });
      assert.equal(second.status, 'rescored');
      assert.equal(await gateway.store.get(stateKeys.banditGood(meta.task, 'mini')), 0.25);
      assert.equal(await gateway.store.get(stateKeys.banditBad(meta.task, 'mini')), 0.75);
    });
  });

  it('a failed request cannot be scored', async () => {
    const raw = config();
    (raw.models as Record<string, unknown>).mini = fastSimulated({ simulate: { error_rate: 1, ttft_ms: 1 } });
    (raw.models as Record<string, unknown>).frontier = fastSimulated({
      simulate: { error_rate: 1, ttft_ms: 1 },
    });
    await withGateway(raw, async (gateway) => {
      let requestId: string | undefined;
      gateway.events.subscribe({ requestFinished: (summary) => (requestId = summary.requestId) });
      await assert.rejects(gateway.chat(ask(prompts[1]!)));
      assert.ok(requestId);
      assert.equal((await gateway.feedback(requestId, 1)).status, 'unknown');
    });
  });
});
