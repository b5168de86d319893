import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConfigError, normalizeConfig } from '../../src/config/load.ts';
import { providerNames, providers } from '../../src/providers/registry.ts';

describe('provider registry', () => {
  it('names every adapter once, each with its default capabilities', () => {
    assert.deepEqual([...providerNames].sort(), ['anthropic', 'google', 'openai', 'simulated']);
    for (const name of providerNames) {
      const module = providers[name]!;
      assert.equal(module.name, name);
      assert.ok(module.defaultCapabilities.includes('streaming'), `${name} streams`);
    }
  });

  it('the config accepts exactly the registered names and takes capabilities from the module', () => {
    const config = normalizeConfig(
      { models: { a: { provider: 'anthropic' }, b: { provider: 'openai' } } },
      {},
    );
    const [a, b] = config.models;
    assert.ok(a!.capabilities.has('prefill') && a!.capabilities.has('chat'));
    assert.ok(!b!.capabilities.has('prefill'));
    assert.throws(
      () => normalizeConfig({ models: { x: { provider: 'acme' } } }, {}),
      (error: ConfigError) =>
        error.problems.some((line) =>
          /models\.x\.provider: expected one of: openai, anthropic, google, simulated/.test(line),
        ),
    );
  });

  it("a provider's own options are validated by its schema, with config paths", () => {
    assert.throws(
      () => normalizeConfig({ models: { s: { provider: 'simulated', simulate: { ttft_ms: -1 } } } }, {}),
      (error: ConfigError) => error.problems.some((line) => line.startsWith('models.s.simulate.ttft_ms:')),
    );
    assert.throws(
      () => normalizeConfig({ models: { o: { provider: 'openai', simulate: { ttft_ms: 1 } } } }, {}),
      (error: ConfigError) =>
        error.problems.some(
          (line) => line === 'models.o.simulate: only simulated models take simulation settings',
        ),
    );
  });
});
