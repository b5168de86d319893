/**
 * `switchyard keys …` as a user runs it: a real process (the CLI's source under tsx) calling the
 * admin API of a running gateway.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { fastSimulated } from '../helpers/gateway.ts';
import { adminKey, hello, type KeysGateway, startKeysGateway } from './helpers.ts';

const mainSource = new URL('../../src/cli/main.ts', import.meta.url).href;
const keysSource = new URL('../../src/cli/keys.ts', import.meta.url).href;
/** The whole CLI (as `switchyard` runs it), or just its keys commands (a second to load instead of several). */
const entries = {
  main: `const { main } = await import(${JSON.stringify(mainSource)}); process.exitCode = await main(process.argv.slice(1));`,
  keys: `const { Command } = await import('commander'); const { registerKeys } = await import(${JSON.stringify(keysSource)});
    let code = 0; const program = new Command().exitOverride(); registerKeys(program, (value) => { code = value; });
    await program.parseAsync(process.argv.slice(1), { from: 'user' }); process.exitCode = code;`,
};

function cli(
  args: string[],
  env: Record<string, string> = {},
  entry: keyof typeof entries = 'keys',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = entries[entry];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe('switchyard keys', () => {
  let gateway: KeysGateway;
  before(async () => {
    gateway = await startKeysGateway({ models: { cheap: fastSimulated() } });
  });
  after(() => gateway.close());

  it('create prints the key once; list, get and revoke work with the admin key from the environment', async () => {
    const env = { SWITCHYARD_ADMIN_KEY: adminKey };
    const created = await cli(
      [
        'keys',
        'create',
        '--url',
        gateway.url,
        '--name',
        'from-cli',
        '--rpm',
        '5',
        '--budget',
        '2.5',
        '--period',
        'week',
        '--tag',
        'a',
        '--tag',
        'b',
      ],
      env,
      'main',
    );
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^sk-sy-[a-z0-9]{12}_[0-9A-Za-z]{43}$/);
    assert.match(created.stderr, /shown this once/);
    const id = key.slice(6, 18);
    await new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create(
      hello('cheap'),
    );

    const listed = await cli(['keys', 'list', '--url', gateway.url], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${id}\\s+from-cli\\s+active\\s+5\\s+-\\s+-\\s+\\$2\\.5/week`));
    assert.ok(!listed.stdout.includes(key.slice(19)), 'the list never shows the key');

    const got = await cli(['keys', 'get', id, '--url', gateway.url, '--json'], env);
    assert.equal(got.code, 0, got.stderr);
    const record = JSON.parse(got.stdout);
    assert.equal(record.usage.requests, 1);
    assert.deepEqual(record.metadata, { tags: ['a', 'b'] });
    assert.deepEqual(record.budget.period, 'week');

    const updated = await cli(['keys', 'update', id, '--url', gateway.url, '--rpm', '9'], env);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /rpm:\s+9/);

    const revoked = await cli(['keys', 'revoke', id, '--url', gateway.url, '--admin-key', adminKey]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked key ${id}`));
    const refused = await new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: key,
      maxRetries: 0,
    }).chat.completions
      .create(hello('cheap'))
      .catch((error) => error);
    assert.equal(refused.status, 401);
  });

  it('exits 1 with the API error for a wrong admin key, a bad value, an unknown id and an unreachable gateway', async () => {
    const wrongKey = await cli(['keys', 'list', '--url', gateway.url, '--admin-key', 'not-the-admin-key']);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /^error: 401: /m);
    const badModel = await cli(['keys', 'create', '--url', gateway.url, '--name', 'x', '--models', 'gpt-9'], {
      SWITCHYARD_ADMIN_KEY: adminKey,
    });
    assert.equal(badModel.code, 1);
    assert.match(badModel.stderr, /^error: 400: .*gpt-9.* \(models\[0\]\)$/m);
    const unknown = await cli(['keys', 'get', 'zzzzzzzzzzzz', '--url', gateway.url], {
      SWITCHYARD_ADMIN_KEY: adminKey,
    });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: 404: /m);
    const unreachable = await cli(['keys', 'list', '--url', 'http://127.0.0.1:9']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:9/);
  });
});
