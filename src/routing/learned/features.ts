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
 * side. Prompts longer than `maxChars` keep their first and last `maxChars / 2` characters (so a
 * prediction costs at most that many characters' work); the length features use the full length,
 * and the word and line counts are scaled up to it.
 *
 * The hash (explicit, so a router file means the same thing in every version): FNV-1a 32-bit over
 * UTF-16 code units, started from the FNV offset basis XOR a per-family tag (`FAMILY_TAGS`),
 * finished with MurmurHash3's `fmix32`, and masked to `hashBits`. A word bigram hashes the two
 * words' FNV states as `fmix32(imul(first, FNV_PRIME) ^ second ^ tag)`.
 *
 * Values: presence, not counts. Each family (word unigrams, word bigrams, character n-grams) lists
 * each distinct slot once with value `1/sqrt(distinct slots in the family)`, so a family's vector has
 * unit length whatever the prompt's length (a measured choice: presence beat counts by about 3 points
 * of strong-call share in k-fold evaluation, bench/learned-router.md).
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

/** Names how feature values are made (see "Values" above), checked the same way. */
export const FEATURE_VALUES = 'presence-l2';

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

/**
 * A sparse vector: `indices[i]` has value `values[i]` for i < length. A slot appears once per family
 * (two families whose n-grams hash to one slot list it twice: the values add).
 */
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

/** Character classes of ASCII, as bit flags in `ASCII_CLASS`. */
const WORD = 1;
const LETTER = 2;
const UPPER = 4;
const DIGIT = 8;
const MATH = 16;
const CODE = 32;
const SPACE = 64;

