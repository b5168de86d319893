/**
 * Labelled prompts from text (pure: the caller reads the files).
 *
 * A labelled CSV has a header row, a `prompt` column and one column per measured model holding
 * `True`/`False` (case-insensitive; `1`/`0` too; an empty cell is "not measured"). Fields may be
 * quoted and span lines (RFC 4180), parsed by csv-parse.
 *
 * An exclusion list is JSONL: each line a JSON string (the prompt) or an object whose `prompt` or
 * `eval_prompt` field is the prompt (the second is how RouteLLM's `contaminated_prompts.jsonl`
 * names the evaluation-set prompt).
 */
import { parse } from 'csv-parse/sync';
import { fmix32, hashString } from './features.ts';
import type { TrainingRow } from './train.ts';

export const PROMPT_COLUMN = 'prompt';

/**
 * Rows of `csvText` labelled by `columns` (each becomes a label of that name). Throws naming `source`
 * when a column is missing or a cell is not a boolean.
 *
 * @example
 * parseLabelledCsv('prompt,weak,strong\n"2+2?",True,True\n', ['weak', 'strong'], 'data.csv')
 * // [{ text: '2+2?', labels: { weak: 1, strong: 1 } }]
 */
export function parseLabelledCsv(csvText: string, columns: readonly string[], source: string): TrainingRow[] {
  const records = parse(csvText, {
    bom: true,
    relax_column_count: false,
    skip_empty_lines: true,
  }) as string[][];
  const header = records[0];
  if (!header) return [];
  const promptAt = header.indexOf(PROMPT_COLUMN);
  if (promptAt < 0)
    throw new Error(`${source}: no "${PROMPT_COLUMN}" column (columns: ${header.join(', ')})`);
  const columnAt = columns.map((column) => {
    const at = header.indexOf(column);
    if (at < 0) throw new Error(`${source}: no column "${column}" (columns: ${header.join(', ')})`);
    return at;
  });
  const rows: TrainingRow[] = [];
  for (let r = 1; r < records.length; r++) {
    const record = records[r]!;
    const labels: Record<string, number | undefined> = {};
    columns.forEach((column, c) => {
      labels[column] = parseBoolean(
        record[columnAt[c]!] ?? '',
        () => `${source}: record ${r}, column "${column}"`,
      );
    });
    rows.push({ text: record[promptAt] ?? '', labels });
  }
  return rows;
}

function parseBoolean(cell: string, where: () => string): number | undefined {
  const value = cell.trim().toLowerCase();
  if (value === 'true' || value === '1') return 1;
  if (value === 'false' || value === '0') return 0;
  if (value === '') return undefined;
  throw new Error(`${where()}: expected True or False, got "${cell.slice(0, 40)}"`);
}

/** The prompts named by a JSONL exclusion list. */
export function parseExclusionList(jsonlText: string, source: string): Set<string> {
  const prompts = new Set<string>();
  jsonlText.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${source}: line ${i + 1} is not JSON`);
    }
    if (typeof value === 'string') prompts.add(value);
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      const prompt = typeof record.prompt === 'string' ? record.prompt : record.eval_prompt;
      if (typeof prompt !== 'string')
        throw new Error(`${source}: line ${i + 1} has no "prompt" or "eval_prompt"`);
      prompts.add(prompt);
    } else throw new Error(`${source}: line ${i + 1} is neither a string nor an object`);
  });
  return prompts;
}

/** `rows` without those whose prompt (exactly, or with surrounding whitespace trimmed) is excluded. */
export function withoutExcluded(rows: readonly TrainingRow[], excluded: ReadonlySet<string>): TrainingRow[] {
  if (excluded.size === 0) return [...rows];
  const trimmed = new Set([...excluded].map((prompt) => prompt.trim()));
  return rows.filter((row) => !excluded.has(row.text) && !trimmed.has(row.text.trim()));
}

/** Family tag of the split hash (kept apart from the feature tags). */
const SPLIT_TAG = 0x5;

/**
 * A prompt's place in [0, 1) for a seeded split that does not depend on row order or file set:
 * `fmix32(hashString(prompt, 5) ^ seed) / 2^32`. `train-router --train-share F` trains on the
 * prompts below F; a workload that must not see them draws from the prompts at F or above.
 */
export function promptPart(prompt: string, seed: number): number {
  return fmix32(hashString(prompt, SPLIT_TAG) ^ (seed >>> 0)) / 4294967296;
}
