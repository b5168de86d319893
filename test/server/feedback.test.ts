/**
 * `POST /v1/feedback` over HTTP (contract; issue 15): a score beside the request's row in the
 * request log, counted once; bad input is a 400 in OpenAI's error shape naming the field; an
 * unknown id, or another client key's request, is a 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StartedGateway } from '../../src/start.ts';
import { stateKeys } from '../../src/state/keys.ts';
import { fastSimulated, postJson, startTestGateway } from '../helpers/gateway.ts';

describe('POST /v1/feedback', () => {
  let gateway: StartedGateway;
  const keyA = 'sy-feedback-key-a-0123456789';
  const keyB = 'sy-feedback-key-b-0123456789';
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  before(async () => {
    gateway = await startTestGateway({
      models: { only: fastSimulated() },
      server: { api_keys: [keyA, keyB] },
    });
  });
  after(() => gateway.close());

  async function answered(key = keyA): Promise<string> {
    const response = await postJson(
      `${gateway.url}/v1/chat/completions`,
      { model: 'auto', messages: [{ role: 'user', content: 'What is the capital of Australia?' }] },
      auth(key),
    );
    assert.equal(response.status, 200);
    return response.headers.get('x-switchyard-request-id')!;
  }

  it('stores the score beside the request-log row and counts it once in the bandit', async () => {
    const requestId = await answered();
    const first = await postJson(
      `${gateway.url}/v1/feedback`,
      { request_id: requestId, score: 0.8 },
      auth(keyA),
    );
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json, {
      object: 'feedback',
      request_id: requestId,
      score: 0.8,
      model: 'only',
      task: 'simple_qa',
      counted: true,
    });
    const row = gateway.requestLog!.get(requestId)!;
    assert.equal(row.feedback_score, 0.8);
    assert.equal(typeof row.feedback_at, 'number');

    const again = await postJson(
      `${gateway.url}/v1/feedback`,
      { request_id: requestId, score: 0 },
      auth(keyA),
    );
    assert.equal(again.status, 200);
    assert.equal(again.json.counted, false, 'a second score is not counted twice');
    assert.equal(gateway.requestLog!.get(requestId)!.feedback_score, 0, 'the log keeps the latest score');
    const good = await gateway.gateway.store.get(stateKeys.banditGood('simple_qa', 'only'));
    const bad = await gateway.gateway.store.get(stateKeys.banditBad('simple_qa', 'only'));
    assert.ok(Math.abs((good ?? 0) - 0.8) < 1e-9 && Math.abs((bad ?? 0) - 0.2) < 1e-9, `${good} ${bad}`);
  });

  it("answers 404 for an unknown id and for another key's request", async () => {
    const requestId = await answered(keyA);
    const other = await postJson(
      `${gateway.url}/v1/feedback`,
      { request_id: requestId, score: 1 },
      auth(keyB),
    );
    assert.equal(other.status, 404);
    assert.equal(other.json.error.code, 'not_found');
    assert.equal(other.json.error.param, 'request_id');
    assert.equal(gateway.requestLog!.get(requestId)!.feedback_score, null, 'nothing was written');
    const unknown = await postJson(
      `${gateway.url}/v1/feedback`,
      { request_id: 'req_nothing', score: 1 },
      auth(keyA),
    );
    assert.equal(unknown.status, 404);
  });

  it('bad input is a 400 naming the field', async () => {
    const cases: Array<[body: unknown, param: string | null]> = [
      [{ score: 1 }, 'request_id'],
      [{ request_id: '', score: 1 }, 'request_id'],
      [{ request_id: 42, score: 1 }, 'request_id'],
      [{ request_id: 'a b', score: 1 }, 'request_id'],
      [{ request_id: 'x'.repeat(129), score: 1 }, 'request_id'],
      [{ request_id: 'req_1' }, 'score'],
      [{ request_id: 'req_1', score: 1.5 }, 'score'],
      [{ request_id: 'req_1', score: -0.1 }, 'score'],
      [{ request_id: 'req_1', score: '1' }, 'score'],
      [{ request_id: 'req_1', score: null }, 'score'],
      [{ request_id: 'req_1', score: true }, 'score'],
      [[1, 2], null],
      ['"just a string"', null],
    ];
    for (const [body, param] of cases) {
      const response = await postJson(`${gateway.url}/v1/feedback`, body, auth(keyA));
      assert.equal(response.status, 400, `${JSON.stringify(body)}: ${response.text}`);
      assert.equal(response.json.error.type, 'invalid_request_error');
      assert.equal(response.json.error.param ?? null, param, JSON.stringify(body));
    }
    const broken = await postJson(`${gateway.url}/v1/feedback`, '{"request_id": ', auth(keyA));
    assert.equal(broken.status, 400);
    const deep = await postJson(
      `${gateway.url}/v1/feedback`,
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      auth(keyA),
    );
    assert.equal(deep.status, 400);
    const large = await postJson(
      `${gateway.url}/v1/feedback`,
      { request_id: 'req_1', score: 1, comment: 'x'.repeat(20_000) },
      auth(keyA),
    );
    assert.equal(large.status, 413);
  });

  it('needs a client key like every /v1 path', async () => {
    const response = await postJson(`${gateway.url}/v1/feedback`, { request_id: 'req_1', score: 1 });
    assert.equal(response.status, 401);
  });
});
