/**
 * Training rows from the request log's feedback (`POST /v1/feedback`): the prompt (the last user
 * message; the log keeps it only with `log_content: true`) labelled, for the router label of the
 * model that answered, with the client's score (0..1). The other labels are unobserved, which the
 * trainer accepts. Read-only: the log can be the one a running gateway writes.
 */
import Database from 'better-sqlite3';
import type { TrainingRow } from '../routing/learned/train.ts';

export interface FeedbackData {
  rows: TrainingRow[];
  /** Scored rows left out, and why. */
  withoutContent: number;
  unlabelled: Map<string, number>;
}

interface ScoredRow {
  model: string | null;
  content: string | null;
  feedback_score: number;
}

/** `labelOf`: the router label a configured model's answers count for (undefined: not trained on). */
export function readFeedbackRows(path: string, labelOf: (model: string) => string | undefined): FeedbackData {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const scored = db
      .prepare(
        'SELECT model, content, feedback_score FROM requests WHERE feedback_score IS NOT NULL AND status = 200',
      )
      .all() as ScoredRow[];
    const data: FeedbackData = { rows: [], withoutContent: 0, unlabelled: new Map() };
    for (const row of scored) {
      const text = row.content === null ? '' : lastUserText(row.content);
      if (text === '') {
        data.withoutContent++;
        continue;
      }
      const label = row.model === null ? undefined : labelOf(row.model);
      if (label === undefined) {
        const model = row.model ?? '(none)';
        data.unlabelled.set(model, (data.unlabelled.get(model) ?? 0) + 1);
        continue;
      }
      data.rows.push({ text, labels: { [label]: row.feedback_score } });
    }
    return data;
  } finally {
    db.close();
  }
}

/** The logged messages' last user turn, as text (the router was trained on single prompts). */
function lastUserText(content: string): string {
  let messages: unknown;
  try {
    messages = (JSON.parse(content) as { request?: unknown }).request;
  } catch {
    return '';
  }
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; content?: unknown };
    if (message?.role !== 'user') continue;
    if (typeof message.content === 'string') return message.content;
    if (Array.isArray(message.content)) {
      return message.content
        .filter((part: { type?: unknown }) => part?.type === 'text')
        .map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : ''))
        .join('\n');
    }
    return '';
  }
  return '';
}
