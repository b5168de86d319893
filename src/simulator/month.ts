/**
 * A compressed month of traffic: the run's duration divided into days, each with a daily cycle
 * (peak in the afternoon, trough at night) and lower traffic at weekends, scaled so the mean rate
 * over the month is the scenario's `arrival_rate`. Arrivals are a non-homogeneous Poisson process
 * drawn by thinning, so they stay deterministic for a seed.
 */
import type { RandomSource } from '../lib/random.ts';
import { type Scenario, weekdayIndex } from './scenario.ts';

/** Seconds in the 30-day month the monthly cost is scaled to. */
export const MONTH_SECONDS = 30 * 86_400;

export interface ArrivalShape {
  /** Requests per second at `ms` of simulated time. */
  rateAt(ms: number): number;
  /** The highest rate anywhere in the run (the thinning envelope). */
  readonly peakRate: number;
}

/** The scenario's arrival rate as a function of time: flat, or the month's cycles. */
export function arrivalShape(scenario: Scenario): ArrivalShape {
  const month = scenario.month;
  if (!month) return { rateAt: () => scenario.arrival_rate, peakRate: scenario.arrival_rate };
  const dayMs = (scenario.duration * 1000) / month.days;
  const firstWeekday = weekdayIndex(month.first_weekday);
  const isWeekend = (day: number) => (firstWeekday + day) % 7 >= 5;
  // The daily cosine averages to 1 over a whole day, so the mean multiplier is the weekday/weekend mix.
  let weekendDays = 0;
  for (let day = 0; day < month.days; day++) if (isWeekend(day)) weekendDays++;
  const meanMultiplier = (month.days - weekendDays + weekendDays * month.weekend_factor) / month.days;
  const scale = scenario.arrival_rate / meanMultiplier;
  const dayFactor = (day: number) => (isWeekend(day) ? month.weekend_factor : 1);
  return {
    rateAt(ms) {
      const day = Math.min(month.days - 1, Math.floor(ms / dayMs));
      const hour = ((ms - day * dayMs) / dayMs) * 24;
      const diurnal = 1 + month.diurnal_amplitude * Math.cos((2 * Math.PI * (hour - month.peak_hour)) / 24);
      return scale * dayFactor(day) * diurnal;
    },
    peakRate: scale * Math.max(1, month.weekend_factor) * (1 + month.diurnal_amplitude),
  };
}

/**
 * The next arrival after `afterMs`: exponential gaps at the peak rate, each kept with probability
 * rate / peak (thinning). A flat shape keeps every candidate without a second draw.
 */
export function nextArrivalMs(shape: ArrivalShape, random: RandomSource, afterMs: number): number {
  let at = afterMs;
  for (;;) {
    at += (-Math.log(1 - random()) / shape.peakRate) * 1000;
    const rate = shape.rateAt(at);
    if (rate >= shape.peakRate || random() * shape.peakRate < rate) return at;
  }
}

/** Factor from the run's simulated seconds to a 30-day month at the same mean rate. */
export function monthScale(scenario: Scenario): number {
  return MONTH_SECONDS / scenario.duration;
}