const ASCII_CLASS = (() => {
  const table = new Uint8Array(128);
  for (let code = 0x61; code <= 0x7a; code++) table[code] = WORD | LETTER;
  for (let code = 0x41; code <= 0x5a; code++) table[code] = WORD | LETTER | UPPER;
  for (let code = 0x30; code <= 0x39; code++) table[code] = WORD | DIGIT;
  for (const symbol of '+*/=^%<>') table[symbol.charCodeAt(0)]! |= MATH;
  for (const symbol of '{}[]();_`#') table[symbol.charCodeAt(0)]! |= CODE;
  for (const space of ' \n\t\r') table[space.charCodeAt(0)]! |= SPACE;
  return table;
})();

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
  /** `seen[slot] === stamp`: the slot is already in the current family (presence, not counts). */
  private readonly seen: Int32Array;
  private stamp = 0;
  private readonly denseBase: number;
  private indices = new Int32Array(8192);
  private values = new Float32Array(8192);
  private count = 0;
  private chars = new Uint16Array(8192);
  private states = new Int32Array(2048);
  private readonly dense = new Float64Array(DENSE_FEATURES.length);

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
    this.seen = new Int32Array(1 << hashBits);
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
    // Clipped first, so a huge prompt costs no more than `maxChars` characters.
    const clipped = this.clip(text);
    const lower = clipped.toLowerCase();
    // Room for every entry up front, so the loops below write without bounds checks or growth.
    const span = this.config.charNgramMax - this.config.charNgramMin + 1;
    this.reserve((lower.length + 2) * (span + 2) + DENSE_FEATURES.length);
    this.addWords(lower);
    this.addCharNgrams(lower);
    this.addDense(clipped, text.length);
    return { indices: this.indices, values: this.values, length: this.count };
  }

  private clip(text: string): string {
    const { maxChars } = this.config;
    if (text.length <= maxChars) return text;
    const half = maxChars >> 1;
    return `${text.slice(0, half)} ${text.slice(text.length - half)}`;
  }

  private reserve(entries: number): void {
    if (entries <= this.indices.length) return;
    this.indices = new Int32Array(entries * 2);
    this.values = new Float32Array(entries * 2);
  }

  /** A fresh family marker for `seen` (cleared on the rare wrap-around). */
  private nextStamp(): number {
    if (this.stamp === 0x7fffffff) {
      this.seen.fill(0);
      this.stamp = 0;
    }
    return ++this.stamp;
  }

  /** Gives every entry from `start` on the value 1/sqrt(number of entries). */
  private normalizeFrom(start: number): void {
    const n = this.count - start;
    if (n === 0) return;
    this.values.fill(1 / Math.sqrt(n), start, this.count);
  }

  private addWords(lower: string): void {
    const mask = this.mask;
    const indices = this.indices;
    let count = this.count;
    const wordStart = count;
    const seen = this.seen;
    const stamp = this.nextStamp();
    // Each word's FNV state, for the bigrams, which come after the unigrams (one range per family).
    if (this.states.length < lower.length + 1) this.states = new Int32Array(lower.length * 2 + 1);
    const states = this.states;
    let words = 0;
    let state = FNV_OFFSET ^ FAMILY_TAGS.word;
    let inWord = false;
    for (let i = 0; i <= lower.length; i++) {
      const code = i < lower.length ? lower.charCodeAt(i) : 0x20;
      let wordChar: boolean;
      let cjk = false;
      if (code < 0x80) wordChar = (ASCII_CLASS[code]! & WORD) !== 0;
      else {
        cjk = isCjk(code);
        wordChar = !cjk && isOtherLetter(code);
      }
      if (wordChar) {
        state = Math.imul(state ^ code, FNV_PRIME);
        inWord = true;
        continue;
      }
      if (inWord) {
        const slot = fmix32(state) & mask;
        if (seen[slot] !== stamp) {
          seen[slot] = stamp;
          indices[count++] = slot;
        }
        states[words++] = state;
        state = FNV_OFFSET ^ FAMILY_TAGS.word;
        inWord = false;
      }
      if (cjk) {
        const single = Math.imul(state ^ code, FNV_PRIME);
        const slot = fmix32(single) & mask;
        if (seen[slot] !== stamp) {
          seen[slot] = stamp;
          indices[count++] = slot;
        }
        states[words++] = single;
      }
    }
    this.count = count;
    this.normalizeFrom(wordStart);
    const bigramStart = count;
    const bigramStamp = this.nextStamp();
    for (let i = 1; i < words; i++) {
      const slot = fmix32(Math.imul(states[i - 1]!, FNV_PRIME) ^ states[i]! ^ FAMILY_TAGS.bigram) & mask;
      if (seen[slot] !== bigramStamp) {
        seen[slot] = bigramStamp;
        indices[count++] = slot;
      }
    }
    this.count = count;
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
      if (code < 0x80 ? (ASCII_CLASS[code]! & SPACE) !== 0 : code === 0xa0 || code === 0x3000) {
        if (chars[n - 1] === 0x20) continue;
        code = 0x20;
      } else if (code >= 0x30 && code <= 0x39) {
        code = 0x30;
      }
      chars[n++] = code;
    }
    if (chars[n - 1] !== 0x20) chars[n++] = 0x20;
    const mask = this.mask;
    const indices = this.indices;
    const start = this.count;
    let count = start;
    const seen = this.seen;
    const stamp = this.nextStamp();
    const basis = FNV_OFFSET ^ FAMILY_TAGS.char;
    for (let i = 0; i + charNgramMin <= n; i++) {
      let h = basis;
      const end = Math.min(charNgramMax, n - i);
      for (let k = 0; k < end; k++) {
        h = Math.imul(h ^ chars[i + k]!, FNV_PRIME);
        if (k + 1 < charNgramMin) continue;
        const slot = fmix32(h) & mask;
        if (seen[slot] !== stamp) {
          seen[slot] = stamp;
          indices[count++] = slot;
        }
      }
    }
    this.count = count;
    this.normalizeFrom(start);
  }

  /** Dense features of the (clipped) `text`; `fullLength` is the prompt's length before clipping. */
  private addDense(text: string, fullLength: number): void {
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
      let wordChar: boolean;
      let space: boolean;
      if (code < 0x80) {
        const kind = ASCII_CLASS[code]!;
        if (kind !== 0) {
          if (kind & UPPER) upper++;
          if (kind & LETTER) letters++;
          if (kind & DIGIT) digits++;
          if (kind & MATH) math++;
          if (kind & CODE) codePunctuation++;
        }
        if (code === 0x0a) {
          longestLine = Math.max(longestLine, i - lineStart);
          lineStart = i + 1;
          lines++;
          lineHasContent = false;
        } else if (code === 0x3f) questionMarks++;
        else if (code === 0x5c) backslashes++;
        wordChar = (kind & WORD) !== 0;
        space = (kind & SPACE) !== 0;
      } else {
        if (isCjk(code)) cjk++;
        else otherNonAscii++;
        if (code === 0xff1f) questionMarks++;
        if (isMathSymbol(code)) math++;
        wordChar = isOtherLetter(code);
        space = code === 0xa0 || code === 0x3000;
      }
      if (wordChar) {
        wordChars++;
        if (!inWord) words++;
      }
      inWord = wordChar;
      if (!lineHasContent && !space) {
        lineHasContent = true;
        if (isListItemStart(text, i)) listItemLines++;
      }
    }
    longestLine = Math.max(longestLine, length - lineStart);
    const share = (count: number) => (length === 0 ? 0 : count / length);
    let lastVisible = length - 1;
    while (lastVisible >= 0 && isWhitespace(text.charCodeAt(lastVisible))) lastVisible--;
    const last = lastVisible >= 0 ? text.charCodeAt(lastVisible) : 0;
    const dense = this.dense;
    // Counts over a clipped prompt are scaled up to its full length.
    const scale = length === 0 ? 1 : fullLength / length;
    dense[0] = Math.log2(1 + fullLength) / 16;
    dense[1] = fullLength < 64 ? 1 : 0;
    dense[2] = fullLength >= 64 && fullLength < 256 ? 1 : 0;
    dense[3] = fullLength >= 256 && fullLength < 1024 ? 1 : 0;
    dense[4] = fullLength >= 1024 && fullLength < 4096 ? 1 : 0;
    dense[5] = fullLength >= 4096 ? 1 : 0;
    dense[6] = Math.log2(1 + words * scale) / 12;
    dense[7] = Math.log2(1 + lines * scale) / 8;
    dense[8] = share(cjk);
    dense[9] = share(otherNonAscii);
    dense[10] = letters === 0 ? 0 : upper / letters;
    dense[11] = share(digits) * 4;
    dense[12] = share(math) * 8;
    dense[13] = share(codePunctuation) * 8;
    dense[14] = share(backslashes) * 16;
    dense[15] = text.includes('```') ? 1 : 0;
    dense[16] = Math.min(questionMarks, 5) / 5;
    dense[17] = last === 0x3f || last === 0xff1f ? 1 : 0;
    dense[18] = listItemLines / lines;
    dense[19] = words === 0 ? 0 : Math.min(wordChars / words, 20) / 10;
    dense[20] = Math.log2(1 + longestLine) / 12;
    for (let i = 0; i < dense.length; i++) {
      const value = Math.min(dense[i]!, 2);
      if (value === 0) continue;
      this.indices[this.count] = this.denseBase + i;
      this.values[this.count] = value;
      this.count++;
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
