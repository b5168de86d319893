/** The results table, in the shape of the design brief's "before -> after" table. */

import { monthScale } from './month.ts';
import { modelLines, targetLines, workloadLines } from './report-parameters.ts';
import type { SimulationResult } from './run.ts';
import type { Scenario } from './scenario.ts';

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

type Row = [
  string,
  (result: SimulationResult) => string,
  ((before: SimulationResult, after: SimulationResult) => string)?,
];

export function formatReport(scenario: Scenario, results: SimulationResult[], seed: number): string {
  const [base, ...others] = results;
  if (!base) return '';
  const rows: Row[] = [
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
    [
      'cost per 1,000 answered requests',
      (r) => `$${(r.successes ? (r.costUsd / r.successes) * 1000 : 0).toFixed(3)}`,
      (b, a) => change(b.successes ? b.costUsd / b.successes : 0, a.successes ? a.costUsd / a.successes : 0),
    ],
    ...(base.monthlyCostUsd !== undefined
      ? [
          [
            `monthly cost (run cost x ${monthScale(scenario).toFixed(1)})`,
            (r: SimulationResult) => (r.monthlyCostUsd === undefined ? '-' : usd(r.monthlyCostUsd)),
            (b: SimulationResult, a: SimulationResult) =>
              change(b.monthlyCostUsd ?? 0, a.monthlyCostUsd ?? 0),
          ] as Row,
        ]
      : []),
    ...(base.quality !== undefined
      ? [
          [
            'quality (share of answers correct)',
            (r: SimulationResult) => (r.quality === undefined ? '-' : percent(r.quality)),
            (b: SimulationResult, a: SimulationResult) =>
              b.quality ? `${(((a.quality ?? 0) / b.quality) * 100).toFixed(1)}% of baseline` : '',
          ] as Row,
          [
            'answers by a strong-labelled model',
            (r: SimulationResult) => (r.strongShare === undefined ? '-' : percent(r.strongShare)),
          ] as Row,
        ]
      : []),
    ['upstream attempts per request', (r) => r.attemptsPerRequest.toFixed(3)],
    ['hedges per request', (r) => r.hedgesPerRequest.toFixed(3)],
  ];
  const outageCount = Math.max(...results.map((result) => result.outages?.length ?? 0));
  if (outageCount > 0) {
    rows.push([
      outageCount > 1
        ? 'failure recovery time (clients see >20% errors, longest outage)'
        : 'failure recovery time (clients see >20% errors)',
      (r) => (r.recoveryS === undefined ? '-' : `${r.recoveryS.toFixed(0)} s`),
    ]);
    for (let index = 0; index < outageCount; index++) {
      const timing = (r: SimulationResult) => r.outages?.[index];
      const which = outageCount > 1 ? ` (${results.find(timing)?.outages?.[index]?.model ?? ''})` : '';
      rows.push(
        ...(outageCount > 1
          ? [
              [
                `recovery time${which}`,
                (r) => (timing(r) ? `${timing(r)!.clientRecoveryS.toFixed(0)} s` : '-'),
              ] as Row,
            ]
          : []),
        [
          `breaker open after outage start${which}`,
          (r) => {
            const after = timing(r)?.breakerOpenAfterS;
            return after === undefined ? 'never' : `${after.toFixed(1)} s`;
          },
        ],
        [
          `traffic back after recovery${which}`,
          (r) => {
            const after = timing(r)?.trafficBackAfterS;
            return after === undefined ? 'never' : `${after.toFixed(1)} s`;
          },
        ],
      );
    }
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
    `seed ${seed} · ${workloadLines(scenario)[0]}`,
    ...workloadLines(scenario).slice(1),
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
    ...modelLines(scenario),
    ...(scenario.targets ? ['', ...targetLines(scenario, results)] : []),
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
