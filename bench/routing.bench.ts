/**
 * Micro-benchmark: the cost of one full routing decision (analyze, tokenization included, then
 * matchRule, then decideRoute) over a 20-model pool, for a ~200-token and a ~20k-token prompt.
 *
 * Run: node --import tsx bench/routing.bench.ts
 * Prints one JSON line per case, then a human summary. Timing: after a warm-up, batches of
 * decisions are timed with process.hrtime.bigint; each batch gives one per-decision time, and the
 * median and p99 are over batches (single decisions are too short to time one by one). Prompts
 * rotate through distinct texts so the tokenizer's merge cache is not flattering the numbers.
 */
import type { ModelSpec, Strength } from '../src/config/model-spec.ts';
import type { RoutingRuleConfig } from '../src/config/schema.ts';
import { createAnalyzer, ruleText } from '../src/routing/analyze.ts';
import { decideRoute } from '../src/routing/decide.ts';
import { seededRandom } from '../src/routing/random.ts';
import { compileRules, matchRule } from '../src/routing/rules.ts';
import { countTokens } from '../src/routing/tokenizer.ts';
import type { HealthSnapshot, ModelHealth, RoutingPolicy } from '../src/routing/types.ts';
import type { ChatRequest } from '../src/types/openai.ts';

const analysis = { long_context_tokens: 8000, simple_qa_max_tokens: 500, exact_count_chars: 24_000 };
const random = seededRandom(42);

const strengthSets: Strength[][] = [
  ['complex_reasoning', 'coding', 'creative_writing'],
  ['long_context', 'analysis', 'document_qa'],
  ['multimodal', 'vision', 'realtime'],
  ['simple_qa', 'classification'],
];

function pool(size: number): ModelSpec[] {
  return Array.from({ length: size }, (_, i): ModelSpec => {
    const ms = 10_000 + i * 1500;
    return {
      name: `model-${i}`,
      provider: 'openai',
      baseUrl: undefined,
      apiKey: undefined,
      upstreamModel: `model-${i}`,
      strengths: strengthSets[i % strengthSets.length]!,
      inputCostPer1k: 0.0002 * (1 + i),
      outputCostPer1k: 0.0006 * (1 + i),
      weight: 50 + ((i * 37) % 100),
      quality: 4 + (i % 6),
      contextWindow: i % 3 === 0 ? 200_000 : 128_000,
      maxOutputTokens: 4096,
      capabilities: new Set(['tools', 'json', 'streaming', ...(i % 2 === 0 ? (['vision'] as const) : [])]),
      fallbacks: i % 5 === 0 ? [`model-${(i + 1) % size}`] : [],
      timeouts: { connectMs: 2000, firstTokenMs: ms, idleMs: ms, totalMs: ms },
      breaker: {
        failureThreshold: 5,
        recoveryTimeoutMs: 30_000,
        maxRecoveryTimeoutMs: 300_000,
        failureRate: 0.5,
        minRequests: 20,
        windowMs: 30_000,
        halfOpenMax: 1,
      },
      rpm: undefined,
      tpm: undefined,
      maxConcurrency: undefined,
      maxQueue: 0,
      headers: {},
      healthCheck: { enabled: false, intervalMs: 30_000 },
      simulate: undefined,
    };
  });
}

/** Some models with data, one open, one half-open, one saturated: every branch of the scorer runs. */
function health(models: ModelSpec[]): HealthSnapshot {
  const map = new Map<string, ModelHealth>();
  models.forEach((spec, i) => {
    const entry: ModelHealth = { breaker: 'closed', healthy: true };
    if (i % 2 === 0) entry.latencyMs = 400 + i * 30;
    if (i === 3) entry.breaker = 'open';
    if (i === 4) entry.breaker = 'half_open';
    if (i === 5) entry.saturated = true;
    map.set(spec.name, entry);
  });
  return { get: (model) => map.get(model) };
}

const rules: RoutingRuleConfig[] = [
  { name: 'sql', match: { regex: '\\bSELECT\\b[\\s\\S]+\\bFROM\\b', regex_flags: 'i' }, models: ['model-0'] },
  { name: 'translate', match: { keywords: ['translate', '翻译'], regex_flags: 'i' }, model: 'model-3' },
  { name: 'tenant', match: { headers: { 'x-tenant': 'acme' }, regex_flags: 'i' }, priority: 'cost' },
];

const words = 'the router sends each request to the model that fits its task budget and latency while'.split(
  ' ',
);
const chinese = '路由层根据任务类型成本和延迟为每个请求选择最合适的模型并在失败时切换到备用模型'.split('');

/** Distinct prompts of about `targetTokens` tokens: mixed English and Chinese sentences, seeded. */
function prompts(count: number, targetTokens: number): ChatRequest[] {
  const source = seededRandom(targetTokens);
  const pick = <T>(list: T[]) => list[Math.floor(source() * list.length)]!;
  const sentence = () =>
    source() < 0.75
      ? `${Array.from({ length: 8 + Math.floor(source() * 16) }, () => pick(words)).join(' ')}. `
      : `${Array.from({ length: 8 + Math.floor(source() * 20) }, () => pick(chinese)).join('')}。`;
  return Array.from({ length: count }, (_, n) => {
    const parts = [`Request ${n}: `];
    let tokens = 0;
    while (tokens < targetTokens) {
      const next = sentence();
      tokens += countTokens(next, { exactChars: Number.MAX_SAFE_INTEGER }).tokens;
      parts.push(next);
    }
    return {
      model: 'auto',
      messages: [
        { role: 'system', content: 'You are a helpful assistant for the operations team.' },
        { role: 'user', content: parts.join('') },
      ],
    };
  });
}

