/**
 * Token counting for routing: o200k_base (GPT-4o's encoding) from gpt-tokenizer. It is exact for
 * OpenAI models and a good proxy for the others; what matters for routing is that Chinese text is
 * counted as what it is (about one token per CJK character, not chars/4).
 *
 * The encoder's rank table is loaded once, when this module is imported, never per request.
 */
import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base';

/** Special-token strings typed by a user ("<|endoftext|>") are counted as plain text, never thrown on. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Windows the sample is split into: many small windows follow a prompt whose language or content changes. */
const SAMPLE_WINDOWS = 16;

export interface TokenCount {
  tokens: number;
  /** True when the count was extrapolated from a sample. */
  estimated: boolean;
}

/**
 * Counts `text`'s tokens. Text up to `exactChars` characters is counted exactly. Longer text is
 * sampled so one decision never costs more than counting `exactChars` characters:
 * {@link SAMPLE_WINDOWS} windows of `exactChars / SAMPLE_WINDOWS` characters, evenly spaced from
 * the start to the end of the text, are counted and the total is scaled by
 * `text.length / sampledChars` (tokens per character in the sample times all characters).
 * Because the ratio is measured, not assumed, it is right for English (~4 chars/token), Chinese
 * (~1 char/token) and code alike; cutting a word at each window edge costs at most a token per
 * window, well under 1% of a sample.
 *
 * @example countTokens('帮我写一个 Redis 连接池', { exactChars: 24_000 }) // { tokens: 8, estimated: false }
 */
export function countTokens(text: string, options: { exactChars: number }): TokenCount {
  if (text.length === 0) return { tokens: 0, estimated: false };
  if (text.length <= options.exactChars) return { tokens: countO200k(text, PLAIN_TEXT), estimated: false };
  return { tokens: sampledCount(text, options.exactChars), estimated: true };
}

function sampledCount(text: string, budgetChars: number): number {
  const windowChars = Math.max(1, Math.floor(budgetChars / SAMPLE_WINDOWS));
  const stride = (text.length - windowChars) / (SAMPLE_WINDOWS - 1);
  let sampledChars = 0;
  let sampledTokens = 0;
  for (let i = 0; i < SAMPLE_WINDOWS; i++) {
    const start = clampToCodePoint(text, Math.round(i * stride));
    const end = clampToCodePoint(text, start + windowChars);
    if (end <= start) continue;
    sampledChars += end - start;
    sampledTokens += countO200k(text.slice(start, end), PLAIN_TEXT);
  }
  return Math.round((sampledTokens * text.length) / sampledChars);
}

/** Moves an index off the second half of a surrogate pair, so a window never splits an emoji or rare CJK char. */
function clampToCodePoint(text: string, index: number): number {
  if (index >= text.length) return text.length;
  const code = text.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff ? index + 1 : index;
}
