/**
 * The parameter lines of the results report (what the workload, traffic shape, router and pool
 * were), and the check of a scenario's targets: every number the table depends on is printed.
 */
import { readFileSync } from 'node:fs';
import { loadMmluPool } from './mmlu-workload.ts';
import { arrivalShape, MONTH_SECONDS, monthScale } from './month.ts';
import type { SimulationResult } from './run.ts';
import { daySeconds, monthOutages, outageStartS, type Scenario, scenarioModels } from './scenario.ts';

const count = (value: number) => value.toLocaleString('en-US');
const pct = (value: number, digits = 1) => `${(value * 100).toFixed(digits)}%`;

/** What the requests were: the task mix, or the MMLU questions, and how they arrived. */
export function workloadLines(scenario: Scenario): string[] {
  const arrival = scenario.month ? 'Poisson, shaped as a month (below)' : 'Poisson';
  const head = `${scenario.duration} s simulated · ${scenario.arrival_rate} req/s ${arrival} · ${scenario.stream ? 'streaming' : 'non-streaming'}`;
  const mmlu = scenario.mmlu;
  if (!mmlu) {
    return [
      `${head} · mix ${Object.entries(scenario.mix)
        .map(([task, share]) => `${task} ${share}`)
        .join(', ')}`,
      `answer tokens ${Object.entries(scenario.output_tokens)
        .map(([task, tokens]) => `${task} ${tokens}`)
        .join(', ')} (each 50-100%) · documents ${scenario.document_tokens} tokens`,
      ...monthLines(scenario),
    ];
  }
  const pool = loadMmluPool(mmlu);
  const labelled = Object.entries(mmlu.labels)
    .map(([model, label]) => `${model} -> ${label === mmlu.strong ? 'strong' : 'weak'}`)
    .join(', ');
  return [
    head,
    `prompts: MMLU questions (RouteLLM's per-prompt correctness) from ${mmlu.data}: ${pool.files.length} files, ${count(pool.rows)} rows;` +
      ` left out: ${pool.excluded} contaminated${mmlu.exclude ? ` (${mmlu.exclude})` : ''}, ${count(pool.trainingPart)} in the router's training part` +
      ` (promptPart(prompt, ${mmlu.split.seed}) < ${mmlu.split.from})${pool.unlabelled ? `, ${pool.unlabelled} unlabelled` : ''};` +
      ` ${count(pool.items.length)} drawn from, uniformly with replacement`,
    `measured models on those: weak ${mmlu.weak} ${pct(pool.weakShare)} correct, strong ${mmlu.strong} ${pct(pool.strongShare)} correct`,
    `each request: the question as the only (user) message, max_tokens ${mmlu.answer_tokens} (each answer 50-100% of it); an answer is correct exactly when the measured model its model stands for answered correctly`,
    `labels (pool model -> measured model whose answers it gives; also the router labels): ${labelled}`,
    ...monthLines(scenario),
    ...routerLines(scenario),
  ];
}

function monthLines(scenario: Scenario): string[] {
  const month = scenario.month;
  const day = daySeconds(scenario);
  if (!month || day === undefined) return [];
  const shape = arrivalShape(scenario);
  const listed = month.outages.map((outage) => {
    const start = outageStartS(scenario, outage);
    const when = `day ${outage.day} ${clockTime(outage.hour)}`;
    return start < scenario.duration
      ? `${outage.model} ${outage.mode} on ${when} for ${outage.duration} s (simulated ${start} s to ${start + outage.duration} s)`
      : `${outage.model} ${outage.mode} on ${when} (after the run's end: not simulated)`;
  });
  return [
    `month: ${month.days} days of ${day.toFixed(0)} s (an hour = ${(day / 24).toFixed(1)} s), day 1 a ${month.first_weekday};` +
      ` rate = mean x (1 + ${month.diurnal_amplitude} cos(2π (hour - ${month.peak_hour}) / 24)), x ${month.weekend_factor} on weekends,` +
      ` scaled to a mean of ${scenario.arrival_rate} req/s (peak ${shape.peakRate.toFixed(2)} req/s)`,
    `outages (real seconds: breakers and probes run on real time, only the calendar is compressed): ${listed.join('; ') || 'none'}`,
    `monthly cost = run cost x ${monthScale(scenario).toFixed(1)} (${MONTH_SECONDS} s in 30 days / ${scenario.duration} s simulated): the run covers every hour of every day of the shape in proportion, at the month's mean rate`,
  ];
}

