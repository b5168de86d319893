/**
 * How a run lived through its outages: when the failing model's breaker opened, when it answered
 * again after the outage, and how long clients saw elevated errors (the brief's "failure recovery
 * time").
 */
import type { RawConfig } from '../config/schema.ts';
import { monthOutages, type Scenario } from './scenario.ts';

export interface OutageTiming {
  model: string;
  startS: number;
  endS: number;
  /** Seconds from outage start to the model's breaker opening during it (undefined = never). */
  breakerOpenAfterS: number | undefined;
  /** Seconds from outage end to the model's next successful answer. */
  trafficBackAfterS: number | undefined;
  /** Seconds clients saw an error rate above 20% (10-s windows from the outage start). */
  clientRecoveryS: number;
}

export interface OutageWindow {
  model: string;
  startS: number;
  endS: number;
}

/** Error rate above which a 10-second window counts as "clients see the failure". */
const ELEVATED_ERROR_RATE = 0.2;
const WINDOW_MS = 10_000;

/** The outages a run times: the `watch` model's first one, and every outage of a `month:` scenario. */
export function watchedOutages(scenario: Scenario, pool: RawConfig['models']): OutageWindow[] {
  const windows: OutageWindow[] = [];
  const add = (model: string, start: number, duration: number) => {
    if (!windows.some((window) => window.model === model && window.startS === start))
      windows.push({ model, startS: start, endS: start + duration });
  };
  if (scenario.watch) {
    const simulate = pool[scenario.watch]?.simulate as
      | { outages?: Array<{ start: number; duration: number }> }
      | undefined;
    const first = simulate?.outages?.[0];
    if (first) add(scenario.watch, first.start, first.duration);
  }
  for (const outage of monthOutages(scenario)) add(outage.model, outage.start, outage.duration);
  return windows;
}

export function timeOutages(
  windows: OutageWindow[],
  events: {
    breakerOpens: Array<{ model: string; at: number }>;
    successesByModel: Array<{ model: string; at: number }>;
    outcomes: Array<{ at: number; ok: boolean }>;
  },
): OutageTiming[] {
  return windows.map(({ model, startS, endS }) => {
    const startMs = startS * 1000;
    const endMs = endS * 1000;
    const opened = events.breakerOpens.find(
      (open) => open.model === model && open.at >= startMs && open.at < endMs,
    );
    const back = events.successesByModel.find((success) => success.model === model && success.at >= endMs);
    return {
      model,
      startS,
      endS,
      breakerOpenAfterS: opened ? (opened.at - startMs) / 1000 : undefined,
      trafficBackAfterS: back ? (back.at - endMs) / 1000 : undefined,
      clientRecoveryS: elevatedErrorSpan(events.outcomes, startMs) / 1000,
    };
  });
}

/** How long, from `startMs`, consecutive 10-s windows had an error rate above 20%. */
function elevatedErrorSpan(outcomes: Array<{ at: number; ok: boolean }>, startMs: number): number {
  let span = 0;
  // Outcomes are pushed as requests finish, not in start order: scan them all per window.
  for (let from = startMs; ; from += WINDOW_MS) {
    let inWindow = 0;
    let failed = 0;
    for (const outcome of outcomes) {
      if (outcome.at < from || outcome.at >= from + WINDOW_MS) continue;
      inWindow++;
      if (!outcome.ok) failed++;
    }
    if (inWindow === 0 || failed / inWindow <= ELEVATED_ERROR_RATE) return span;
    span += WINDOW_MS;
  }
}
