/**
 * POST /v1/messages/count_tokens: the body's input tokens, estimated with the gateway's tokenizer
 * (o200k_base). Claude's own tokenizer is not public, so the count is an estimate, good for
 * context budgeting, not for billing.
 *
 * Counted: system text, message text, tool_use names and inputs, tool_result content, plain-text
 * documents, thinking text of the last assistant turn (Anthropic drops earlier turns' thinking
 * from the context), tool definitions; images by Anthropic's size rule (image-tokens.ts); PDFs at
 * `pdfPageTokens` a page. Plus a few tokens of framing per message and, when tools are present,
 * an allowance for the tool-use system prompt Anthropic adds.
 */
import { countTokens } from '../../routing/tokenizer.ts';
import { base64ImageTokens, maxImageTokens } from './image-tokens.ts';
import type { ContentBlockParam, MessagesRequest, MessageTokensCount } from './types.ts';
import { validateMessagesRequest } from './validate.ts';

/** Role markers and turn framing, per message. */
const perMessageTokens = 3;
/**
 * The tool-use system prompt Anthropic adds when `tools` is present: a few hundred tokens
 * (159-530 for the Claude 3 models on its pricing page; not published per model here).
 */
const toolPromptTokens = 300;
/** A PDF page is read as text plus an image of the page. */
export const pdfPageTokens = 1500;
/** Texts up to this size are counted exactly; longer ones are sampled (see tokenizer.ts). */
const exactChars = 200_000;

/**
 * Validate a count_tokens body (no max_tokens needed) and count it. Throws an AnthropicApiError
 * (400) for a malformed body.
 *
 * @example countMessagesTokens({ model: 'auto', messages: [{ role: 'user', content: 'Hi' }] }) // { input_tokens: 4 }
 */
export function countMessagesTokens(body: unknown): MessageTokensCount {
  return { input_tokens: countRequestTokens(validateMessagesRequest(body, { countTokens: true })) };
}

/** The count for an already validated request. */
export function countRequestTokens(request: MessagesRequest): number {
  const texts: string[] = [];
  let fixed = 0;
  if (typeof request.system === 'string') texts.push(request.system);
  else if (request.system) for (const block of request.system) texts.push(block.text);

  const last = request.messages.length - 1;
  request.messages.forEach((message, index) => {
    fixed += perMessageTokens;
    if (typeof message.content === 'string') {
      texts.push(message.content);
      return;
    }
    const keepThinking = index === last && message.role === 'assistant';
    for (const block of message.content) fixed += collectBlock(block, texts, keepThinking);
  });

  if (request.tools && request.tools.length > 0) {
    fixed += toolPromptTokens;
    for (const tool of request.tools) {
      if (typeof tool.name === 'string') texts.push(tool.name);
      if (typeof tool.description === 'string') texts.push(tool.description);
      const schema = tool.input_schema ?? tool;
      texts.push(JSON.stringify(schema));
    }
  }
  return fixed + countTokens(texts, { exactChars }).tokens;
}

/** Pushes the block's text onto `texts`; returns the tokens counted another way (images, PDFs). */
function collectBlock(block: ContentBlockParam, texts: string[], keepThinking: boolean): number {
  switch (block.type) {
    case 'text':
      texts.push(block.text);
      return 0;
    case 'image':
      return block.source.type === 'base64' ? base64ImageTokens(block.source.data) : maxImageTokens;
    case 'document':
      if (block.source.type === 'text') {
        texts.push(block.source.data);
        return 0;
      }
      return block.source.type === 'base64' ? pdfPages(block.source.data) * pdfPageTokens : pdfPageTokens;
    case 'tool_use':
      texts.push(block.name, JSON.stringify(block.input));
      return 0;
    case 'tool_result': {
      const content = block.content;
      if (typeof content === 'string') {
        texts.push(content);
        return 0;
      }
      let extra = 0;
      for (const inner of content ?? []) extra += collectBlock(inner, texts, false);
      return extra;
    }
    case 'thinking':
      if (keepThinking) texts.push(block.thinking);
      return 0;
    default:
      return 0;
  }
}

/** Page count of a base64 PDF, from its page objects; at least 1. */
function pdfPages(base64: string): number {
  const text = Buffer.from(base64, 'base64').toString('latin1');
  const pages = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  return Math.max(1, pages);
}
