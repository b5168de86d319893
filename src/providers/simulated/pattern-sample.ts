/**
 * A string matching a regular expression, for JSON Schema `pattern`s: the subset schemas use
 * (literals, `.`, classes with ranges and negation, `\d \w \s` and their negations, groups,
 * alternation, `? * + {n} {n,} {n,m}`, anchors). Lookarounds and back-references are not
 * generated: the answer is `undefined` and the caller keeps its own text.
 */
import type { RandomSource } from '../../lib/random.ts';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'set'; chars: string }
  | { kind: 'sequence'; items: Node[] }
  | { kind: 'choice'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number };

const digits = '0123456789';
const lower = 'abcdefghijklmnopqrstuvwxyz';
const upper = lower.toUpperCase();
const wordChars = `${lower}${upper}${digits}_`;
const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
/** Extra repetitions beyond a quantifier's minimum, so `+` and `*` stay short. */
const extraRepeats = 3;
const maxGroupDepth = 16;

class Unsupported extends Error {}

export function sampleFromPattern(pattern: string, random: RandomSource): string | undefined {
  try {
    const parser = new Parser(pattern);
    const tree = parser.alternation(0);
    if (!parser.done()) return undefined;
    return generate(tree, random);
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

function generate(node: Node, random: RandomSource): string {
  switch (node.kind) {
    case 'text':
      return node.text;
    case 'set':
      return node.chars[Math.floor(random() * node.chars.length)] ?? '';
    case 'sequence':
      return node.items.map((item) => generate(item, random)).join('');
    case 'choice':
      return generate(node.options[Math.floor(random() * node.options.length)]!, random);
    case 'repeat': {
      const count = node.min + Math.floor(random() * (node.max - node.min + 1));
      let text = '';
      for (let i = 0; i < count; i++) text += generate(node.node, random);
      return text;
    }
  }
}

class Parser {
  private position = 0;
  constructor(private readonly source: string) {}

  done(): boolean {
    return this.position >= this.source.length;
  }

  alternation(depth: number): Node {
    if (depth > maxGroupDepth) throw new Unsupported();
    const options = [this.sequence(depth)];
    while (this.peek() === '|') {
      this.position++;
      options.push(this.sequence(depth));
    }
    return options.length === 1 ? options[0]! : { kind: 'choice', options };
  }

  private sequence(depth: number): Node {
    const items: Node[] = [];
    while (!this.done() && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.atom(depth);
      items.push(this.quantified(atom));
    }
    return { kind: 'sequence', items };
  }

  private atom(depth: number): Node {
    const char = this.next();
    if (char === '^' || char === '$') return { kind: 'text', text: '' };
    if (char === '.') return { kind: 'set', chars: `${lower}${upper}${digits}` };
    if (char === '[') return this.characterClass();
    if (char === '\\') return this.escape(false);
    if (char === '(') {
      if (this.peek() === '?') {
        if (this.source[this.position + 1] !== ':') throw new Unsupported(); // lookarounds, named groups
        this.position += 2;
      }
      const inner = this.alternation(depth + 1);
      if (this.next() !== ')') throw new Unsupported();
      return inner;
    }
    if (char === ')' || char === '*' || char === '+' || char === '?' || char === '{') throw new Unsupported();
    return { kind: 'text', text: char };
  }

  private quantified(atom: Node): Node {
    const char = this.peek();
    let min: number;
    let max: number;
    if (char === '?') [min, max] = [0, 1];
    else if (char === '*') [min, max] = [0, extraRepeats];
    else if (char === '+') [min, max] = [1, 1 + extraRepeats];
    else if (char === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.position));
      if (!match) return atom; // a literal brace
      min = Number(match[1]);
      max = match[2] === undefined ? min : match[3] ? Number(match[3]) : min + extraRepeats;
      this.position += match[0].length - 1;
    } else return atom;
    this.position++;
    if (this.peek() === '?' || this.peek() === '+') this.position++; // lazy or possessive: same strings
    if (max < min || max > 1000) throw new Unsupported();
    return { kind: 'repeat', node: atom, min, max };
  }

  private characterClass(): Node {
    const negated = this.peek() === '^';
    if (negated) this.position++;
    let chars = '';
    let first = true;
    while (!this.done() && (this.peek() !== ']' || first)) {
      first = false;
      let char = this.next();
      if (char === '\\') {
        const escaped = this.escape(true);
        if (escaped.kind === 'set') {
          chars += escaped.chars;
          continue;
        }
        char = (escaped as { text: string }).text;
      }
      if (
        this.peek() === '-' &&
        this.source[this.position + 1] !== ']' &&
        this.position + 1 < this.source.length
      ) {
        this.position++;
        let end = this.next();
        if (end === '\\') end = (this.escape(true) as { text?: string }).text ?? end;
        const from = char.charCodeAt(0);
        const to = end.charCodeAt(0);
        if (to < from || to - from > 0xffff) throw new Unsupported();
        for (let code = from; code <= Math.min(to, from + 512); code++) chars += String.fromCharCode(code);
      } else chars += char;
    }
    if (this.next() !== ']') throw new Unsupported();
    if (negated) chars = [...printable].filter((char) => !chars.includes(char)).join('');
    if (chars.length === 0) throw new Unsupported();
    return { kind: 'set', chars };
  }

  private escape(inClass: boolean): Node {
    const char = this.next();
    switch (char) {
      case 'd':
        return { kind: 'set', chars: digits };
      case 'w':
        return { kind: 'set', chars: wordChars };
      case 's':
        return { kind: 'set', chars: ' ' };
      case 'D':
      case 'W':
      case 'S':
        return { kind: 'set', chars: char === 'S' ? `${lower}${upper}` : char === 'D' ? lower : '-' };
      case 'n':
        return { kind: 'text', text: '\n' };
      case 't':
        return { kind: 'text', text: '\t' };
      case 'b':
        if (inClass) return { kind: 'text', text: '\b' };
        return { kind: 'text', text: '' };
      case 'u': {
        const hex = /^[0-9a-fA-F]{4}/.exec(this.source.slice(this.position));
        if (!hex) throw new Unsupported();
        this.position += 4;
        return { kind: 'text', text: String.fromCharCode(Number.parseInt(hex[0], 16)) };
      }
      case '':
        throw new Unsupported();
      default:
        if (/[1-9kpPB]/.test(char)) throw new Unsupported(); // back-references, property classes
        return { kind: 'text', text: char };
    }
  }

  private peek(): string {
    return this.source[this.position] ?? '';
  }

  private next(): string {
    return this.source[this.position++] ?? '';
  }
}
