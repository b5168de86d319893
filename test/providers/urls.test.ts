import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unfetchableReason } from '../../src/lib/urls.ts';
import { toAnthropicRequest } from '../../src/providers/anthropic/convert-request.ts';
import { toGeminiRequest } from '../../src/providers/google/convert-request.ts';
import type { ChatRequest } from '../../src/types/openai.ts';
import { makeSpec } from '../helpers/spec.ts';

const withImage = (url: string): ChatRequest => ({
  model: 'm',
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
});

const refused = [
  'file:///etc/passwd',
  'gopher://127.0.0.1:6379/_FLUSHALL',
  'http://169.254.169.254/latest/meta-data/',
  'http://127.0.0.1:4000/admin/keys',
  'http://[::1]/x.png',
  'http://[fe80::1]/x.png',
  'http://10.0.0.8/x.png',
  'http://localhost/x.png',
  'ftp://example.com/x.png',
];

describe('URLs an upstream may be asked to fetch', () => {
  it('only public http(s) (and gs:// where the provider reads Cloud Storage)', () => {
    for (const url of refused) assert.ok(unfetchableReason(url), `${url} is refused`);
    assert.equal(unfetchableReason('https://upload.wikimedia.org/cat.png'), undefined);
    assert.equal(unfetchableReason('gs://bucket/cat.png', ['gs:']), undefined);
    assert.ok(unfetchableReason('gs://bucket/cat.png'));
  });

  it('the Gemini and Anthropic adapters refuse them with a 400-kind error before sending anything', () => {
    for (const url of refused) {
      assert.throws(
        () => toGeminiRequest(withImage(url)),
        (error: { kind: string }) => error.kind === 'invalid_request',
        `gemini: ${url}`,
      );
      assert.throws(
        () => toAnthropicRequest(withImage(url), makeSpec({ provider: 'anthropic' }), false),
        (error: { kind: string }) => error.kind === 'invalid_request',
        `anthropic: ${url}`,
      );
    }
    assert.doesNotThrow(() => toGeminiRequest(withImage('https://example.com/cat.png')));
  });
});
