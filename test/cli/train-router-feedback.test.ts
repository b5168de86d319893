/**
 * `switchyard train-router --request-log` (issue 15): the request log's scored answers train the
 * router, each labelled for the router label of the model that answered. A planted rule (the cheap
 * model is scored well on one kind of prompt and badly on another) must come out of the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RequestSummary } from '../../src/observability/events.ts';
import { RequestLog } from '../../src/observability/request-log.ts';
import { loadQualityModel } from '../../src/routing/learned/quality-model.ts';
import { switchyard } from '../helpers/cli.ts';

const WEAK = 'weak-label';
const STRONG = 'strong-label';

function summary(requestId: string, model: string, prompt: string | undefined): RequestSummary {
  const result: RequestSummary = {
    requestId,
    api: 'chat',
    startedAt: Date.now(),
    clientKeyId: undefined,
    stream: false,
    requestedModel: 'auto',
    task: 'simple_qa',
    priority: 'cost',
    model,
    attempts: [],
    fallbacks: 0,
    retries: 0,
    latencyMs: 10,
    ttftMs: 5,
    promptTokens: 10,
    completionTokens: 5,
    costUsd: 0.0001,
    usageEstimated: false,
    usage: [],
    status: 200,
    errorCode: undefined,
    errorMessage: undefined,
    reason: undefined,
  };
  if (prompt !== undefined) result.content = { request: [{ role: 'user', content: prompt }], response: 'ok' };
  return result;
}

describe('switchyard train-router --request-log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-train-feedback-'));
  const logPath = join(dir, 'requests.db');
  const log = new RequestLog({ path: logPath, retentionDays: 30, logContent: true });
  // The cheap model answers unit conversions well and proofs badly; the strong one answers proofs well.
  for (let i = 0; i < 300; i++) {
    const conversion = `How many centimetres are in ${i + 2} metres of rope number ${i}?`;
    const proof = `Prove that the group of order ${i + 7} with generator g${i} is abelian under composition.`;
    log.requestFinished(summary(`req_c${i}`, 'cheap', conversion));
    log.requestFinished(summary(`req_p${i}`, 'cheap', proof));
    log.requestFinished(summary(`req_s${i}`, 'strong', proof));
  }
  log.requestFinished(summary('req_nocontent', 'cheap', undefined));
  log.requestFinished(summary('req_unlabelled', 'other', 'What is two plus two?'));
  log.flush();
  for (let i = 0; i < 300; i++) {
    log.setFeedback(`req_c${i}`, 1);
    log.setFeedback(`req_p${i}`, 0);
    log.setFeedback(`req_s${i}`, 1);
  }
  log.setFeedback('req_nocontent', 1);
  log.setFeedback('req_unlabelled', 1);
  log.close();

  it('learns the planted rule from the scores and says what it left out', () => {
    const out = join(dir, 'router.json');
    const result = switchyard([
      'train-router',
      '--request-log',
      logPath,
      '--label',
      `cheap=${WEAK}`,
      '--label',
      `strong=${STRONG}`,
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--out',
      out,
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /900 scored answers, 1 without a logged prompt \(log_content off\), left out \(no label\): other 1/,
    );
    const model = loadQualityModel(readFileSync(out, 'utf8'));
    assert.deepEqual(model.labels, [WEAK, STRONG]);
    const conversion = model.predictRecord('How many centimetres are in 41 metres of rope number 999?');
    const proof = model.predictRecord(
      'Prove that the group of order 1000 with generator g999 is abelian under composition.',
    );
    assert.ok(conversion[WEAK]! > 0.8, `P(weak | conversion) ${conversion[WEAK]}`);
    assert.ok(proof[WEAK]! < 0.2, `P(weak | proof) ${proof[WEAK]}`);
    assert.ok(proof[STRONG]! > 0.8, `P(strong | proof) ${proof[STRONG]}`);
  });

  it('refuses a label that is neither --weak nor --strong, and a missing mapping', () => {
    const wrong = switchyard([
      'train-router',
      '--request-log',
      logPath,
      '--label',
      'cheap=gpt-9',
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--out',
      join(dir, 'x.json'),
    ]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /cheap is labelled "gpt-9", which is neither --weak nor --strong/);
    const none = switchyard([
      'train-router',
      '--request-log',
      logPath,
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--out',
      join(dir, 'y.json'),
    ]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /needs --label MODEL=LABEL or --config/);
    const nothing = switchyard([
      'train-router',
      '--weak',
      WEAK,
      '--strong',
      STRONG,
      '--out',
      join(dir, 'z.json'),
    ]);
    assert.equal(nothing.status, 1);
    assert.match(nothing.stderr, /give --data, --request-log or both/);
  });
});
