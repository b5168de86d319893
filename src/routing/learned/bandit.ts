/**
 * Online exploration: Thompson sampling per (task, model) with Beta posteriors over "this model
 * answers this task well", learning from feedback scores (0..1).
 *
 * Only a configured share of choices explores (draws from the posteriors); the rest exploit (the
 * highest posterior mean, ties to the earlier candidate, so the caller's order — the router's
 * preference — decides among arms with no evidence yet). The state is a plain JSON-safe object, so
 * it can live in the shared store; the random source is injected, so choices are reproducible.
 *
 * @example
 * const bandit = new ThompsonBandit({ explorationShare: 0.05 });
 * const { model, explored } = bandit.choose(['cheap', 'strong'], 'simple_qa', seededRandom(1));
 * bandit.update('simple_qa', model, 1); // the feedback score of the answer
 * store.set('bandit', bandit.state);    // plain object
 */
import type { RandomSource } from '../../lib/random.ts';

/** Beta(alpha, beta) posterior of one arm, with the number of updates it has seen. */
export interface ArmPosterior {
  alpha: number;
  beta: number;
  updates: number;
}

/** `arms[task][model]`: only arms that have had feedback are present. */
export interface BanditState {
  version: 1;
  arms: Record<string, Record<string, ArmPosterior>>;
}

export interface BanditOptions {
  /** Share of choices that explore (0..1). */
  explorationShare: number;
  /** Beta prior of an arm with no feedback. */
  priorAlpha: number;
  priorBeta: number;
  /**
   * Each update first scales an arm's evidence by this factor (1: never forget), so a model that
   * changes is relearned; the prior is the floor.
   */
  decay: number;
}

export const DEFAULT_BANDIT_OPTIONS: Readonly<BanditOptions> = Object.freeze({
  explorationShare: 0.05,
  priorAlpha: 1,
  priorBeta: 1,
  decay: 1,
});

export interface BanditChoice {
  model: string;
  /** True when this choice was an exploration draw. */
  explored: boolean;
}

export function emptyBanditState(): BanditState {
  return { version: 1, arms: {} };
}

export class ThompsonBandit {
  readonly options: Readonly<BanditOptions>;
  state: BanditState;

  constructor(options: Partial<BanditOptions> = {}, state: BanditState = emptyBanditState()) {
    this.options = Object.freeze({ ...DEFAULT_BANDIT_OPTIONS, ...options });
    const { explorationShare, priorAlpha, priorBeta, decay } = this.options;
    if (!(explorationShare >= 0 && explorationShare <= 1)) throw new Error('explorationShare must be 0..1');
    if (!(priorAlpha > 0 && priorBeta > 0)) throw new Error('the Beta prior must be positive');
    if (!(decay > 0 && decay <= 1)) throw new Error('decay must be in (0, 1]');
    this.state = state;
  }

  /** The posterior of an arm (the prior when it has had no feedback). */
  posterior(task: string, model: string): ArmPosterior {
    return (
      this.state.arms[task]?.[model] ?? {
        alpha: this.options.priorAlpha,
        beta: this.options.priorBeta,
        updates: 0,
      }
    );
  }

  /** Posterior mean of "this model answers this task well". */
  mean(task: string, model: string): number {
    const { alpha, beta } = this.posterior(task, model);
    return alpha / (alpha + beta);
  }

  /** Picks one of `candidates` (in the caller's order of preference) for `task`. */
  choose(candidates: readonly string[], task: string, random: RandomSource): BanditChoice {
    if (candidates.length === 0) throw new Error('choose needs at least one candidate');
    const explored = candidates.length > 1 && random() < this.options.explorationShare;
    let best = candidates[0]!;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (const model of candidates) {
      const { alpha, beta } = this.posterior(task, model);
      const value = explored ? sampleBeta(alpha, beta, random) : alpha / (alpha + beta);
      if (value > bestValue) {
        best = model;
        bestValue = value;
      }
    }
    return { model: best, explored };
  }

  /** Records a feedback score (0..1) for `model` on `task`. */
  update(task: string, model: string, score: number): void {
    if (!(score >= 0 && score <= 1)) throw new Error(`a feedback score must be 0..1, got ${score}`);
    const { priorAlpha, priorBeta, decay } = this.options;
    const current = this.posterior(task, model);
    const next: ArmPosterior = {
      alpha: priorAlpha + (current.alpha - priorAlpha) * decay + score,
      beta: priorBeta + (current.beta - priorBeta) * decay + (1 - score),
      updates: current.updates + 1,
    };
    const arms = this.state.arms[task] ?? {};
    arms[model] = next;
    this.state.arms[task] = arms;
  }
}

/** A Beta(alpha, beta) draw: X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta). */
export function sampleBeta(alpha: number, beta: number, random: RandomSource): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/** Marsaglia and Tsang's method (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape). */
export function sampleGamma(shape: number, random: RandomSource): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * uniformOpen(random) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniformOpen(random);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Standard normal by Box-Muller (one of the pair). */
function sampleNormal(random: RandomSource): number {
  return Math.sqrt(-2 * Math.log(uniformOpen(random))) * Math.cos(2 * Math.PI * random());
}

/** Uniform on (0, 1): the seeded source can return exactly 0. */
function uniformOpen(random: RandomSource): number {
  let u = random();
  while (u === 0) u = random();
  return u;
}
