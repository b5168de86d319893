import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { main } from '../../src/cli/main.ts';
import { seededRandom } from '../../src/lib/random.ts';
import { promptPart } from '../../src/routing/learned/dataset.ts';
import { loadMmluPool, MmluWorkload } from '../../src/simulator/mmlu-workload.ts';
import { arrivalShape } from '../../src/simulator/month.ts';
import { formatReport } from '../../src/simulator/report.ts';
import { baselinePolicy, runSimulation, switchyardPolicy } from '../../src/simulator/run.ts';
import { loadScenario, type Scenario } from '../../src/simulator/scenario.ts';
import { mmluMissing } from '../helpers/mmlu-data.ts';

// The MMLU data is not part of this repository: without it the suite is skipped, saying why.
const scenario = (mmluMissing ? undefined : loadScenario('seed-table')) as Scenario;
const mmlu = scenario?.mmlu as NonNullable<Scenario['mmlu']>;

/** The data read here without the simulator's loader: file -> rows of [prompt, weak, strong]. */
function readCsvs(): Map<string, string[][]> {
  const files = new Map<string, string[][]>();
  for (const name of readdirSync(mmlu.data).filter((file) => file.endsWith('.csv'))) {
    const [header, ...records] = parse(readFileSync(join(mmlu.data, name), 'utf8'), {
      skip_empty_lines: true,
    }) as string[][];
    const at = [header!.indexOf('prompt'), header!.indexOf(mmlu.weak), header!.indexOf(mmlu.strong)];
    files.set(
      name,
      records.map((record) => at.map((column) => record[column]!)),
    );
  }
  return files;
}

