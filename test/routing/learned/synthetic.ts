/** Synthetic labelled prompts with a known rule, for the learned-router tests. */
import { type RandomSource, seededRandom } from '../../../src/lib/random.ts';
import type { TrainingRow } from '../../../src/routing/learned/train.ts';

const VOCABULARY = (
  'river stone apple market window garden letter silver engine candle forest mirror harbor ladder ' +
  'pocket ribbon saddle thunder velvet whistle anchor basket cactus dragon feather glacier hammer ' +
  'island jacket kettle lantern meadow needle orchard pepper quartz rocket sponge tunnel umbrella'
).split(' ');

function pick<T>(items: readonly T[], random: RandomSource): T {
  return items[Math.floor(random() * items.length)]!;
}

/** A prompt of random words; with `marker`, that word is placed at a random position. */
export function syntheticPrompt(random: RandomSource, marker?: string): string {
  const words = Array.from({ length: 8 + Math.floor(random() * 12) }, () => pick(VOCABULARY, random));
  if (marker) words.splice(Math.floor(random() * words.length), 0, marker);
  return `${words.join(' ')}?`;
}

/**
 * The rule: a prompt containing `marker` is answered correctly by `weak` never and by `strong`
 * always; any other prompt is answered correctly by both with probability `baseRate`.
 */
export function syntheticRows(
  count: number,
  seed: number,
  options: { marker?: string; markerShare?: number; baseRate?: number } = {},
): TrainingRow[] {
  const { marker = 'zebra', markerShare = 0.3, baseRate = 0.9 } = options;
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    if (random() < markerShare)
      return { text: syntheticPrompt(random, marker), labels: { weak: 0, strong: 1 } };
    const correct = random() < baseRate ? 1 : 0;
    return { text: syntheticPrompt(random), labels: { weak: correct, strong: correct } };
  });
}
