/**
 * What kind of answer a simulated model gives: text, tool calls, or JSON. The choice reads only
 * the request (no randomness), so it can be made before the attempt's latency; the content is
 * drawn afterwards from the model's seeded source.
 */
import type { RandomSource } from '../../lib/random.ts';
import type { ChatMessage, ChatRequest, ToolCall, ToolDefinition } from '../../types/openai.ts';
import { sampleFromSchema } from './schema-sample.ts';
import { messageText, replyWords } from './text.ts';

export type ReplyKind =
  | { kind: 'text' }
  | { kind: 'tool_calls'; tools: ToolDefinition[] }
  | { kind: 'json'; schema: unknown }
  /** The request cannot be answered as asked (a named tool_choice that is not offered). */
  | { kind: 'invalid'; message: string; param: string };

/** At most this many tools are called at once when a message names several. */
const maxParallelCalls = 3;

const stopWords = new Set(
  (
    'the and for with from that this what which when where who whom whose how why are was were will would ' +
    'can could should shall may might must have has had does did done into onto over under about above ' +
    'below than then them they their there these those your you yours our ours its his her hers him she ' +
    'get set use call run make give take tell show find list fetch return returns given current value ' +
    'values data info information input output please some any all each every just also only very more ' +
    'most other such like want need one two using used based function tool tools'
  ).split(' '),
);

/**
 * Tools first: a named `tool_choice` or `required` always calls (as a real model obeys, even
 * after a tool answered); `auto` calls when the last user message asks and no tool has just
 * answered; `none` never. Then `response_format`; else text.
 * @example decideReply({ model: 'm', messages: [{ role: 'user', content: 'weather in Oslo?' }], tools: [weather] })
 *   // -> { kind: 'tool_calls', tools: [weather] }
 */
export function decideReply(request: ChatRequest): ReplyKind {
  const tools = (request.tools ?? []).filter((tool) => tool?.type === 'function' && tool.function?.name);
  const choice = request.tool_choice;
  if (tools.length > 0 && choice !== 'none') {
    if (typeof choice === 'object' && choice !== null) {
      const name = choice.function?.name;
      const named = tools.find((tool) => tool.function.name === name);
      if (!named) {
        return {
          kind: 'invalid',
          message: `Invalid value for 'tool_choice': tool choice '${String(name)}' not found in 'tools' parameter.`,
          param: 'tool_choice',
        };
      }
      return { kind: 'tool_calls', tools: [named] };
    }
    const scored = rankTools(tools, lastUserText(request.messages));
    if (choice === 'required') return { kind: 'tool_calls', tools: [scored[0]?.tool ?? tools[0]!] };
    // A tool's answer is what the model was waiting for: now it answers in text.
    const last = request.messages.at(-1)?.role;
    if (last !== 'tool' && last !== 'function' && scored.length > 0) {
      const parallel = request.parallel_tool_calls !== false;
      const chosen = [scored[0]!];
      for (const candidate of scored.slice(1)) {
        if (!parallel || chosen.length >= maxParallelCalls) break;
        if (candidate.namedWords > 0) chosen.push(candidate);
      }
      return { kind: 'tool_calls', tools: chosen.map((entry) => entry.tool) };
    }
  }
  const format = request.response_format;
  if (format?.type === 'json_schema') {
    const schema = (format.json_schema as { schema?: unknown } | undefined)?.schema;
    return { kind: 'json', schema: schema ?? undefined };
  }
  if (format?.type === 'json_object') return { kind: 'json', schema: undefined };
  return { kind: 'text' };
}

/** Tool calls with arguments valid against each tool's `parameters`. */
export function writeToolCalls(
  tools: ToolDefinition[],
  request: ChatRequest,
  random: RandomSource,
): ToolCall[] {
  const words = promptWords(request);
  return tools.map((tool) => {
    const parameters = tool.function.parameters ?? { type: 'object', properties: {} };
    return {
      id: `call_${randomId(random, 24)}`,
      type: 'function',
      function: {
        name: tool.function.name,
        arguments: JSON.stringify(sampleFromSchema(parameters, { random, words })),
      },
    };
  });
}

