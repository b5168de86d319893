import type { RandomSource } from '../lib/random.ts';

/**
 * Exponential backoff with full jitter (uniform in [0, min(cap, base * 2^attempt)]): spreads
 * retries so a recovering upstream is not hit by a synchronised wave.
 */
export function fullJitterBackoff(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: RandomSource,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return random() * ceiling;
}
