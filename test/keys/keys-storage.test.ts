/**
 * What one instance keeps on disk: the key database and the secret beside the request log, both
 * 0600 in a 0700 folder, holding hashes only; and what survives a restart (keys, usage, budgets).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type OpenAI from 'openai';
import { fastSimulated } from '../helpers/gateway.ts';
import { hello, startKeysGateway } from './helpers.ts';

const models = { cheap: fastSimulated({ cost_per_1k: 0.001 }) };
const mode = (path: string) => statSync(path).mode & 0o777;

describe('key storage on one instance', () => {
  it('keeps hashes only, in 0600 files in a 0700 folder, and the key, its usage and its budget survive a restart', async () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'switchyard-keys-')), 'state');
    const config = { models, observability: { request_log: { path: join(folder, 'requests.db') } } };
    let gateway = await startKeysGateway(config);
    const created = await gateway.createKey({ name: 'durable', budget: { usd: 0.0002, period: 'month' } });
    const client = () => gateway.clientFor(created.key);
    for (let i = 0; i < 3; i++) await client().chat.completions.create(hello('cheap', { max_tokens: 10 }));
    const before = (await gateway.admin('GET', `/admin/keys/${created.id}`)).json;
    await gateway.close();

    const databasePath = join(folder, 'keys.db');
    const secretPath = join(folder, 'key-secret');
    assert.equal(mode(folder), 0o700);
    assert.equal(mode(databasePath), 0o600);
    assert.equal(mode(secretPath), 0o600);
    const secret = Buffer.from(readFileSync(secretPath, 'utf8').trim(), 'hex');
    const database = new Database(databasePath, { readonly: true });
    const rows = database.prepare('SELECT * FROM keys').all() as Array<{ key_hash: string; record: string }>;
    const usage = database.prepare('SELECT * FROM key_usage').all();
    database.close();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.key_hash, createHmac('sha256', secret).update(created.key).digest('hex'));
    const everything =
      readFileSync(databasePath).toString('latin1') + JSON.stringify(rows) + JSON.stringify(usage);
    assert.ok(
      !everything.includes(created.key.slice(19)),
      'the secret part of the key is nowhere in the file',
    );
    assert.ok(!everything.includes(created.key), 'the key is nowhere in the file');

    gateway = await startKeysGateway(config);
    try {
      const after = (await gateway.admin('GET', `/admin/keys/${created.id}`)).json;
      assert.equal(after.usage.requests, 3);
      assert.equal(after.usage.spend_usd, before.usage.spend_usd);
      assert.equal(after.budget.spent_usd, before.budget.spent_usd, 'a restart does not reset the budget');
      await client().chat.completions.create(hello('cheap', { max_tokens: 10 }));
      // The budget goes on from where it was: it runs out within its ~$0.0002.
      let refused: InstanceType<typeof OpenAI.APIError> | undefined;
      for (let i = 0; i < 20 && !refused; i++) {
        await client()
          .chat.completions.create(hello('cheap', { max_tokens: 10 }))
          .catch((error) => {
            refused = error;
          });
      }
      assert.equal(refused?.code, 'insufficient_quota');
      const spent = (await gateway.admin('GET', `/admin/keys/${created.id}`)).json;
      assert.ok(spent.usage.spend_usd <= 0.0002 + 1e-12, String(spent.usage.spend_usd));
    } finally {
      await gateway.close();
    }
  });

  it('hashes with server.key_secret when set, and then writes no secret file', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'switchyard-keys-'));
    const keySecret = 'a-configured-key-secret-of-32-characters-or-more';
    const gateway = await startKeysGateway({
      models,
      server: { key_secret: keySecret },
      observability: { request_log: { path: join(folder, 'requests.db') } },
    });
    try {
      const created = await gateway.createKey({ name: 'configured' });
      await gateway.clientFor(created.key).chat.completions.create(hello('cheap'));
      assert.equal(existsSync(join(folder, 'key-secret')), false);
      const database = new Database(join(folder, 'keys.db'), { readonly: true });
      const row = database.prepare('SELECT key_hash FROM keys').get() as { key_hash: string };
      database.close();
      assert.equal(row.key_hash, createHmac('sha256', keySecret).update(created.key).digest('hex'));
      // The static keys' ids are keyed hashes too (no longer an unsalted sha256).
      assert.equal(
        gateway.keys.authenticator.idOf('some-static-key'),
        `key_${createHmac('sha256', keySecret).update('some-static-key').digest('hex').slice(0, 16)}`,
      );
    } finally {
      await gateway.close();
    }
  });
});
