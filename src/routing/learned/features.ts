/**
 * Prompt features for the learned router: a sparse vector of hashed n-grams plus a few dense
 * features, computed from the text alone (pure, no I/O, no tables to load).
 *
 * Layout of a feature vector of `featureDimension(config)` slots:
 * - slots `[0, 2^hashBits)`: hashed word unigrams and bigrams and character n-grams;
 * - slots `[2^hashBits, 2^hashBits + DENSE_FEATURES.length)`: the dense features, in the order of
 *   `DENSE_FEATURES`.
 *
 * Text normalisation: lower-cased (`String.prototype.toLowerCase`). A word is a run of ASCII letters
 * and digits or of non-ASCII letters; each CJK character (kana, ideographs, Hangul syllables) is a
 * word of its own, since those scripts do not separate words by spaces, so CJK character bigrams come
 * from the word bigrams. Character n-grams run over the lower-cased text with every digit read as
 * `0` (numbers share n-grams) and every whitespace run read as one space, padded with a space each
 * side. Prompts longer than `maxChars` keep their first and last `maxChars / 2` characters for the
 * n-grams (the dense length features see the whole text).
 *
 * The hash (explicit, so a router file means the same thing in every version): FNV-1a 32-bit over
 * UTF-16 code units, started from the FNV offset basis XOR a per-family tag (`FAMILY_TAGS`),
 * finished with MurmurHash3's `fmix32`, and masked to `hashBits`. A word bigram hashes the two
 * words' FNV states as `fmix32(imul(first, FNV_PRIME) ^ second ^ tag)`.
 *
 * Values: each family (word unigrams, word bigrams, character n-grams) has value `1/sqrt(count)` on
 * each occurrence, so a family's vector has about unit length whatever the prompt's length.
 */

export interface FeatureConfig {
  /** The hashed space has `2^hashBits` slots (18: 262,144). */
  hashBits: number;
  /** Character n-gram lengths, inclusive. */
  charNgramMin: number;
  charNgramMax: number;
  /** Text past this many characters is cut from the middle before the n-grams. */
  maxChars: number;
}

export const DEFAULT_FEATURE_CONFIG: Readonly<FeatureConfig> = Object.freeze({
  hashBits: 18,
  charNgramMin: 3,
  charNgramMax: 5,
  maxChars: 4096,
});

/** Names the hash in router files, so a file made with another hash is refused. */
export const FEATURE_HASH = 'fnv1a32-fmix32';

/** Tags XORed into the FNV offset basis, one per feature family. */
export const FAMILY_TAGS = Object.freeze({ word: 0x1, bigram: 0x2, char: 0x3 });

/** The dense features, in slot order (each scaled to about [0, 1]). */
export const DENSE_FEATURES: readonly string[] = Object.freeze([
  'log_chars',
  'chars_lt_64',
  'chars_lt_256',
  'chars_lt_1024',
  'chars_lt_4096',
  'chars_ge_4096',
  'log_words',
  'log_lines',
  'cjk_share',
  'other_non_ascii_share',
  'uppercase_share',
  'digit_share',
  'math_symbol_share',
  'code_punctuation_share',
  'backslash_share',
  'code_fence',
  'question_marks',
  'ends_with_question',
  'list_item_line_share',
  'mean_word_length',
  'log_longest_line',
]);

