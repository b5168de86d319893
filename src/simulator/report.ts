/** The results table, in the shape of the design brief's "before -> after" table. */

import type { SimulationResult } from './run.ts';
import type { Scenario } from './scenario.ts';
import { scenarioModels } from './scenario.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const percent = (value: number) => `${(value * 100).toFixed(3)}%`;
const usd = (value: number) => `$${value.toFixed(2)}`;

function change(before: number, after: number, lowerIsBetter = true): string {
  if (before === 0) return '';
  const delta = (after - before) / before;
  const sign = delta > 0 ? '+' : '';
  const better = lowerIsBetter ? delta < 0 : delta > 0;
  return `${sign}${(delta * 100).toFixed(1)}%${Math.abs(delta) < 0.005 ? '' : better ? ' better' : ' worse'}`;
}

export function formatReport(scenario: Scenario, results: SimulationResult[], seed: number): string {
  const [base, ...others] = results;
  if (!base) return '';
  const rows: Array<
    [
      string,
      (result: SimulationResult) => string,
      ((before: SimulationResult, after: SimulationResult) => string)?,
    ]
  > = [
    ['requests', (r) => String(r.requests)],
    [
      'mean response time',
      (r) => seconds(r.meanLatencyMs),
      (b, a) => change(b.meanLatencyMs, a.meanLatencyMs),
    ],
    ['p99 response time', (r) => seconds(r.p99LatencyMs), (b, a) => change(b.p99LatencyMs, a.p99LatencyMs)],
    ['mean time to first token', (r) => seconds(r.meanTtftMs), (b, a) => change(b.meanTtftMs, a.meanTtftMs)],
    ['p99 time to first token', (r) => seconds(r.p99TtftMs), (b, a) => change(b.p99TtftMs, a.p99TtftMs)],
    [
      'availability',
      (r) => percent(r.availability),
      (b, a) => `${((a.availability - b.availability) * 100).toFixed(2)} pts`,
    ],
    ['availability, 95% lower bound', (r) => percent(r.availabilityLower95)],
    ['cost', (r) => usd(r.costUsd), (b, a) => change(b.costUsd, a.costUsd)],
    ['upstream attempts per request', (r) => r.attemptsPerRequest.toFixed(3)],
    ['hedges per request', (r) => r.hedgesPerRequest.toFixed(3)],
  ];
  if (base.outage || others.some((result) => result.outage)) {
    rows.push(
      [
        'failure recovery time (clients see >20% errors)',
        (r) => (r.outage ? `${r.outage.clientRecoveryS.toFixed(0)} s` : '-'),
      ],
      [
        'breaker open after outage start',
        (r) =>
          r.outage?.breakerOpenAfterS === undefined ? 'never' : `${r.outage.breakerOpenAfterS.toFixed(1)} s`,
      ],
      [
        'traffic back after recovery',
        (r) =>
          r.outage?.trafficBackAfterS === undefined ? 'never' : `${r.outage.trafficBackAfterS.toFixed(1)} s`,
      ],
    );
  }
  const header = [
    'metric',
    ...results.map((result) => result.policy),
    ...others.map((result) => `change (${shortName(result.policy)})`),
  ];
  const body = rows.map(([label, value, delta]) => [
    label,
    ...results.map(value),
    ...others.map((result) => (delta ? delta(base, result) : '')),
  ]);
  const hedged = results.find((result) => result.hedgesPerRequest > 0);
  const unhedged =
    hedged && results.find((result) => result !== hedged && result.policy.startsWith('switchyard'));
  const hedgingLine =
    hedged && unhedged
      ? `hedging alone (Switchyard with vs without): p99 time to first token ${seconds(unhedged.p99TtftMs)} -> ${seconds(hedged.p99TtftMs)} (${change(unhedged.p99TtftMs, hedged.p99TtftMs)}), p99 response time ${seconds(unhedged.p99LatencyMs)} -> ${seconds(hedged.p99LatencyMs)} (${change(unhedged.p99LatencyMs, hedged.p99LatencyMs)}), extra upstream requests ${(hedged.hedgesPerRequest * 100).toFixed(1)}%`
      : undefined;
  const lines = [
    `scenario: ${scenario.name} — ${scenario.description.trim()}`,
    `seed ${seed} · ${scenario.duration} s simulated · ${scenario.arrival_rate} req/s Poisson · ${scenario.stream ? 'streaming' : 'non-streaming'} · mix ${Object.entries(
      scenario.mix,
    )
      .map(([task, share]) => `${task} ${share}`)
      .join(', ')}`,
    `answer tokens ${Object.entries(scenario.output_tokens)
      .map(([task, tokens]) => `${task} ${tokens}`)
      .join(', ')} (each 50-100%) · documents ${scenario.document_tokens} tokens`,
    '',
    table([header, ...body]),
    ...(hedgingLine ? ['', hedgingLine] : []),
    '',
    'traffic share:',
    ...results.map(
      (result) =>
        `  ${shortName(result.policy)}: ${Object.entries(result.share)
          .sort((a, b) => b[1] - a[1])
          .map(([model, share]) => `${model} ${(share * 100).toFixed(1)}%`)
          .join(', ')}`,
    ),
    '',
    'models (ttft median ms / sigma, tokens/s, 5xx rate, 429 rate, outages):',
    ...Object.entries(scenarioModels(scenario)).map(([name, model]) => {
      const sim = model.simulate as Record<string, unknown>;
      const outages = (sim.outages as Array<Record<string, unknown>> | undefined) ?? [];
      return `  ${name}: ${sim.ttft_ms}/${sim.ttft_sigma}, ${sim.tokens_per_second} tok/s, ${sim.error_rate}, ${sim.rate_limit_rate}${outages.length ? `, ${outages.map((o) => `${o.mode} ${o.start}s+${o.duration}s${o.every ? ` every ${o.every}s` : ''}`).join('; ')}` : ''}`;
    }),
    '',
    `simulated in ${results.map((result) => `${(result.wallMs / 1000).toFixed(1)} s`).join(' + ')} of wall time`,
  ];
  return lines.join('\n');
}

function shortName(policy: string): string {
  return policy.split(' (')[0] ?? policy;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}
