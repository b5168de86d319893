#!/usr/bin/env node
/**
 * What each feature of the bench's Switchyard costs, per plain (or streamed) request: the bench
 * config in full, then with one feature left out at a time (BENCH_WITHOUT in
 * bench/switchyard-server.ts), then with all of them out, beside the parse proxy. The targets
 * take turns in rounds on one fake upstream, in a new order each round, so a slow stretch of the
 * machine lands on all of them; each figure is the median over the rounds of the server's CPU
 * (/proc, every thread) per request, and of its requests per second.
 *
 *   node bench/feature-cost.mjs [--mode plain|stream] [--connections 10] [--seconds 5]
 *        [--rounds 5] [--warmups 3] [--variants full,key,limits,log,rules,caps,all] [--compare REF]
 *
 * A price is the full config's CPU minus the config without the feature: it includes what the
 * feature costs beyond its own code (GC, the header bytes it adds, the kernel waking the client
 * sooner or later), which is why the prices need not add up to the full config's excess.
 *
 * --compare REF adds the full config as commit REF builds it (an A/B of a change, in the same
 * rounds); `--variants full --compare HEAD` on an unchanged tree shows the noise floor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchRequest, firstMessage, runLoad, trackedChildren } from './children.mjs';
import { buildSwitchyard } from './fault-soak.mjs';
import { cpuMs } from './proc.mjs';

const root = new URL('..', import.meta.url).pathname;
const { values: options } = parseArgs({
  options: {
    mode: { type: 'string', default: 'plain' },
    connections: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    warmups: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'full,key,limits,log,rules,caps,all' },
    compare: { type: 'string' },
  },
});
if (!['plain', 'stream'].includes(options.mode)) fail('--mode: plain or stream');

function fail(message) {
  console.error(`feature-cost: ${message}`);
  process.exit(1);
}

/** Each Switchyard variant: the features it leaves out (BENCH_WITHOUT). */
const allVariants = {
  full: { name: 'full', without: [] },
  key: { name: 'without client key', without: ['key'] },
  limits: { name: 'client key without limits', without: ['limits'] },
  log: { name: 'without request log', without: ['log'] },
  rules: { name: 'without routing rules', without: ['rules'] },
  caps: { name: 'without model rpm/tpm caps', without: ['caps'] },
  all: { name: 'without all four', without: ['key', 'log', 'rules', 'caps'] },
};
const variants = options.variants.split(',').map((name) => {
  if (!allVariants[name]) fail(`--variants: a comma list of ${Object.keys(allVariants).join(', ')}`);
  return allVariants[name];
});
if (variants[0]?.name !== 'full') fail('--variants: the list starts with full (the prices are against it)');

const tmp = mkdtempSync(join(tmpdir(), 'switchyard-feature-cost-'));
const { killAll, spawnNode } = trackedChildren();
process.on('exit', () => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});
const body = benchRequest(options.mode === 'stream');
const cache = join(root, 'node_modules/.cache');
const entry = buildSwitchyard({ outDir: join(cache, 'switchyard-feature-cost') }).args[0];
const compared = options.compare
  ? buildSwitchyard({ ref: options.compare, outDir: join(cache, 'switchyard-feature-cost-ref') }).args[0]
  : undefined;
const upstream = spawnNode([join(root, 'bench/upstream.mjs')]);
const upstreamUrl = (await firstMessage(upstream, 'upstream', 30_000)).url;

async function start(target, index) {
  const child =
    target.without === undefined
      ? spawnNode([join(root, 'bench/parse-proxy.mjs')], { UPSTREAM_URL: upstreamUrl })
      : spawnNode([target.entry ?? entry], {
          UPSTREAM_URL: upstreamUrl,
          BENCH_TMP: join(tmp, `state-${index}`),
          BENCH_WITHOUT: target.without.join(','),
        });
  const ready = await firstMessage(child, target.name, 60_000);
  return { ...target, child, url: ready.url, headers: ready.headers, cpu: [], rps: [] };
}

const load = (target, seconds) =>
  runLoad(spawnNode, {
    url: target.url,
    headers: target.headers,
    body,
    connections: Number(options.connections),
    seconds,
  });

const targets = [];
const all = [{ name: 'parse proxy' }, ...variants];
if (compared) all.push({ name: `full at ${options.compare}`, without: [], entry: compared });
for (const [index, target] of all.entries()) targets.push(await start(target, index));
for (const target of targets) for (let i = 0; i < Number(options.warmups); i++) await load(target, 2);

const seconds = Number(options.seconds);
// A new order every round (seeded, so a rerun repeats it): no target always follows the same one.
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
for (let round = 0; round < Number(options.rounds); round++) {
  const order = [...targets];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const target of order) {
    const before = cpuMs(target.child.pid);
    const result = await load(target, seconds);
    const used = cpuMs(target.child.pid) - before;
    const requests = result.ok + result.non2xx;
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${target.name}: ${result.non2xx} non-2xx and ${result.errors} errors`);
    target.cpu.push((used * 1000) / requests);
    target.rps.push(result.rps);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const parse = targets[0];
const full = targets[1];
const parseCpu = median(parse.cpu);
console.log(
  `${options.mode}, ${options.connections} connections, ${options.rounds} rounds of ${seconds} s (medians)\n`,
);
console.log('| target | req/s | CPU µs/req | CPU vs parse | price of the feature |');
console.log('|---|---|---|---|---|');
for (const target of targets) {
  const cpu = median(target.cpu);
  const price = target.without?.length === 1 ? `${(median(full.cpu) - cpu).toFixed(1)} µs` : '';
  console.log(
    `| ${target.name} | ${median(target.rps).toFixed(0)} | ${cpu.toFixed(1)} | ${(cpu / parseCpu).toFixed(2)}x | ${price} |`,
  );
}
process.exit(0);
