import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/default.ts';
import { ConfigError, normalizeConfig, parseConfigText } from '../../src/config/load.ts';

const env = { AI302_API_KEY: 'sk-302-secret' };

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

describe('config loading', () => {
  it("accepts the design brief's model table as is", () => {
    const config = parseConfigText(readFileSync('examples/design-brief.yaml', 'utf8'), env);
    assert.deepEqual(
      config.models.map((spec) => spec.name),
      ['gpt-4o', 'claude-3-5-sonnet', 'gemini-pro', 'gpt-4o-mini'],
    );
    const claude = config.models.find((spec) => spec.name === 'claude-3-5-sonnet')!;
    assert.equal(claude.contextWindow, 200_000);
    assert.equal(claude.timeouts.firstTokenMs, 45_000);
    assert.equal(claude.apiKey, 'sk-302-secret');
    const gpt = config.models.find((spec) => spec.name === 'gpt-4o')!;
    assert.equal(gpt.breaker.failureThreshold, 5);
    assert.equal(gpt.breaker.recoveryTimeoutMs, 30_000);
    assert.equal(gpt.inputCostPer1k, 0.005);
    assert.equal(gpt.upstreamModel, 'gpt-4o');
    // A model without a breaker section gets defaults (the brief's code crashed here).
    assert.equal(config.models.find((spec) => spec.name === 'gemini-pro')!.breaker.failureThreshold, 5);
  });

  it('reads JSON too', () => {
    const config = parseConfigText(JSON.stringify({ models: { a: { provider: 'simulated' } } }), {});
    assert.equal(config.models[0]?.name, 'a');
  });

  it('reports every error as path: message, at once', () => {
    const problems = problemsOf(() =>
      parseConfigText(
        `
models:
  gpt-4o:
    provider: openai
    timeout: -3
    strenghts: [coding]
  other:
    provider: nope
routing:
  default_priority: fastest
extra: 1
`,
        {},
      ),
    );
    assert.ok(problems.includes('models.gpt-4o.timeout: expected a positive number'), problems.join('\n'));
    assert.ok(problems.includes('models.gpt-4o.strenghts: unknown field'), problems.join('\n'));
    assert.ok(
      problems.some((line) =>
        line.startsWith('models.other.provider: expected one of: openai, anthropic, google, simulated'),
      ),
    );
    assert.ok(problems.some((line) => line.startsWith('routing.default_priority:')));
    assert.ok(problems.includes('extra: unknown field'));
  });

  it('expands ${VAR} and reports a missing variable without printing values', () => {
    const problems = problemsOf(() =>
      parseConfigText('models:\n  a:\n    provider: openai\n    api_key: ${MISSING_KEY}\n', {}),
    );
    assert.deepEqual(problems, ['models.a.api_key: environment variable MISSING_KEY is not set']);
    const config = parseConfigText(
      'models:\n  a:\n    provider: openai\n    api_key: ${KEY}\n    base_url: ${BASE:-http://127.0.0.1:9/v1}\n',
      { KEY: 'sk-x' },
    );
    assert.equal(config.models[0]?.apiKey, 'sk-x');
    assert.equal(config.models[0]?.baseUrl, 'http://127.0.0.1:9/v1');
  });

  it('never echoes a secret in an error', () => {
    const problems = problemsOf(() =>
      parseConfigText(
        'models:\n  a:\n    provider: openai\n    api_key: 12345\n    timeout: "sk-very-secret"\n',
        {},
      ),
    );
    assert.ok(problems.length > 0);
    assert.ok(
      problems.every((line) => !line.includes('sk-very-secret')),
      problems.join('\n'),
    );
  });

  it('checks references between fields', () => {
    const problems = problemsOf(() =>
      normalizeConfig(
        {
          models: { a: { provider: 'simulated', fallbacks: ['ghost'] } },
          routing: { rules: [{ match: { regex: '(' }, model: 'ghost' }] },
        },
        {},
      ),
    );
    assert.ok(problems.includes('models.a.fallbacks.0: unknown model "ghost"'), problems.join('\n'));
    assert.ok(
      problems.some((line) => line.startsWith('routing.rules.0.match.regex:')),
      problems.join('\n'),
    );
    assert.ok(problems.includes('routing.rules.0.model: unknown model "ghost"'), problems.join('\n'));
  });

  it('needs at least one model', () => {
    assert.deepEqual(
      problemsOf(() => normalizeConfig({ models: {} }, {})),
      ['models: at least one model is required'],
    );
    assert.ok(problemsOf(() => normalizeConfig({}, {})).some((line) => line.startsWith('models:')));
  });
});

describe('embedded default', () => {
  it('is the six brief models, simulated, with no key in the environment', () => {
    const { config, realModels } = defaultConfig({});
    const normalized = normalizeConfig(config, {});
    assert.deepEqual(normalized.models.map((spec) => spec.name).sort(), [
      'claude-3-5-sonnet',
      'gemini-pro',
      'gpt-4o',
      'gpt-4o-mini',
      'llama-3',
      'mistral',
    ]);
    assert.ok(normalized.models.every((spec) => spec.provider === 'simulated'));
    assert.deepEqual(realModels, []);
  });

  it('with a provider key set, only the real models serve: no simulated model, and fallbacks among the real ones', () => {
    const envWithKeys = { OPENAI_API_KEY: 'sk-o', ANTHROPIC_API_KEY: 'sk-a' };
    const { config, realModels } = defaultConfig(envWithKeys);
    const normalized = normalizeConfig(config, envWithKeys);
    const byName = new Map(normalized.models.map((spec) => [spec.name, spec]));
    assert.deepEqual([...byName.keys()].sort(), ['claude-3-5-sonnet', 'gpt-4o', 'gpt-4o-mini']);
    assert.ok(
      normalized.models.every((spec) => spec.provider !== 'simulated'),
      'real users never get filler text',
    );
    assert.equal(byName.get('gpt-4o')?.provider, 'openai');
    assert.equal(byName.get('claude-3-5-sonnet')?.provider, 'anthropic');
    assert.deepEqual(byName.get('gpt-4o')?.fallbacks, ['claude-3-5-sonnet']);
    assert.deepEqual(byName.get('gpt-4o-mini')?.fallbacks, [], 'no fallback to a model that is not there');
    assert.equal(byName.get('gpt-4o')?.providerOptions, undefined);
    assert.deepEqual(realModels.sort(), [
      'claude-3-5-sonnet via Anthropic',
      'gpt-4o via OpenAI',
      'gpt-4o-mini via OpenAI',
    ]);
  });

  it('the simulated pool has fallbacks for every model', () => {
    const normalized = normalizeConfig(defaultConfig({}).config, {});
    for (const spec of normalized.models) assert.ok(spec.fallbacks.length > 0, `${spec.name} has fallbacks`);
  });

  it('routes everything through 302.ai with one aggregator key', () => {
    const envWithKey = { AI302_API_KEY: 'sk-302' };
    const normalized = normalizeConfig(defaultConfig(envWithKey).config, envWithKey);
    const gemini = normalized.models.find((spec) => spec.name === 'gemini-pro')!;
    assert.equal(gemini.provider, 'google');
    assert.equal(gemini.baseUrl, 'https://api.302.ai/gemini/v1beta');
  });
});
