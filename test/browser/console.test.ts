/**
 * The request console in headless Chromium, on a gateway with an admin key (the page works on
 * its session cookie): traffic with a fail-over and a failure; the list filtered by model and
 * status, paged, and refreshed without losing its filters; a detail view with every candidate's
 * scores and each attempt; a model taken out of rotation from the page (routing avoids it) and
 * put back; an open breaker reset from the page. Names and contents with markup stay text; no
 * script errors or CSP violations. A screenshot goes to test-output/console.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { RequestRow } from '../../src/observability/request-log.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';
import { fastModel, testConfig } from '../observability/helpers.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const outputDir = join(process.cwd(), 'test-output');
const adminKey = 'console-browser-admin-key-0123';
const evilName = 'evil<img src=x onerror="window.__pwned=1">';
const evilPrompt = '<script>window.__pwned=2</script><img src=x onerror="window.__pwned=3"> hi';

/** The page's DOM inside page.waitForFunction, loosely typed (the project's tsconfig has no DOM lib). */
declare const document: {
  querySelector(selector: string): {
    textContent: string | null;
    hasAttribute(name: string): boolean;
    dispatchEvent(event: Event): boolean;
  } | null;
  body: { getAttribute(name: string): string | null };
  querySelectorAll(selector: string): ArrayLike<{
    textContent: string | null;
    getAttribute(name: string): string | null;
    children: ArrayLike<{ textContent: string | null }>;
  }>;
};

let server: StartedGateway;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let client: OpenAI;
const pageErrors: string[] = [];

before(async () => {
  server = await startServer(
    testConfig({
      server: { admin_key: adminKey },
      observability: { request_log: { log_content: true } },
      // Hedging on request (x-switchyard-hedge): a second model starts 20 ms into a slow attempt.
      resilience: { hedging: { enabled: false, delay: 0.02, budget: 1 } },
      models: {
        'gpt-4o': fastModel({ strengths: ['coding', 'complex_reasoning'], fallbacks: ['gpt-4o-mini'] }),
        'gpt-4o-mini': fastModel({ strengths: ['simple_qa'] }),
        claude: fastModel({
          strengths: ['long_context'],
          circuit_breaker: { failure_threshold: 1, recovery_timeout: 600 },
        }),
        slowpoke: fastModel({
          strengths: [],
          fallbacks: ['gpt-4o-mini'],
          simulate: {
            ttft_ms: 400,
            ttft_sigma: 0,
            tokens_per_second: 5000,
            output_tokens: { min: 5, max: 8 },
          },
        }),
        [evilName]: fastModel(),
      },
    }),
  );
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
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

async function simulate(model: string, action: 'down' | 'up') {
  const response = await fetch(`${server.url}/admin/simulate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ model, action }),
  });
  assert.equal(response.status, 200);
}

async function ask(model: string, content = 'What is the capital of France?', headers = {}) {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content }] }, { headers })
    .withResponse();
  return { id: response.headers.get('x-switchyard-request-id')!, model: data.model };
}

interface ShownRow {
  id: string | null;
  requested: string | null;
  model: string | null;
  status: number;
}

/** The request list as shown: request id, requested model, answering model, status. */
function shownRows(): Promise<ShownRow[]> {
  return page.locator('#requests tbody tr[data-request-id]').evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-request-id'),
      requested: tr.children[3]?.textContent ?? null,
      model: tr.children[4]?.textContent ?? null,
      status: Number(tr.children[6]?.textContent),
    })),
  );
}

async function route(): Promise<{
  model: string;
  scores: Array<{ model: string }>;
  excluded: Array<{ model: string; reason: string }>;
}> {
  const response = await fetch(`${server.url}/v1/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'Hello there?' }] }),
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Awaited<ReturnType<typeof route>>;
}

function modelRow(model: string) {
  return page.locator(`#models tbody tr[data-model="${model}"]`);
}