const contaminated = new Set(
  (mmluMissing ? '' : readFileSync(mmlu.exclude!, 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => (JSON.parse(line) as { eval_prompt: string }).eval_prompt.trim()),
);
const inTrainingPart = (prompt: string) => promptPart(prompt, 1) < 0.5;

describe('seed-table scenario', { skip: mmluMissing }, () => {
  it('draws only questions outside the router training part, without the contaminated ones', () => {
    const csvs = readCsvs();
    let expected = 0;
    let training = 0;
    for (const rows of csvs.values()) {
      for (const [prompt] of rows) {
        if (contaminated.has(prompt!.trim())) continue;
        if (inTrainingPart(prompt!)) training++;
        else expected++;
      }
    }
    const pool = loadMmluPool(mmlu);
    assert.ok(training > 6000, `the training part is real: ${training} rows`);
    assert.equal(pool.items.length, expected);
    assert.equal(pool.trainingPart, training);
    for (const item of pool.items) {
      assert.ok(!inTrainingPart(item.text));
      assert.ok(!contaminated.has(item.text.trim()));
    }
    // The workload's draws too (10,000 of them: every question is likely drawn at least once).
    const workload = new MmluWorkload({ ...scenario, mmlu }, seededRandom(3));
    const drawn = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const { request, item } = workload.next('auto');
      const text = request.messages[0]!.content as string;
      assert.equal(text, item!.text);
      assert.ok(!inTrainingPart(text), 'a training-part question was drawn');
      drawn.add(text);
    }
    assert.ok(drawn.size > 5000, `draws spread over the pool: ${drawn.size} distinct`);
  });

  it('the month shape averages to the scenario rate, peaks on weekday afternoons', () => {
    const shape = arrivalShape(scenario);
    const steps = 30 * 24 * 60;
    let sum = 0;
    for (let i = 0; i < steps; i++) sum += shape.rateAt(((i + 0.5) / steps) * scenario.duration * 1000);
    assert.ok(Math.abs(sum / steps - scenario.arrival_rate) < 1e-6, String(sum / steps));
    const day = (scenario.duration * 1000) / 30;
    const at = (dayIndex: number, hour: number) => shape.rateAt(dayIndex * day + (hour / 24) * day);
    assert.ok(Math.abs(at(2, 14) - shape.peakRate) < 1e-9, 'Wednesday 14:00 is the peak');
    assert.ok(at(2, 2) < at(2, 14) / 2.9, 'night is a third of the afternoon');
    assert.ok(Math.abs(at(5, 14) - 0.6 * at(4, 14)) < 1e-9, 'Saturday at 60% of Friday');
  });

  it('runs short: the results carry the table fields, and quality is the measured correctness', async () => {
    // Two minutes of the month, and outages short enough to end inside it.
    const short: Scenario = {
      ...scenario,
      duration: 150,
      month: {
        ...scenario.month!,
        outages: scenario.month!.outages.map((outage) => ({ ...outage, duration: 20 })),
      },
    };
    const csvs = readCsvs();
    const answers = new Map<string, Array<{ file: string; row: number; text: string; model: string }>>();
    const results = [];
    for (const policy of [baselinePolicy(short), switchyardPolicy(short)]) {
      const seen: Array<{ file: string; row: number; text: string; model: string }> = [];
      answers.set(policy.name, seen);
      results.push(
        await runSimulation(short, policy, {
          onAnswer: ({ item, model }) =>
            seen.push({ file: item.file, row: item.row, text: item.text, model }),
        }),
      );
    }
    const [baseline, switchyard] = results as [(typeof results)[0], (typeof results)[0]];
    assert.match(baseline.policy, /^baseline/);
    assert.match(switchyard.policy, /^switchyard.*learned router/);
    for (const result of results) {
      assert.ok(result.requests > 600, `${result.requests} requests`);
      assert.ok(result.availability > 0 && result.availability <= 1);
      assert.ok(result.availabilityLower95 > 0 && result.availabilityLower95 <= result.availability);
      assert.ok(result.meanLatencyMs > 300 && result.meanLatencyMs < 10_000, String(result.meanLatencyMs));
      assert.ok(result.costUsd > 0);
      assert.ok(result.quality !== undefined && result.quality > 0.5 && result.quality < 1);
      assert.ok(result.recoveryS !== undefined && result.recoveryS >= 0);
      assert.equal(result.answersScored, result.successes);
      assert.ok(result.monthlyCostUsd !== undefined && result.monthlyCostUsd > result.costUsd * 1000);
    }
    assert.equal(baseline.share['gpt-4o'], 1);
    assert.ok(baseline.recoveryS! >= 10, 'baseline clients see the gpt-4o outage');
    assert.ok(switchyard.recoveryS! <= 10);
    assert.ok(switchyard.availability > baseline.availability);

    // Each answer's correctness looked up in the CSVs directly, by the model's measured stand-in.
    const share = (policy: string, columnOf: (model: string) => number) => {
      let right = 0;
      const seen = answers.get(policy)!;
      for (const answer of seen) {
        const record = csvs.get(answer.file)![answer.row]!;
        assert.equal(record[0], answer.text, `${answer.file} row ${answer.row} is the question asked`);
        assert.ok(!inTrainingPart(answer.text), 'an answered question is from the training part');
        if (record[columnOf(answer.model)] === 'True') right++;
      }
      return right / seen.length;
    };
    assert.equal(answers.get(baseline.policy)!.length, baseline.successes);
    const gpt4Share = share(baseline.policy, () => 2);
    assert.ok(Math.abs(baseline.quality! - gpt4Share) < 1e-12, `${baseline.quality} vs ${gpt4Share}`);
    const strongModels = new Set(['gpt-4o', 'claude-3-5-sonnet', 'gemini-pro']);
    const routed = share(switchyard.policy, (model) => (strongModels.has(model) ? 2 : 1));
    assert.ok(Math.abs(switchyard.quality! - routed) < 1e-12, `${switchyard.quality} vs ${routed}`);
    // The learned router sends some questions to each tier (all-weak or all-strong would be no routing).
    assert.ok(switchyard.strongShare! > 0.2 && switchyard.strongShare! < 0.9, String(switchyard.strongShare));

    const report = formatReport(short, results, short.seed);
    for (const row of [
      'mean response time',
      'availability',
      'monthly cost',
      'failure recovery time',
      'quality',
    ])
      assert.ok(report.includes(row), `the report has "${row}"`);
    assert.match(report, /gpt-4o-mini: .*\$0\.15\/\$0\.6, weak/);
    assert.match(report, /targets:/);
  });

  it('switchyard simulate --json carries the fields per policy', async () => {
    const printed: string[] = [];
    const log = console.log;
    const write = process.stderr.write;
    console.log = (text: string) => printed.push(text);
    process.stderr.write = () => true;
    let code: number;
    try {
      code = await main(['simulate', '--scenario', 'seed-table', '--duration', '60', '--json']);
    } finally {
      console.log = log;
      process.stderr.write = write;
    }
    assert.equal(code, 0);
    const output = JSON.parse(printed.join('\n')) as {
      parameters: { models: Record<string, { output_cost_per_1k: number }>; mmlu: { drawnFrom: number } };
      results: Array<Record<string, unknown>>;
    };
    assert.equal(output.parameters.models['gpt-4o']!.output_cost_per_1k, 0.01);
    assert.equal(output.parameters.mmlu.drawnFrom, loadMmluPool(mmlu).items.length);
    const policies = output.results.map((result) => String(result.policy));
    assert.ok(policies[0]!.startsWith('baseline') && policies[1]!.startsWith('switchyard'), policies.join());
    for (const result of output.results) {
      for (const field of [
        'availability',
        'availabilityLower95',
        'meanLatencyMs',
        'costUsd',
        'quality',
        'recoveryS',
      ])
        assert.equal(typeof result[field], 'number', `${result.policy}: ${field}`);
    }
  });
});
