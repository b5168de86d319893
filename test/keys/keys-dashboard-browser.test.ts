/**
 * The dashboard's keys panel in headless Chromium: a key made through the admin API appears with
 * its limits, its spend against its budget and its requests, live; a name that looks like markup
 * is shown as text. A screenshot goes to test-output/keys-dashboard.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { fastSimulated } from '../helpers/gateway.ts';
import { adminKey, hello, type KeysGateway, startKeysGateway } from './helpers.ts';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const evilName = 'team<img src=x onerror="window.__pwned=1">';

let gateway: KeysGateway;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

before(async () => {
  gateway = await startKeysGateway({ models: { cheap: fastSimulated({ cost_per_1k: 0.002 }) } });
  if (!existsSync(executablePath)) return;
  userDataDir = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1440, height: 1400 },
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
});

after(async () => {
  await context?.close();
  await gateway?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

test('the keys panel shows each key, its limits, spend against budget and requests', {
  skip: !existsSync(executablePath) && `no Chromium at ${executablePath}`,
}, async () => {
  const budgeted = await gateway.createKey({
    name: evilName,
    rpm: 60,
    budget: { usd: 0.001, period: 'day' },
  });
  const open = await gateway.createKey({ name: 'open', models: ['cheap'] });
  const client = gateway.clientFor(budgeted.key);
  for (let i = 0; i < 3; i++) await client.chat.completions.create(hello('cheap', { max_tokens: 20 }));
  await gateway.admin('DELETE', `/admin/keys/${open.id}`);

  const response = await page.goto(`${gateway.url}/dashboard?key=${encodeURIComponent(adminKey)}`);
  assert.equal(response?.status(), 200);
  const row = page.locator(`#keys tr[data-key="${budgeted.id}"]`);
  await row.waitFor();
  await page.waitForFunction(
    (id) => {
      const cells = (globalThis as any).document.querySelectorAll(`#keys tr[data-key="${id}"] td`);
      return cells.length > 8 && cells[8].textContent === '3';
    },
    budgeted.id,
    { timeout: 10_000 },
  );
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], evilName, 'the name is text');
  assert.equal(cells[1], 'active');
  assert.equal(cells[3], '60');
  assert.match(cells[6] ?? '', /^\$0\.000\d+ of \$0\.00100 \/ day$/);
  assert.equal(await page.locator('#keys img').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
  const width = await row.locator('.budget-fill').evaluate((node) => (node as any).style.width);
  assert.ok(Number.parseFloat(width) > 0 && Number.parseFloat(width) < 100, width);
  const revoked = await page.locator(`#keys tr[data-key="${open.id}"]`).getAttribute('data-state');
  assert.equal(revoked, 'revoked');

  const outputDir = join(process.cwd(), 'test-output');
  mkdirSync(outputDir, { recursive: true });
  await page.locator('#keys').screenshot({ path: join(outputDir, 'keys-dashboard.png') });
});
