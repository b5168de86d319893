/**
 * The o200k tables (~60 MB resident) load only when an exact count is needed (issue 14): a gateway
 * answering short prompts never loads them; a prompt near a threshold does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGateway } from '../../src/gateway/index.ts';
import { encoderLoaded } from '../../src/routing/tokenizer.ts';
import { fastSimulated } from '../helpers/gateway.ts';

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
      const near = `${'The committee reviewed every budget line again. '.repeat(53)}Why?`;
      const decision = gateway.route({ model: 'auto', messages: [{ role: 'user', content: near }] });
      assert.equal(encoderLoaded(), true, 'a prompt near 500 tokens was counted exactly');
      assert.ok(decision.model !== undefined);
    } finally {
      await gateway.close();
    }
  });
});