/** A JSON text valid against `schema`; without one, a small object about the prompt. */
export function writeJson(
  schema: unknown,
  request: ChatRequest,
  random: RandomSource,
  modelName: string,
): string {
  const words = promptWords(request);
  if (schema !== undefined) return JSON.stringify(sampleFromSchema(schema, { random, words }));
  const answer = replyWords(random, modelName, 8)
    .join('')
    .replace(/^\[[^\]]*\] /, '');
  return JSON.stringify({ model: modelName, answer, keywords: words.slice(0, 3) });
}

/** Cut a text into `pieces` parts of near-equal length (at least one character each). */
export function splitText(text: string, maxPieceLength: number, minPieces = 3): string[] {
  const size = Math.max(1, Math.min(maxPieceLength, Math.ceil(text.length / minPieces)));
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

interface ScoredTool {
  tool: ToolDefinition;
  score: number;
  /** Words of the tool's own name that the message uses. */
  namedWords: number;
}

/**
 * Tools the message plausibly asks for, best first: its full name, words of its name (worth
 * two), words of its description (worth one). Only tools with some match are returned.
 */
function rankTools(tools: ToolDefinition[], text: string): ScoredTool[] {
  const lower = text.toLowerCase();
  const said = new Set(significantWords(text));
  const scored: ScoredTool[] = [];
  for (const tool of tools) {
    const name = tool.function.name;
    const nameWords = new Set(significantWords(splitIdentifier(name)));
    const descriptionWords = new Set(significantWords(tool.function.description ?? ''));
    let namedWords = 0;
    for (const word of nameWords) if (said.has(word)) namedWords++;
    let described = 0;
    for (const word of descriptionWords) if (!nameWords.has(word) && said.has(word)) described++;
    const fullName = mentions(lower, name.toLowerCase()) || mentions(lower, splitIdentifier(name));
    const score = (fullName ? 10 : 0) + 2 * namedWords + described;
    if (score > 0) scored.push({ tool, score, namedWords: namedWords + (fullName ? 1 : 0) });
  }
  return scored.sort((a, b) => b.score - a.score);
}

/** Whether `phrase` appears in `text` as whole words. */
function mentions(text: string, phrase: string): boolean {
  if (phrase.length === 0) return false;
  const escaped = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|[^\\p{L}\\p{N}_])${escaped}(?:$|[^\\p{L}\\p{N}_])`, 'u').test(text);
}

/** get_current_weather, getCurrentWeather -> "get current weather". */
function splitIdentifier(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_\-.\s]+/g, ' ')
    .toLowerCase()
    .trim();
}

function significantWords(text: string): string[] {
  const found: string[] = [];
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
    const word = stem(match[0]);
    if (word.length >= 3 && !stopWords.has(word)) found.push(word);
  }
  return found;
}

/** Enough stemming that "forecasts" finds "forecast" and "searching" finds "search". */
function stem(word: string): string {
  if (word.length > 5 && word.endsWith('ing')) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith('es') && /(ch|sh|x|s)es$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') return messageText(messages[i]!);
  }
  return '';
}

/**
 * The words of the last user message that strings can echo, leaving out stop words and the
 * `exclude`d (stemmed) ones where others remain; filler words if it has none.
 */
function promptWords(request: ChatRequest, exclude: ReadonlySet<string> = new Set()): string[] {
  const all: string[] = [];
  for (const match of lastUserText(request.messages).matchAll(/[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*/gu)) {
    if (match[0].length >= 3 && !stopWords.has(match[0].toLowerCase())) all.push(match[0]);
  }
  const rest = all.filter((word) => !exclude.has(stem(word.toLowerCase())));
  if (rest.length > 0) return rest;
  return all.length > 0 ? all : ['simulated', 'answer'];
}

const idAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomId(random: RandomSource, length: number): string {
  let id = '';
  for (let i = 0; i < length; i++) id += idAlphabet[Math.floor(random() * idAlphabet.length)];
  return id;
}
