import type { RandomSource } from '../../lib/random.ts';
import type { ChatMessage, ChatRequest } from '../../types/openai.ts';

const vocabulary = (
  'the a model gateway routes each request to a healthy provider and answers quickly while cost stays low ' +
  'latency matters because users wait for the first token so the router prefers fast models for simple ' +
  'questions and strong models for code and long documents'
).split(' ');

/** Deterministic filler text, one "token" per word, so streams have realistic shape. */
export function replyWords(random: RandomSource, modelName: string, tokens: number): string[] {
  const words: string[] = [`[${modelName}]`];
  for (let i = 1; i < tokens; i++) {
    words.push(` ${vocabulary[Math.floor(random() * vocabulary.length)]}`);
  }
  return words;
}

/** All message text in a request (for the simulated usage numbers). */
export function promptText(request: ChatRequest): string {
  let text = '';
  for (const message of request.messages ?? []) text += messageText(message);
  return text;
}

/** The text of one message (its text parts, for multi-part content). */
export function messageText(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  let text = '';
  if (Array.isArray(message.content)) {
    for (const part of message.content) if (part.type === 'text') text += (part as { text: string }).text;
  }
  return text;
}

/** Rough token count for simulated usage: ~4 chars per token, one per CJK character. */
export function approximateTokens(text: string): number {
  let cjk = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x3000 && code <= 0x9fff) cjk++;
  }
  return Math.max(1, cjk + Math.ceil((text.length - cjk) / 4));
}
