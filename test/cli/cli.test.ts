import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import OpenAI from 'openai';

const bin = join(process.cwd(), 'bin/switchyard.js');
const cleanEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };

describe('switchyard check-config', () => {
  it('exits 0 for a valid file', () => {
    const result = spawnSync(process.execPath, [bin, 'check-config', 'examples/design-brief.yaml'], {
      encoding: 'utf8',
      env: { ...cleanEnv, AI302_API_KEY: 'sk-cli-secret' },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /valid/);
    assert.doesNotMatch(result.stdout + result.stderr, /sk-cli-secret/);
  });

  it('exits 1 with every error as path: message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'models:\n  gpt-4o:\n    provider: openai\n    timeout: -1\n    api_key: sk-leak-me\n    wieght: 3\n',
    );
    const result = spawnSync(process.execPath, [bin, 'check-config', file], {
      encoding: 'utf8',
      env: cleanEnv,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^models\.gpt-4o\.timeout: expected a positive number$/m);
    assert.match(result.stderr, /^models\.gpt-4o\.wieght: unknown field$/m);
    assert.doesNotMatch(result.stderr + result.stdout, /sk-leak-me/);
  });
});

describe('switchyard start', () => {
  it('refuses to start half-configured', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'models:\n  a:\n    provider: simulated\n    weight: -1\n');
    const result = spawnSync(process.execPath, [bin, 'start', '--config', file, '--port', '0'], {
      encoding: 'utf8',
      env: cleanEnv,
      timeout: 20_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^models\.a\.weight:/m);
  });

  it('starts on the embedded default, answers the openai client, and drains on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const child = spawn(process.execPath, [bin, 'start', '--port', '0'], {
      cwd: dir,
      env: cleanEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (data) => {
      stderr += data;
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${stderr}`)), 20_000);
      child.stdout.on('data', (data) => {
        stdout += data;
        const match = /^switchyard listening on (http:\/\/\S+)$/m.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    assert.match(stderr, /embedded default/);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 2 });
    const completion = await client.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'Python 列表推导式怎么写?' }],
    });
    assert.ok(completion.choices[0]?.message.content);
    // Start a streaming request, then SIGTERM while it is in flight: it must complete.
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'Tell me a story' }],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    let finish: string | null = null;
    for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
    assert.equal(finish, 'stop', 'the in-flight stream finished during the drain');
    assert.equal(await exited, 0);
  });

  it('takes its port from PORT when --port is not given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(process.execPath, [bin, 'start'], {
      cwd: dir,
      env: { ...cleanEnv, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error('no listening line')), 20_000);
        child.stdout.on('data', (data) => {
          stdout += data;
          const match = /^switchyard listening on (\S+)$/m.exec(stdout);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      assert.equal(line, `http://127.0.0.1:${port}`);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
