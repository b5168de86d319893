/**
 * The o200k tables (~60 MB resident) load only when an exact count is needed (issue 14): a gateway
 * answering short prompts never loads them, nor does a stream cut short; a prompt near a threshold does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGateway } from '../../src/gateway/index.ts';
import type { RequestSummary } from '../../src/observability/events.ts';
import { countTokens, encoderLoaded, estimateTokens } from '../../src/routing/tokenizer.ts';
import { fastSimulated } from '../helpers/gateway.ts';
import { waitFor } from '../observability/helpers.ts';

type Gateway = ReturnType<typeof createGateway>;

/** A stream the client leaves after its first text: what it got, and the request's summary. */
async function cutStream(gateway: Gateway): Promise<{ delivered: string; summary: RequestSummary }> {
  const finished: RequestSummary[] = [];
  const unsubscribe = gateway.events.subscribe({ requestFinished: (summary) => finished.push(summary) });
  try {
    const cut = await gateway.chatStream({
      model: 'auto',
      stream: true,
      messages: [{ role: 'user', content: 'Write a long story about a lighthouse keeper' }],
    });
    let delivered = '';
    for await (const chunk of cut.chunks) {
      delivered += chunk.choices[0]?.delta.content ?? '';
      if (delivered.length > 0) break;
    }
    await waitFor(() => finished.length === 1, "the cut stream's summary");
    return { delivered, summary: finished[0]! };
  } finally {
    unsubscribe();
  }
}

describe('lazy tokenizer tables', () => {
  it('stay unloaded for short prompts and load for one near the simple_qa threshold', async () => {
    const gateway = createGateway({
      config: {
        models: { only: fastSimulated() },
        observability: { log_level: 'silent', request_log: { enabled: false } },
      },
      seed: 1,
    });
    try {
      for (const content of ['What is the capital of Australia?', 'Write a haiku about autumn', 'hi']) {
        await gateway.chat({ model: 'auto', messages: [{ role: 'user', content }] });
        const handle = await gateway.chatStream({
          model: 'auto',
          stream: true,
          messages: [{ role: 'user', content }],
        });
        for await (const _chunk of handle.chunks);
      }
      assert.equal(encoderLoaded(), false, 'short prompts were estimated');

      // A client that leaves mid-stream: the upstream never reported usage, so the delivered text
      // is counted, by the estimate under `token_count: auto`, which needs no tables either.
      const { delivered, summary } = await cutStream(gateway);
      assert.ok(delivered.length > 0);
      assert.equal(summary.usageEstimated, true, 'usage the upstream did not report is flagged');
      assert.equal(summary.completionTokens, estimateTokens(delivered), 'counted by the estimate');
      assert.equal(encoderLoaded(), false, 'a stream cut short did not load the tables');
      const near = `${'The committee reviewed every budget line again. '.repeat(53)}Why?`;
      const decision = gateway.route({ model: 'auto', messages: [{ role: 'user', content: near }] });
      assert.equal(encoderLoaded(), true, 'a prompt near 500 tokens was counted exactly');
      assert.ok(decision.model !== undefined);
    } finally {
      await gateway.close();
    }
  });

  // After the test above: it needs the tables unloaded, this one loads them.
  it('count a cut stream with the tokenizer under token_count: exact', async () => {
    const gateway = createGateway({
      config: {
        models: { only: fastSimulated() },
        routing: { analysis: { token_count: 'exact' } },
        observability: { log_level: 'silent', request_log: { enabled: false } },
      },
      seed: 1,
    });
    try {
      const { delivered, summary } = await cutStream(gateway);
      assert.ok(delivered.length > 0);
      assert.equal(summary.usageEstimated, true);
      const { exact_count_chars: exactChars } = gateway.config.routing.analysis;
      assert.equal(summary.completionTokens, countTokens(delivered, { exactChars }).tokens);
    } finally {
      await gateway.close();
    }
  });
});