function clockTime(hour: number): string {
  const minutes = Math.round(hour * 60);
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function routerLines(scenario: Scenario): string[] {
  const learned = scenario.learned;
  if (!learned) return [];
  let training = '';
  try {
    const file = JSON.parse(readFileSync(learned.router, 'utf8')) as {
      training?: { rows?: number; split?: { rule?: string; trainShare?: number; seed?: number } };
    };
    const split = file.training?.split;
    training = ` (trained on ${file.training?.rows ?? '?'} rows${split ? `, ${split.rule} with trainShare ${split.trainShare}, seed ${split.seed}` : ''})`;
  } catch {
    training = ' (unreadable)';
  }
  return [
    `switchyard routes with the learned router ${learned.router}${training}: quality floor ${learned.quality_floor}, exploration 0, default priority balanced`,
  ];
}

/** One line per pool model: latency, failures, outages, list prices, and its label when scored. */
export function modelLines(scenario: Scenario): string[] {
  const mmlu = scenario.mmlu;
  return [
    `models (ttft median ms / sigma, tokens/s, 5xx rate, 429 rate, USD per 1M input/output tokens${mmlu ? ', stands for' : ''}, outages):`,
    ...Object.entries(scenarioModels(scenario)).map(([name, model]) => {
      const sim = model.simulate as Record<string, unknown>;
      const outages = (sim.outages as Array<Record<string, unknown>> | undefined) ?? [];
      const prices = `$${round((model.input_cost_per_1k ?? 0) * 1000)}/$${round((model.output_cost_per_1k ?? 0) * 1000)}`;
      const label = mmlu ? `, ${mmlu.labels[name] === mmlu.strong ? 'strong' : 'weak'}` : '';
      const windows = outages.length
        ? `, ${outages.map((o) => `${o.mode} ${o.start}s+${o.duration}s${o.every ? ` every ${o.every}s` : ''}`).join('; ')}`
        : '';
      return `  ${name}: ${sim.ttft_ms}/${sim.ttft_sigma}, ${sim.tokens_per_second} tok/s, ${sim.error_rate}, ${sim.rate_limit_rate}, ${prices}${label}${windows}`;
    }),
  ];
}

const round = (value: number) => Number(value.toPrecision(6));

/** PASS/MISS per target, for each Switchyard run against the baseline. */
export function targetLines(scenario: Scenario, results: SimulationResult[]): string[] {
  const targets = scenario.targets;
  const [base, ...others] = results;
  if (!targets || !base) return [];
  const lines: string[] = ['targets:'];
  for (const run of others.filter((result) => result.policy.startsWith('switchyard'))) {
    const check = (label: string, pass: boolean | undefined, measured: string) =>
      lines.push(`  ${pass === undefined ? 'n/a ' : pass ? 'PASS' : 'MISS'}  ${label}: ${measured}`);
    const relative = (before: number, after: number) => (before ? (after - before) / before : 0);
    if (targets.cost_change !== undefined) {
      const delta = relative(base.monthlyCostUsd ?? base.costUsd, run.monthlyCostUsd ?? run.costUsd);
      check(`cost change <= ${pct(targets.cost_change, 0)}`, delta <= targets.cost_change, pct(delta));
    }
    if (targets.latency_change !== undefined) {
      const delta = relative(base.meanLatencyMs, run.meanLatencyMs);
      check(
        `mean latency change <= ${pct(targets.latency_change, 0)}`,
        delta <= targets.latency_change,
        pct(delta),
      );
    }
    if (targets.availability_lower95 !== undefined) {
      check(
        `availability lower bound >= ${pct(targets.availability_lower95)}`,
        run.availabilityLower95 >= targets.availability_lower95,
        pct(run.availabilityLower95, 3),
      );
    }
    if (targets.recovery_s !== undefined) {
      check(
        `recovery <= ${targets.recovery_s} s`,
        run.recoveryS === undefined ? undefined : run.recoveryS <= targets.recovery_s,
        run.recoveryS === undefined
          ? 'no outage'
          : `${run.recoveryS} s (baseline ${base.recoveryS ?? '-'} s)`,
      );
    }
    if (targets.quality_ratio !== undefined) {
      const ratio = base.quality ? (run.quality ?? 0) / base.quality : undefined;
      check(
        `quality >= ${pct(targets.quality_ratio, 0)} of the baseline's`,
        ratio === undefined ? undefined : ratio >= targets.quality_ratio,
        ratio === undefined
          ? 'not scored'
          : `${pct(ratio)} (${pct(run.quality ?? 0)} vs ${pct(base.quality ?? 0)})`,
      );
    }
  }
  return lines;
}

/** The parameters behind a run as data (for `--json`): the merged pool, the questions, the calendar. */
export function parameterRecord(scenario: Scenario): Record<string, unknown> {
  const record: Record<string, unknown> = { models: scenarioModels(scenario) };
  if (scenario.mmlu) {
    const { items, ...counts } = loadMmluPool(scenario.mmlu);
    record.mmlu = { ...counts, drawnFrom: items.length };
  }
  if (scenario.month) {
    record.month = {
      daySeconds: daySeconds(scenario),
      peakRate: arrivalShape(scenario).peakRate,
      monthlyCostScale: monthScale(scenario),
      outages: monthOutages(scenario),
    };
  }
  if (scenario.learned) {
    try {
      const file = JSON.parse(readFileSync(scenario.learned.router, 'utf8')) as {
        labels?: unknown;
        training?: unknown;
      };
      record.router = { file: scenario.learned.router, labels: file.labels, training: file.training };
    } catch {
      record.router = { file: scenario.learned.router, unreadable: true };
    }
  }
  return record;
}
