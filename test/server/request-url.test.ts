/**
 * The request URL without `new URL` in the common case (issue 14): for every input, the same
 * pathname and query parameters as the URL parser gives, since routing and authorisation read them.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import { requestUrl } from '../../src/server/routes.ts';
import { startTestGateway } from '../helpers/gateway.ts';

const parsed = (raw: string) => {
  try {
    return new URL(raw, 'http://gateway');
  } catch {
    return undefined;
  }
};
const same = (raw: string) => {
  const fast = requestUrl(raw);
  const slow = parsed(raw);
  if (!slow) {
    // A target the parser rejects: its raw path (no route has one like it), no parameters.
    assert.equal(fast.pathname, raw.split('?')[0], JSON.stringify(raw));
    assert.equal([...fast.searchParams].length, 0);
    return;
  }
  assert.equal(fast.pathname, slow.pathname, JSON.stringify(raw));
  assert.deepEqual([...fast.searchParams], [...slow.searchParams], JSON.stringify(raw));
};

describe('requestUrl', () => {
  it('reads a plain path and its query as the URL parser does', () => {
    const fast = requestUrl('/v1/requests?limit=5&model=a%20b');
    assert.equal(fast.pathname, '/v1/requests');
    assert.equal(fast.searchParams.get('model'), 'a b');
    for (const raw of [
      '/',
      '/v1/chat/completions',
      '/v1/models/gpt-4o:latest',
      '/a//b/',
      '/x?',
      '/x?a=1#frag',
    ])
      same(raw);
  });

  it('leaves to the parser what it would change: dot segments, escapes, backslashes, absolute form', () => {
    for (const raw of [
      '/v1/../admin/keys',
      '/v1/./chat/completions',
      '/v1/%2e%2e/admin',
      '/v1/%2E./admin',
      '/admin\\keys',
      '/v1/chat completions',
      '/v1/caf\u00e9',
      'http://other.example/v1/chat/completions?x=1',
      '*',
      '/v1/models/a"b<c>',
      '/a/b#c/../d',
      '/a/..',
      '/a/.',
      '//++',
      '//host/v1/chat/completions',
    ])
      same(raw);
  });

  it('agrees with the parser on 20,000 random paths of tricky characters', () => {
    const alphabet = [
      '/',
      '.',
      '%',
      '2',
      'e',
      'E',
      '\\',
      '?',
      '#',
      '&',
      '=',
      'a',
      'Z',
      '~',
      ' ',
      '"',
      ':',
      '@',
      '+',
      '\u00e9',
    ];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let n = 0; n < 20_000; n++) {
      let raw = '/';
      const length = Math.floor(next() * 12);
      for (let i = 0; i < length; i++) raw += alphabet[Math.floor(next() * alphabet.length)];
      same(raw);
    }
  });

  it('a target the URL parser rejects gets a 404 in OpenAI shape, and the server keeps serving', async () => {
    const gateway = await startTestGateway({ models: { alpha: { provider: 'simulated' } } });
    try {
      const { port } = new URL(gateway.url);
      for (const path of ['//', '//%', '//%?x=1']) {
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const call = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (piece) => {
              text += piece;
            });
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
          });
          call.on('error', reject);
          call.end();
        });
        assert.equal(status, 404, path);
        assert.equal(JSON.parse(body).error.code, 'not_found', path);
      }
      const models = await fetch(`${gateway.url}/v1/models`);
      assert.equal(models.status, 200);
    } finally {
      await gateway.close();
    }
  });
});