/** A sparse vector: `indices[i]` has value `values[i]` for i < length; indices may repeat (they add). */
export interface SparseVector {
  indices: Int32Array;
  values: Float32Array;
  length: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** MurmurHash3's 32-bit finaliser: spreads FNV's weak low bits over the whole word. */
export function fmix32(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The documented hash of a whole string under a family tag (used by tests and tools). */
export function hashString(text: string, tag: number): number {
  let h = FNV_OFFSET ^ tag;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return fmix32(h);
}

/** Kana, CJK ideographs (and extension A, compatibility), Hangul syllables. */
export function isCjk(code: number): boolean {
  return (
    (code >= 0x3040 && code <= 0x30ff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xac00 && code <= 0xd7af) ||
    (code >= 0xf900 && code <= 0xfaff)
  );
}

/** Non-ASCII letters (Latin-1 letters, Greek, Cyrillic, ...): everything from U+00C0 that is not punctuation or symbols. */
function isOtherLetter(code: number): boolean {
  if (code < 0xc0 || code === 0xd7 || code === 0xf7) return false;
  if (code >= 0x2000 && code <= 0x2bff) return false; // punctuation, arrows, math operators, shapes
  if (code >= 0x3000 && code <= 0x303f) return false; // CJK punctuation
  if (code >= 0xff00 && code <= 0xff0f) return false; // full-width punctuation
  if (code >= 0xd800 && code <= 0xdfff) return false; // surrogates (emoji and rarer scripts)
  return !isCjk(code);
}

function isAsciiWordChar(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
}

function isMathSymbol(code: number): boolean {
  return (
    code === 0x2b || // +
    code === 0x2a || // *
    code === 0x2f || // /
    code === 0x3d || // =
    code === 0x5e || // ^
    code === 0x25 || // %
    code === 0x3c || // <
    code === 0x3e || // >
    (code >= 0x2200 && code <= 0x22ff) || // mathematical operators
    (code >= 0x0391 && code <= 0x03c9) || // Greek letters
    code === 0xb1 || // ±
    code === 0xb2 || // ²
    code === 0xb3 || // ³
    code === 0xd7 || // ×
    code === 0xf7 // ÷
  );
}

function isCodePunctuation(code: number): boolean {
  return (
    code === 0x7b || // {
    code === 0x7d || // }
    code === 0x5b || // [
    code === 0x5d || // ]
    code === 0x28 || // (
    code === 0x29 || // )
    code === 0x3b || // ;
    code === 0x5f || // _
    code === 0x60 || // `
    code === 0x23 // #
  );
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d || code === 0xa0 || code === 0x3000;
}

/** Number of slots of a feature vector under `config` (hashed space plus dense features). */
export function featureDimension(config: FeatureConfig): number {
  return (1 << config.hashBits) + DENSE_FEATURES.length;
}

/**
 * Computes feature vectors; holds scratch buffers, so one instance per thread of work.
 *
 * @example
 * const featurizer = new Featurizer();
 * const vector = featurizer.featurize('What is 2 + 2?'); // a fresh copy, safe to keep
 */
export class Featurizer {
  readonly config: Readonly<FeatureConfig>;
  readonly dimension: number;
  private readonly mask: number;
  private readonly denseBase: number;
  private indices = new Int32Array(8192);
  private values = new Float32Array(8192);
  private count = 0;
  private chars = new Uint16Array(8192);

  constructor(config: Partial<FeatureConfig> = {}) {
    this.config = Object.freeze({ ...DEFAULT_FEATURE_CONFIG, ...config });
    const { hashBits, charNgramMin, charNgramMax, maxChars } = this.config;
    if (!Number.isInteger(hashBits) || hashBits < 4 || hashBits > 26)
      throw new Error('hashBits must be 4..26');
    if (!(charNgramMin >= 1 && charNgramMax >= charNgramMin && charNgramMax <= 8)) {
      throw new Error('character n-gram lengths must satisfy 1 <= min <= max <= 8');
    }
    if (!(maxChars >= 16)) throw new Error('maxChars must be at least 16');
    this.mask = (1 << hashBits) - 1;
    this.denseBase = 1 << hashBits;
    this.dimension = featureDimension(this.config);
  }

  /** The features of `text` as a fresh vector (safe to keep, e.g. for training). */
  featurize(text: string): SparseVector {
    const shared = this.featurizeShared(text);
    return {
      indices: shared.indices.slice(0, shared.length),
      values: shared.values.slice(0, shared.length),
      length: shared.length,
    };
  }

  /** The features of `text` in this featurizer's scratch buffers: valid until its next call. */
  featurizeShared(text: string): SparseVector {
    this.count = 0;
    const lower = text.toLowerCase();
    const kept = this.clip(lower);
    this.addWords(kept);
    this.addCharNgrams(kept);
    this.addDense(text);
    return { indices: this.indices, values: this.values, length: this.count };
  }

  private clip(lower: string): string {
    const { maxChars } = this.config;
    if (lower.length <= maxChars) return lower;
    const half = maxChars >> 1;
    return `${lower.slice(0, half)} ${lower.slice(lower.length - half)}`;
  }

  private push(index: number, value: number): void {
    if (this.count === this.indices.length) {
      const indices = new Int32Array(this.count * 2);
      indices.set(this.indices);
      this.indices = indices;
      const values = new Float32Array(this.count * 2);
      values.set(this.values);
      this.values = values;
    }
    this.indices[this.count] = index;
    this.values[this.count] = value;
    this.count++;
  }

  /** Gives every entry from `start` on the value 1/sqrt(number of entries). */
  private normalizeFrom(start: number): void {
    const n = this.count - start;
    if (n === 0) return;
    const value = 1 / Math.sqrt(n);
    this.values.fill(value, start, this.count);
  }

  private addWords(lower: string): void {
    const mask = this.mask;
    const wordStart = this.count;
    // Bigrams are emitted after the unigrams so each family is one contiguous range.
    const states: number[] = [];
    let state = FNV_OFFSET ^ FAMILY_TAGS.word;
    let inWord = false;
    for (let i = 0; i <= lower.length; i++) {
      const code = i < lower.length ? lower.charCodeAt(i) : 0x20;
      const cjk = code >= 0x3040 && isCjk(code);
      const wordChar = !cjk && (isAsciiWordChar(code) || (code >= 0xc0 && isOtherLetter(code)));
      if (wordChar) {
        state = Math.imul(state ^ code, FNV_PRIME);
        inWord = true;
        continue;
      }
      if (inWord) {
        this.push(fmix32(state) & mask, 0);
        states.push(state);
        state = FNV_OFFSET ^ FAMILY_TAGS.word;
        inWord = false;
      }
      if (cjk) {
        const single = Math.imul(state ^ code, FNV_PRIME);
        this.push(fmix32(single) & mask, 0);
        states.push(single);
      }
    }
    this.normalizeFrom(wordStart);
    const bigramStart = this.count;
    for (let i = 1; i < states.length; i++) {
      const pair = Math.imul(states[i - 1]!, FNV_PRIME) ^ states[i]! ^ FAMILY_TAGS.bigram;
      this.push(fmix32(pair) & mask, 0);
    }
    this.normalizeFrom(bigramStart);
  }

  private addCharNgrams(lower: string): void {
    const { charNgramMin, charNgramMax } = this.config;
    if (this.chars.length < lower.length + 2) this.chars = new Uint16Array(lower.length * 2 + 2);
    const chars = this.chars;
    // Normalised stream: leading space, digits as '0', whitespace runs as one space, trailing space.
    let n = 0;
    chars[n++] = 0x20;
    for (let i = 0; i < lower.length; i++) {
      let code = lower.charCodeAt(i);
      if (isWhitespace(code)) {
        if (chars[n - 1] === 0x20) continue;
        code = 0x20;
      } else if (code >= 0x30 && code <= 0x39) {
        code = 0x30;
      }
      chars[n++] = code;
    }
    if (chars[n - 1] !== 0x20) chars[n++] = 0x20;
    const mask = this.mask;
    const start = this.count;
    const basis = FNV_OFFSET ^ FAMILY_TAGS.char;
    for (let i = 0; i + charNgramMin <= n; i++) {
      let h = basis;
      const end = Math.min(charNgramMax, n - i);
      for (let k = 0; k < end; k++) {
        h = Math.imul(h ^ chars[i + k]!, FNV_PRIME);
        if (k + 1 >= charNgramMin) this.push(fmix32(h) & mask, 0);
      }
    }
    this.normalizeFrom(start);
  }

  private addDense(text: string): void {
    const length = text.length;
    let cjk = 0;
    let otherNonAscii = 0;
    let upper = 0;
    let letters = 0;
    let digits = 0;
    let math = 0;
    let codePunctuation = 0;
    let backslashes = 0;
    let questionMarks = 0;
    let words = 0;
    let wordChars = 0;
    let lines = 1;
    let listItemLines = 0;
    let longestLine = 0;
    let lineStart = 0;
    let inWord = false;
    let lineHasContent = false;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code === 0x0a) {
        longestLine = Math.max(longestLine, i - lineStart);
        lineStart = i + 1;
        lines++;
        lineHasContent = false;
      }
      const isUpper = code >= 0x41 && code <= 0x5a;
      const isLower = code >= 0x61 && code <= 0x7a;
      const isDigit = code >= 0x30 && code <= 0x39;
      if (isUpper) upper++;
      if (isUpper || isLower) letters++;
      if (isDigit) digits++;
      if (code === 0x3f || code === 0xff1f) questionMarks++;
      if (code === 0x5c) backslashes++;
      if (isMathSymbol(code)) math++;
      if (isCodePunctuation(code)) codePunctuation++;
      if (code >= 0x80) {
        if (isCjk(code)) cjk++;
        else otherNonAscii++;
      }
      const wordChar = isUpper || isLower || isDigit || (code >= 0xc0 && isOtherLetter(code));
      if (wordChar) {
        wordChars++;
        if (!inWord) words++;
      }
      inWord = wordChar;
      if (!lineHasContent && !isWhitespace(code)) {
        lineHasContent = true;
        if (isListItemStart(text, i)) listItemLines++;
      }
    }
    longestLine = Math.max(longestLine, length - lineStart);
    const share = (count: number) => (length === 0 ? 0 : count / length);
    const trimmedEnd = text.trimEnd();
    const last = trimmedEnd.charCodeAt(trimmedEnd.length - 1);
    const dense = [
      Math.log2(1 + length) / 16,
      length < 64 ? 1 : 0,
      length >= 64 && length < 256 ? 1 : 0,
      length >= 256 && length < 1024 ? 1 : 0,
      length >= 1024 && length < 4096 ? 1 : 0,
      length >= 4096 ? 1 : 0,
      Math.log2(1 + words) / 12,
      Math.log2(1 + lines) / 8,
      share(cjk),
      share(otherNonAscii),
      letters === 0 ? 0 : upper / letters,
      share(digits) * 4,
      share(math) * 8,
      share(codePunctuation) * 8,
      share(backslashes) * 16,
      text.includes('```') ? 1 : 0,
      Math.min(questionMarks, 5) / 5,
      last === 0x3f || last === 0xff1f ? 1 : 0,
      listItemLines / lines,
      words === 0 ? 0 : Math.min(wordChars / words, 20) / 10,
      Math.log2(1 + longestLine) / 12,
    ];
    for (let i = 0; i < dense.length; i++) {
      const value = Math.min(dense[i]!, 2);
      if (value !== 0) this.push(this.denseBase + i, value);
    }
  }
}

/** A line that starts like a list item: `A.`, `b)`, `12.`, `(c)`, `-`, `*`, `•`. */
function isListItemStart(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  if (code === 0x2d || code === 0x2a || code === 0x2022) return text.charCodeAt(i + 1) === 0x20;
  let j = i;
  if (code === 0x28) j++;
  let markerLength = 0;
  while (j < text.length && markerLength < 3) {
    const c = text.charCodeAt(j);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
      j++;
      markerLength++;
    } else break;
  }
  if (markerLength === 0) return false;
  const after = text.charCodeAt(j);
  return after === 0x2e || after === 0x29 || after === 0x3a;
}