test('the request console: filters, pages, detail, rotation and breaker controls', {
  skip: !existsSync(executablePath) && `no Chromium at ${executablePath}`,
  timeout: 90_000,
}, async () => {
  // Traffic: plain requests, a fail-over (gpt-4o down, gpt-4o-mini answers), a failure (claude
  // down, no fallbacks: 5xx, and its breaker opens), and a prompt full of markup.
  for (let i = 0; i < 24; i++) await ask(i % 2 === 0 ? 'auto' : 'gpt-4o-mini');
  await simulate('gpt-4o', 'down');
  const failover = await ask('gpt-4o', 'Write a Python function that reverses a list.');
  assert.equal(failover.model, 'gpt-4o-mini');
  await simulate('gpt-4o', 'up');
  await simulate('claude', 'down');
  await assert.rejects(ask('claude'), (error: { status?: number }) => (error.status ?? 0) >= 500);
  const hedged = await ask('slowpoke', 'Hello?', { 'x-switchyard-hedge': 'true' });
  assert.equal(hedged.model, 'gpt-4o-mini', 'the hedge won');
  const evil = await ask(evilName, evilPrompt);

  await page.goto(`${server.url}/dashboard?key=${adminKey}`);
  assert.equal(new URL(page.url()).search, '', 'the key left the address bar');
  await page.waitForSelector('#requests tbody tr[data-request-id]');
  const firstPage = await shownRows();
  assert.equal(firstPage.length, 25, 'a page of 25');
  assert.equal(firstPage[0]?.requested, evilName, 'newest first');
  assert.equal(await page.locator('#requests-older').isDisabled(), false);

  // Paging: the next page continues where the first ended, and back.
  await page.click('#requests-older');
  await page.waitForFunction(() => document.querySelector('#requests-page')?.textContent === 'page 2');
  const secondPage = await shownRows();
  assert.equal(secondPage.length, 28 - 25);
  assert.equal(
    secondPage.some((row) => firstPage.some((seen) => seen.id === row.id)),
    false,
  );
  await page.click('#requests-newer');
  await page.waitForFunction(() => document.querySelector('#requests-page')?.textContent === 'page 1');

  // Filter by model: only claude's request; then by status 5xx: only the failure.
  await page.fill('#request-filters input[name="model"]', 'claude');
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('#requests tbody tr[data-request-id]');
    return rows.length === 1 && rows[0]?.children[3]?.textContent === 'claude';
  });
  await page.fill('#request-filters input[name="model"]', '');
  await page.selectOption('#request-filters select[name="status"]', '5xx');
  await page.waitForFunction(
    () => document.querySelectorAll('#requests tbody tr[data-request-id]').length === 1,
  );
  const failures = await shownRows();
  assert.equal(failures[0]?.requested, 'claude');
  assert.ok(failures[0]!.status >= 500);
  assert.match(page.url(), /#requests\?status=5xx$/, 'the filters are in the address');

  // Filter by model and ok: gpt-4o's own request, answered by its fallback.
  await page.selectOption('#request-filters select[name="status"]', 'ok');
  await page.fill('#request-filters input[name="model"]', 'gpt-4o');
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('#requests tbody tr[data-request-id]');
    return rows.length === 1 && rows[0]?.children[4]?.textContent === 'gpt-4o-mini';
  });
  assert.deepEqual(
    (await shownRows()).map((row) => [row.id, row.requested, row.model]),
    [[failover.id, 'gpt-4o', 'gpt-4o-mini']],
  );

  // Auto-refresh picks up new traffic and keeps the filters.
  const later = await ask('gpt-4o', 'Refactor this TypeScript class.');
  await page.waitForFunction(
    (id) => document.querySelector(`#requests tbody tr[data-request-id="${id}"]`) !== null,
    later.id,
    { timeout: 8000 },
  );
  assert.equal(await page.inputValue('#request-filters input[name="model"]'), 'gpt-4o');
  assert.equal(await page.inputValue('#request-filters select[name="status"]'), 'ok');
  assert.deepEqual(
    (await shownRows()).map((row) => row.id),
    [later.id, failover.id],
  );

  // A refresh that brings nothing new leaves the rows alone, so a click it lands in the middle of
  // (button pressed before, released after) still opens the row. Re-rendered rows lost it: the
  // click went to the table body, the common ancestor of the old and the new button.
  const open = page.locator(
    `#requests tbody tr[data-request-id="${failover.id}"] button[data-action="open"]`,
  );
  const box = await open.boundingBox();
  assert.ok(box, 'the row is on the page');
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  const loadedBefore = await page.getAttribute('body', 'data-requests-loaded');
  await page.evaluate(() =>
    document.querySelector('#request-filters')?.dispatchEvent(new Event('submit', { cancelable: true })),
  );
  await page.waitForFunction(
    (before) => document.body.getAttribute('data-requests-loaded') !== before,
    loadedBefore,
  );
  await page.mouse.up();

  // The fail-over's detail: every candidate's scores as logged, each attempt with its outcome.
  await page.waitForFunction((id) => document.querySelector('#detail-id')?.textContent === id, failover.id);
  const logged = server.requestLog!.get(failover.id) as RequestRow;
  const candidates = await page
    .locator('#detail-candidates tbody tr[data-model]')
    .evaluateAll((trs) =>
      trs.map((tr) => [
        tr.getAttribute('data-model'),
        tr.querySelector('[data-field="role"]')?.textContent,
        tr.querySelector('[data-field="score"]')?.textContent,
        tr.querySelector('[data-field="health"]')?.textContent,
      ]),
    );
  assert.deepEqual(
    candidates,
    logged.decision!.candidates.map((candidate) => [
      candidate.model,
      candidate.model === 'gpt-4o' ? 'primary' : 'fallback 1',
      candidate.score.toFixed(3),
      candidate.health.toFixed(3),
    ]),
  );
  assert.deepEqual(
    candidates.map(([model]) => model),
    ['gpt-4o', 'gpt-4o-mini'],
  );
  const attempts = await page
    .locator('#detail-attempts li[data-model]')
    .evaluateAll((items) =>
      items.map((item) => [
        item.getAttribute('data-model'),
        item.getAttribute('data-outcome'),
        item.querySelector('[data-field="latency"]')?.textContent ?? '',
      ]),
    );
  assert.equal(attempts[0]?.[0], 'gpt-4o');
  assert.notEqual(attempts[0]?.[1], 'success');
  assert.deepEqual(attempts.at(-1)?.slice(0, 2), ['gpt-4o-mini', 'success']);
  assert.equal(attempts.length, logged.models_tried.length);
  for (const [, , latency] of attempts) assert.match(latency, /\d+ ms|\d s/);
  assert.equal(await page.locator('#detail-usage tbody tr[data-model="gpt-4o-mini"]').count(), 1);
  assert.match((await page.locator('#detail-content pre').first().textContent()) ?? '', /reverses a list/);

  // The hedged request: the hedge is marked on its attempt, started after the primary.
  await page.click('#request-filters button[type="reset"]');
  await page.waitForSelector(`#requests tbody tr[data-request-id="${hedged.id}"]`);
  await page.click(`#requests tbody tr[data-request-id="${hedged.id}"] button[data-action="open"]`);
  await page.waitForFunction((id) => document.querySelector('#detail-id')?.textContent === id, hedged.id);
  const hedgeAttempts = await page
    .locator('#detail-attempts li[data-model]')
    .evaluateAll((items) =>
      items.map((item) => [
        item.getAttribute('data-model'),
        item.querySelector('[data-field="hedge"]') !== null,
      ]),
    );
  assert.deepEqual(hedgeAttempts, [
    ['slowpoke', false],
    ['gpt-4o-mini', true],
  ]);

  // The markup-laden request: its model name and its prompt are text.
  await page.click('#request-filters button[type="reset"]');
  await page.waitForFunction(
    () => document.querySelectorAll('#requests tbody tr[data-request-id]').length === 25,
  );
  await page.click(`#requests tbody tr[data-request-id="${evil.id}"] button[data-action="open"]`);
  await page.waitForFunction(() =>
    /<script>/.test(document.querySelector('#detail-content pre')?.textContent ?? ''),
  );
  assert.equal(await page.locator('#detail-facts [data-fact="Requested"] dd').textContent(), evilName);
  assert.match(
    (await page.locator('#detail-content pre').first().textContent()) ?? '',
    /<img src=x onerror=/,
  );
  assert.equal(await page.locator('main img, main script').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);

  // Out of rotation from the page: the row says so, routing avoids the model; then back.
  await modelRow('gpt-4o-mini').locator('button[data-action="rotation"]').click();
  await page.waitForFunction(
    () =>
      document.querySelector('#models tr[data-model="gpt-4o-mini"] [data-field="rotation"]')?.textContent ===
      'out of rotation',
  );
  assert.equal(
    await modelRow('gpt-4o-mini').locator('button[data-action="rotation"]').textContent(),
    'Put back',
  );
  assert.equal(
    server.gateway.modelStatus().find((status) => status.model === 'gpt-4o-mini')?.inRotation,
    false,
  );
  for (let i = 0; i < 10; i++) {
    const decision = await route();
    assert.notEqual(decision.model, 'gpt-4o-mini');
    assert.match(
      decision.excluded.find((entry) => entry.model === 'gpt-4o-mini')?.reason ?? '',
      /out of rotation/,
    );
  }
  assert.notEqual((await ask('auto')).model, 'gpt-4o-mini');
  await page.waitForTimeout(1500); // a few snapshots later the state still shows (pushed, not only set by the click)
  assert.equal(
    await modelRow('gpt-4o-mini').locator('[data-field="rotation"]').textContent(),
    'out of rotation',
  );
  await modelRow('gpt-4o-mini').locator('button[data-action="rotation"]').click();
  await page.waitForFunction(
    () =>
      document.querySelector('#models tr[data-model="gpt-4o-mini"] [data-field="rotation"]')?.textContent ===
      'in rotation',
  );
  const back = await route();
  assert.ok(
    back.scores.some((score) => score.model === 'gpt-4o-mini'),
    'a candidate again',
  );

  // Claude's breaker opened on its failure (threshold 1, recovery 600 s): reset it from the page.
  assert.equal(await modelRow('claude').locator('[data-field="breaker"]').textContent(), 'OPEN');
  assert.equal(await modelRow('gpt-4o-mini').locator('button[data-action="reset"]').isDisabled(), true);
  await simulate('claude', 'up');
  await modelRow('claude').locator('button[data-action="reset"]').click();
  await page.waitForFunction(
    () =>
      document.querySelector('#models tr[data-model="claude"] [data-field="breaker"]')?.textContent ===
      'CLOSED',
  );
  assert.equal(server.gateway.modelStatus().find((status) => status.model === 'claude')?.breaker, 'closed');
  assert.equal((await ask('claude')).model, 'claude');
  await page.waitForTimeout(1200);
  assert.equal(await modelRow('claude').locator('[data-field="breaker"]').textContent(), 'CLOSED');
  assert.match((await page.locator('#control-message').textContent()) ?? '', /claude: breaker CLOSED/);

  // A row of the live decisions table opens the same detail view.
  const newestDecision = await page
    .locator('#decisions tbody tr[data-request-id]')
    .first()
    .getAttribute('data-request-id');
  await page.locator('#decisions tbody tr[data-request-id]').first().click();
  await page.waitForFunction(
    (id) => document.querySelector('#detail-id')?.textContent === id,
    newestDecision,
  );

  // Back to the fail-over's detail for the picture.
  await page.fill('#request-filters input[name="model"]', 'gpt-4o');
  await page.waitForSelector(`#requests tbody tr[data-request-id="${failover.id}"]`);
  await page.click(`#requests tbody tr[data-request-id="${failover.id}"] button[data-action="open"]`);
  await page.waitForFunction((id) => document.querySelector('#detail-id')?.textContent === id, failover.id);
  // The control clicks scrolled the models table sideways: back, for the picture.
  await page.locator('.table-wrap').evaluateAll((wraps) => {
    for (const wrap of wraps) wrap.scrollLeft = 0;
  });
  mkdirSync(outputDir, { recursive: true });
  await page.screenshot({ path: join(outputDir, 'console.png'), fullPage: true });
  assert.deepEqual(pageErrors, [], 'no script errors or CSP violations on the page');
});