/** Nanoseconds per iteration of a trivial loop: how fast this machine is, to compare runs across machines. */
function calibrate(): number {
  let x = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < 20_000_000; i++) x = (x + i * 7) | 0;
  const ns = Number(process.hrtime.bigint() - start) / 20_000_000;
  return x === 0.5 ? 0 : ns; // uses x, so the loop is not optimised away
}

interface Stats {
  /** Wall time (process.hrtime.bigint) per decision. */
  medianUs: number;
  p99Us: number;
  meanUs: number;
  /** CPU time (process.cpuUsage) per decision: steadier than wall time on a shared machine. */
  cpuMedianUs: number;
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Times `batches` batches of `batchSize` calls; one per-call figure per batch. */
function measure(run: (i: number) => void, batches: number, batchSize: number, warmup: number): Stats {
  for (let i = 0; i < warmup; i++) run(i);
  const wall: number[] = [];
  const cpu: number[] = [];
  let n = 0;
  for (let b = 0; b < batches; b++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < batchSize; i++) run(n++);
    wall.push(Number(process.hrtime.bigint() - start) / 1000 / batchSize);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / batchSize);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mean = wall.reduce((sum, value) => sum + value, 0) / wall.length;
  return {
    medianUs: percentile(wall, 0.5),
    p99Us: percentile(wall, 0.99),
    meanUs: mean,
    cpuMedianUs: percentile(cpu, 0.5),
  };
}

const models = pool(20);
const snapshot = health(models);
const analyze = createAnalyzer(analysis);
const compiled = compileRules(rules);
const headers = { 'content-type': 'application/json', 'x-request-id': 'bench' };
const policy: RoutingPolicy = {
  priority: 'balanced',
  balancedWeights: { cost: 1, speed: 1, quality: 1 },
  fallbackCount: 2,
  nearTop: 0.1,
  unhealthyFactor: 0.3,
};

function decideOnce(request: ChatRequest) {
  const rule = matchRule(compiled, { text: ruleText(request), headers });
  const features = analyze(request, rule);
  return decideRoute(features, models, snapshot, rule ? { ...policy, rule } : policy, random);
}

const cases = [
  { name: '200-token prompt', requests: prompts(64, 200), batches: 400, batchSize: 50, warmup: 5000 },
  { name: '20k-token prompt', requests: prompts(8, 20_000), batches: 60, batchSize: 5, warmup: 50 },
  // Ten times longer than the last: the cost must stay flat (the tokenizer samples a fixed budget).
  { name: '200k-token prompt', requests: prompts(4, 200_000), batches: 30, batchSize: 2, warmup: 10 },
];

/** The text analyze tokenizes for these requests (system + user, no tools). */
const tokenText = (request: ChatRequest) =>
  request.messages.map((message) => String(message.content)).join('\n');

const nsPerLoop = calibrate();
const summary: string[] = [];
for (const testCase of cases) {
  const { requests, batches, batchSize, warmup } = testCase;
  const texts = requests.map(tokenText);
  const features = requests.map((request) => analyze(request));
  const sample = features[0]!;
  const pick = <T>(list: T[], i: number) => list[i % list.length]!;
  const full = measure((i) => decideOnce(pick(requests, i)), batches, batchSize, warmup);
  const analyzeOnly = measure((i) => analyze(pick(requests, i)), batches, batchSize, warmup);
  const tokenizeOnly = measure(
    (i) => countTokens(pick(texts, i), { exactChars: analysis.exact_count_chars }),
    batches,
    batchSize,
    warmup,
  );
  const decideOnly = measure(
    (i) => decideRoute(pick(features, i), models, snapshot, policy, random),
    400,
    200,
    5000,
  );
  const result = {
    bench: 'routing.decision',
    case: testCase.name,
    models: models.length,
    machineNsPerLoop: Number(nsPerLoop.toFixed(2)),
    promptTokens: sample.promptTokens,
    tokensEstimated: sample.tokensEstimated,
    promptChars: texts[0]!.length,
    task: sample.task,
    full,
    analyze: analyzeOnly,
    tokenize: tokenizeOnly,
    decide: decideOnly,
  };
  console.log(JSON.stringify(result));
  summary.push(
    `${testCase.name} (${result.promptTokens} tokens${sample.tokensEstimated ? ', sampled' : ''}, ` +
      `${result.promptChars} chars, task ${sample.task}): full decision median ${full.medianUs.toFixed(1)} µs, ` +
      `p99 ${full.p99Us.toFixed(1)} µs (CPU median ${full.cpuMedianUs.toFixed(1)} µs); of which analyze ${analyzeOnly.medianUs.toFixed(1)} µs ` +
      `(tokenizer ${tokenizeOnly.medianUs.toFixed(1)} µs), decideRoute ${decideOnly.medianUs.toFixed(2)} µs`,
  );
}
console.log(
  `\nrouting decision, ${models.length}-model pool (median / p99 per decision; ` +
    `this machine: ${nsPerLoop.toFixed(2)} ns per trivial loop iteration):`,
);
for (const line of summary) console.log(`  ${line}`);
