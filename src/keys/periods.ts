/**
 * Budget periods, in UTC: a day starts at 00:00 UTC, a week on Monday 00:00 UTC (ISO weeks), a
 * month on the 1st at 00:00 UTC; `total` never ends. A period's label names its budget bucket
 * (`day:2026-12-01`, `week:2026-11-30` (its Monday), `month:2026-12`, `total`), so the spend of a
 * new period starts from zero by construction, and every instance agrees on the boundary.
 *
 * @example
 * currentPeriod('day', Date.UTC(2026, 11, 1, 15)) // { label: 'day:2026-12-01', startMs: …T00:00Z, endMs: 2026-12-02T00:00Z }
 */

export type BudgetPeriod = 'day' | 'week' | 'month' | 'total';
export const budgetPeriods = ['day', 'week', 'month', 'total'] as const;

export interface PeriodSpan {
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** When a `total` budget's bucket expires: far enough never to matter, small enough for any store. */
const totalEndMs = Date.UTC(9999, 0, 1);
const dayMs = 86_400_000;

/** The last span computed per period: every request of a day asks for the same one. */
const lastSpans = new Map<BudgetPeriod, PeriodSpan>();

export function currentPeriod(period: BudgetPeriod, nowMs: number): PeriodSpan {
  const last = lastSpans.get(period);
  if (last && nowMs >= last.startMs && nowMs < last.endMs) return last;
  const span = computeSpan(period, nowMs);
  lastSpans.set(period, span);
  return span;
}

function computeSpan(period: BudgetPeriod, nowMs: number): PeriodSpan {
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  const dayStart = Date.UTC(year, month, now.getUTCDate());
  switch (period) {
    case 'day':
      return { label: `day:${isoDate(dayStart)}`, startMs: dayStart, endMs: dayStart + dayMs };
    case 'week': {
      // getUTCDay: 0 is Sunday; ISO weeks start on Monday.
      const start = dayStart - ((now.getUTCDay() + 6) % 7) * dayMs;
      return { label: `week:${isoDate(start)}`, startMs: start, endMs: start + 7 * dayMs };
    }
    case 'month': {
      const start = Date.UTC(year, month, 1);
      return {
        label: `month:${isoDate(start).slice(0, 7)}`,
        startMs: start,
        endMs: Date.UTC(year, month + 1, 1),
      };
    }
    case 'total':
      return { label: 'total', startMs: 0, endMs: totalEndMs };
  }
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
