/**
 * The live dashboard in headless Chromium: every configured model is on the page, traffic and
 * routing decisions show up, and a model taken down has its breaker cell turn OPEN within a
 * few seconds, pushed by server-sent events with no reload. Model names are text, never markup.
 * A screenshot goes to test-output/dashboard.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { type StartedGateway, startServer } from '../../src/start.ts';
import { fastModel, testConfig } from '../observability/helpers.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const outputDir = join(process.cwd(), 'test-output');
const evilName = 'evil<img src=x onerror="window.__pwned=1">';

/** The page's DOM inside page.waitForFunction, loosely typed (the project's tsconfig has no DOM lib). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
};

let server: StartedGateway;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
const pageErrors: string[] = [];

before(async () => {
  server = await startServer(
    testConfig({
      models: {
        'gpt-4o': fastModel({
          strengths: ['coding', 'complex_reasoning'],
          input_cost_per_1k: 0.0025,
          output_cost_per_1k: 0.01,
          simulate: {
            ttft_ms: 60,
            ttft_sigma: 0.3,
            tokens_per_second: 2000,
            output_tokens: { min: 20, max: 60 },
          },
        }),
        'gpt-4o-mini': fastModel({
          strengths: ['simple_qa'],
          input_cost_per_1k: 0.00015,
          output_cost_per_1k: 0.0006,
          simulate: {
            ttft_ms: 25,
            ttft_sigma: 0.3,
            tokens_per_second: 3000,
            output_tokens: { min: 10, max: 40 },
          },
        }),
        claude: fastModel({
          strengths: ['long_context'],
          fallbacks: ['gpt-4o'],
          circuit_breaker: { failure_threshold: 2, recovery_timeout: 120 },
          simulate: {
            ttft_ms: 40,
            ttft_sigma: 0.3,
            tokens_per_second: 2000,
            output_tokens: { min: 20, max: 50 },
          },
        }),
        [evilName]: fastModel(),
      },
    }),
  );
  userDataDir = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

function breakerText(model: string): Promise<string | null> {
  return page.locator(`tr[data-model="${model}"] [data-field="breaker"]`).textContent();
}

test('the dashboard shows every model, live traffic, and a breaker opening', {
  skip: !existsSync(executablePath) && `no Chromium at ${executablePath}`,
}, async () => {
  const response = await page.goto(`${server.url}/dashboard`);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);

  // Every configured model gets a row (data-model is its exact name), breakers CLOSED.
  await page.waitForSelector('#models tbody tr[data-model]');
  const rows = await page
    .locator('#models tbody tr')
    .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-model')));
  assert.deepEqual(rows, ['gpt-4o', 'gpt-4o-mini', 'claude', evilName]);
  for (const model of ['gpt-4o', 'gpt-4o-mini', 'claude']) assert.equal(await breakerText(model), 'CLOSED');

  // A model name that looks like markup is shown as text and runs nothing.
  const evilCell = page.locator('#models tbody tr').nth(3).locator('[data-field="model"]');
  assert.equal(await evilCell.textContent(), evilName);
  assert.equal(await page.locator('#models img').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);

  // Traffic across the pool, by name and by `auto` routing.
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const prompts = [
    'What is the capital of France?',
    'Write a Python function that merges two sorted lists and explain its complexity.',
    'Translate "good morning" to Spanish.',
    'Refactor this TypeScript class to use composition instead of inheritance: class A extends B {}',
  ];
  const jobs: Array<Promise<unknown>> = [];
  for (let i = 0; i < 24; i++) {
    const model = i % 4 === 0 ? 'claude' : i % 4 === 1 ? 'gpt-4o-mini' : 'auto';
    jobs.push(
      client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: prompts[i % prompts.length]! }],
      }),
    );
  }
  await Promise.all(jobs);
  await page.waitForFunction(
    () => document.querySelectorAll('#decisions tbody tr[data-request-id]').length >= 24,
    null,
    {
      timeout: 5000,
    },
  );
  const reasons = await page.locator('#decisions td.reason').allTextContents();
  assert.ok(
    reasons.some((reason) => /priority/.test(reason)),
    'routing reasons are shown',
  );
  const spend = await page.locator('#spend-today').textContent();
  assert.match(spend ?? '', /^\$\d/);
  assert.notEqual(spend, '$0.00');
  await page.waitForSelector('#traffic-chart path', { state: 'attached' });
  await page.waitForSelector('#latency-chart path', { state: 'attached' });

  // Take claude down; its own requests fall back to gpt-4o until the breaker opens.
  const down = await fetch(`${server.url}/admin/simulate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude', action: 'down' }),
  });
  assert.equal(down.status, 200);
  for (let i = 0; i < 3; i++) {
    const { response: answer } = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: `summarise document ${i}` }] })
      .withResponse();
    assert.equal(answer.headers.get('x-switchyard-model'), 'gpt-4o');
  }
  const started = Date.now();
  await page.waitForFunction(
    () => document.querySelector('tr[data-model="claude"] [data-field="breaker"]')?.textContent === 'OPEN',
    null,
    { timeout: 5000 },
  );
  const seenAfterMs = Date.now() - started;
  assert.ok(seenAfterMs < 5000, `OPEN shown after ${seenAfterMs} ms`);
  assert.equal(
    await page.locator('tr[data-model="claude"] [data-field="breaker"]').getAttribute('data-state'),
    'open',
  );
  assert.equal(await page.locator('tr[data-model="claude"] [data-field="state"]').textContent(), 'down');
  assert.equal(await breakerText('gpt-4o'), 'CLOSED');
  await page.waitForSelector('#breaker-events li[data-model="claude"]');
  // The requests that met claude failing show the fallback in the decisions table.
  const fallbacks = await page
    .locator('#decisions tbody tr')
    .evaluateAll((trs) =>
      trs
        .slice(0, 3)
        .map((tr) => [tr.children[1]?.textContent, tr.children[4]?.textContent, tr.children[5]?.textContent]),
    );
  assert.ok(
    fallbacks.some(
      ([requested, model, count]) => requested === 'claude' && model === 'gpt-4o' && count === '1',
    ),
    JSON.stringify(fallbacks),
  );
  assert.equal(await page.locator('#connection').getAttribute('data-state'), 'live');

  mkdirSync(outputDir, { recursive: true });
  await page.screenshot({ path: join(outputDir, 'dashboard.png'), fullPage: true });
  assert.deepEqual(pageErrors, [], 'no script errors or CSP violations on the page');
});

test('with an admin key, the page says what it needs, and ?key= is exchanged for a cookie once', {
  timeout: 30_000,
}, async () => {
  const keyed = await startServer(
    testConfig({ server: { admin_key: 'dash-admin-key-0123456789' }, models: { a: fastModel() } }),
  );
  const keyedPage = await context.newPage();
  try {
    await keyedPage.goto(`${keyed.url}/dashboard`);
    await keyedPage.waitForFunction(
      () => /needs the admin key/.test(document.querySelector('#connection')?.textContent ?? ''),
      undefined,
      { timeout: 10_000 },
    );
    await keyedPage.goto(`${keyed.url}/dashboard?key=dash-admin-key-0123456789`);
    assert.equal(new URL(keyedPage.url()).search, '', 'the key left the address bar');
    await keyedPage.waitForFunction(
      () => document.querySelector('#connection')?.textContent === 'live',
      undefined,
      {
        timeout: 10_000,
      },
    );
    const cookies = await context.cookies(`${keyed.url}/dashboard/events`);
    const session = cookies.find((cookie) => cookie.name === 'switchyard_dashboard');
    assert.ok(session?.httpOnly, 'an HttpOnly session cookie');
    assert.equal(session?.sameSite, 'Strict');
  } finally {
    await keyedPage.close();
    await keyed.close();
  }
});
