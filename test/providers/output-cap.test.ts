/** `max_output_tokens` in the config reaches every provider when the client sets no limit (issue 10.12). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpClient } from '../../src/providers/http.ts';
import { systemClock } from '../../src/resilience/clock.ts';
import { guardedClient } from '../helpers/client.ts';
import { type FakeUpstream, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { callOptions, makeSpec } from '../helpers/spec.ts';

describe('configured output cap', () => {
  let upstream: FakeUpstream;
  const http = createHttpClient();
  before(async () => {
    upstream = await startFakeUpstream((request, response) => {
      if (request.path.includes('generateContent')) {
        sendJson(response, 200, {
          candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }],
        });
      } else {
        sendJson(response, 200, {
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: 'm',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        });
      }
    });
  });
  after(async () => {
    await upstream.close();
    await http.close();
  });

  const deps = { http, clock: systemClock, nowSeconds: () => 1, newId: (prefix: string) => `${prefix}-1` };
  const ask = (extra: Record<string, unknown> = {}) => ({
    model: 'm',
    messages: [{ role: 'user' as const, content: 'hi' }],
    ...extra,
  });
  const sent = () => upstream.requests.at(-1)!.json as Record<string, any>;

  it('openai gets max_tokens from the config, unless the client set a limit or none is configured', async () => {
    const capped = guardedClient(
      makeSpec({ baseUrl: `${upstream.url}/v1`, configuredOutputTokens: 321, maxOutputTokens: 321 }),
      deps,
    );
    await capped.chat(ask(), callOptions());
    assert.equal(sent().max_tokens, 321);
    await capped.chat(ask({ max_completion_tokens: 50 }), callOptions());
    assert.equal(sent().max_tokens, undefined);
    assert.equal(sent().max_completion_tokens, 50);
    await guardedClient(makeSpec({ baseUrl: `${upstream.url}/v1` }), deps).chat(ask(), callOptions());
    assert.equal(sent().max_tokens, undefined, 'nothing configured: the provider default applies');
  });

  it('google gets generationConfig.maxOutputTokens from the config', async () => {
    const capped = guardedClient(
      makeSpec({
        provider: 'google',
        baseUrl: upstream.url,
        configuredOutputTokens: 222,
        maxOutputTokens: 222,
      }),
      deps,
    );
    await capped.chat(ask(), callOptions());
    assert.equal(sent().generationConfig?.maxOutputTokens, 222);
  });
});
