/**
 * Hedging: if the primary has not answered after a delay (by default a high quantile of its
 * recent times to first token), start the rest of the chain alongside it; the first success
 * wins and the other branch is cancelled; a value that arrives too late has its lifetime ended
 * (which stops its I/O). Extra upstream calls are paid from a token bucket: every request
 * credits `budget` tokens, every hedge attempt spends one, so hedges stay within that share.
 */
import type { Clock } from './clock.ts';
import { ChainExhausted, type Opened } from './fallback.ts';
import type { AttemptBudget } from './policy.ts';
import type { RequestScope, Scope } from './request-scope.ts';

/** Hedge tokens: each request adds `share`, each hedge attempt spends one. */
export class HedgeBudget {
  private tokens = 0;
  constructor(
    readonly share: number,
    private readonly cap = 10,
  ) {}

  credit(): void {
    this.tokens = Math.min(this.cap, this.tokens + this.share);
  }

  trySpend(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get available(): number {
    return this.tokens;
  }
}

/** A hedge branch pays one hedge token for every attempt after its first. */
class HedgeBranchBudget implements AttemptBudget {
  private taken = 0;
  constructor(
    private readonly request: AttemptBudget,
    private readonly hedges: HedgeBudget,
  ) {}
  available(): boolean {
    return this.request.available() && (this.taken === 0 || this.hedges.available >= 1);
  }
  take(): void {
    if (this.taken++ > 0) this.hedges.trySpend();
    this.request.take();
  }
}

export type RunBranch<T> = (chain: readonly string[], scope: Scope, hedge: boolean) => Promise<Opened<T>>;

/**
 * Run `chain` with a hedge: the primary alone, then after `delayMs` (if it has not settled and a
 * hedge token is left) the rest of the chain beside it.
 */
export async function runHedged<T>(
  chain: readonly string[],
  run: RunBranch<T>,
  scope: RequestScope,
  clock: Clock,
  delayMs: number,
  budget: HedgeBudget,
  onHedge: () => void,
): Promise<Opened<T>> {
  const [primaryName, ...rest] = chain;
  if (primaryName === undefined || rest.length === 0) return run(chain, scope, false);
  const primaryScope = scope.branch();
  const primary = run([primaryName], primaryScope, false);
  let cancelTimer = () => {};
  const first = await Promise.race([
    primary.then(
      (value) => ({ settled: true as const, ok: true as const, value }),
      (error: unknown) => ({ settled: true as const, ok: false as const, error }),
    ),
    new Promise<{ settled: false }>((resolve) => {
      cancelTimer = clock.schedule(delayMs, () => resolve({ settled: false }));
    }),
  ]);
  cancelTimer();
  if (first.settled) {
    primaryScope.close();
    if (first.ok) return first.value;
    if (isFinal(first.error)) throw first.error;
    // The primary failed before the hedge delay: carry on down the chain as usual.
    return run(rest, scope, false).catch((error: unknown) => {
      throw mergeExhausted(first.error, error);
    });
  }
  if (!budget.trySpend()) {
    // Over budget: no hedge; the primary's own fail-over applies.
    try {
      return await primary;
    } catch (error) {
      if (isFinal(error)) throw error;
      return await run(rest, scope, false).catch((next: unknown) => {
        throw mergeExhausted(error, next);
      });
    } finally {
      primaryScope.close();
    }
  }
  onHedge();
  const hedgeScope = scope.branch(new HedgeBranchBudget(scope.attempts, budget));
  const hedge = run(rest, hedgeScope, true);
  try {
    return await firstSuccess(primary, hedge, primaryScope, hedgeScope);
  } finally {
    primaryScope.close();
    hedgeScope.close();
  }
}

/** The first branch to succeed wins and the other is cancelled; both failing merges their failures. */
function firstSuccess<T>(
  primary: Promise<Opened<T>>,
  hedge: Promise<Opened<T>>,
  primaryScope: { cancel(): void },
  hedgeScope: { cancel(): void },
): Promise<Opened<T>> {
  return new Promise((resolve, reject) => {
    let won = false;
    const errors: unknown[] = [undefined, undefined];
    let failed = 0;
    const settle = (other: { cancel(): void }) => (opened: Opened<T>) => {
      if (won) {
        opened.lifetime.end(lateValue); // too late: release it and stop its I/O
        return;
      }
      won = true;
      other.cancel();
      resolve(opened);
    };
    const fail = (index: number) => (error: unknown) => {
      errors[index] = error;
      if (++failed < 2) return;
      const [primaryError, hedgeError] = errors;
      if (isFinal(primaryError)) reject(primaryError);
      else if (isFinal(hedgeError)) reject(hedgeError);
      else reject(mergeExhausted(primaryError, hedgeError));
    };
    primary.then(settle(hedgeScope), fail(0));
    hedge.then(settle(primaryScope), fail(1));
  });
}

/** A chain that stopped (the request's own fault, or cancelled) ends the request; an exhausted one does not. */
const isFinal = (error: unknown) => !(error instanceof ChainExhausted);

const lateValue = new Error('a hedge branch answered after the other had won');

/** Two chains that failed one after the other: one ChainExhausted with both branches' failures. */
function mergeExhausted(first: unknown, second: unknown): unknown {
  const parts = [first, second].map((error) =>
    error instanceof ChainExhausted ? error : new ChainExhausted([error], [], false),
  );
  return new ChainExhausted(
    parts.flatMap((part) => part.failures),
    parts.flatMap((part) => part.skipped),
    parts.some((part) => part.deadlineHit),
  );
}
