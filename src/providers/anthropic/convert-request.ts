/**
 * OpenAI Chat Completions request -> Anthropic Messages API request body. Pure: no I/O.
 * Anthropic differs in ways that matter: the system prompt is a top-level field, roles must
 * alternate user/assistant, tool results travel inside user messages, images are blocks with a
 * `source`, and `max_tokens` is mandatory.
 */

import type { ModelSpec } from '../../config/model-spec.ts';
import { UpstreamError } from '../../errors.ts';
import { parseToolArguments } from '../../lib/tool-arguments.ts';
import { unfetchableReason } from '../../lib/urls.ts';
import type {
  CacheControl,
  ChatMessage,
  ChatRequest,
  ContentPart,
  ThinkingBlock,
  ToolChoice,
  ToolDefinition,
} from '../../types/openai.ts';

export type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

type Cacheable = { cache_control?: CacheControl };

export type AnthropicContentBlock =
  | ({ type: 'text'; text: string } & Cacheable)
  | ({ type: 'image'; source: AnthropicImageSource } & Cacheable)
  | ({
      type: 'document';
      source:
        | { type: 'base64'; media_type: string; data: string }
        | { type: 'url'; url: string }
        | { type: 'text'; media_type: string; data: string };
      title?: string | null;
      context?: string | null;
      citations?: unknown;
    } & Cacheable)
  | ({ type: 'tool_use'; id: string; name: string; input: Record<string, unknown> } & Cacheable)
  | ({
      type: 'tool_result';
      tool_use_id: string;
      content: string | AnthropicContentBlock[];
      is_error?: boolean;
    } & Cacheable)
  | ThinkingBlock;

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicContentBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
  cache_control?: CacheControl;
  [key: string]: unknown;
}

export type AnthropicSystemBlock = { type: 'text'; text: string } & Cacheable;

export type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

export interface AnthropicRequest {
  model: string;
  messages: AnthropicMessage[];
  max_tokens: number;
  system?: string | AnthropicSystemBlock[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  stream?: boolean;
  tools?: Array<AnthropicTool | Record<string, unknown>>;
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
  thinking?: Record<string, unknown>;
  cache_control?: CacheControl;
  [key: string]: unknown;
}

/**
 * The `anthropic-beta` header for a request that arrived with beta flags (Messages front door),
 * or undefined. The adapter sends it beside the body.
 */
export function anthropicBetaHeader(request: ChatRequest): string | undefined {
  const betas = request.anthropic?.betas;
  return betas && betas.length > 0 ? betas.join(',') : undefined;
}

/** Build the Messages API body. `stream` comes from the call (chat vs stream), not the request. */
export function toAnthropicRequest(request: ChatRequest, spec: ModelSpec, stream: boolean): AnthropicRequest {
  const systemParts: string[] = [];
  const systemBlocks: AnthropicSystemBlock[] = [];
  let systemAsBlocks = false;
  const messages: AnthropicMessage[] = [];
  const extras = request.anthropic;

  for (const message of request.messages) {
    if (message.role === 'system' || message.role === 'developer') {
      const text = textOf(message.content);
      if (text) systemParts.push(text);
      const blocks = systemBlocksOf(message);
      // Blocks keep cache breakpoints; a Messages client's block list also stays a list.
      if (blocks.some((block) => block.cache_control) || (extras && Array.isArray(message.content))) {
        systemAsBlocks = true;
      }
      systemBlocks.push(...blocks);
      continue;
    }
    const converted = convertMessage(message);
    if (converted.content.length === 0) continue; // Anthropic rejects empty content.
    const last = messages[messages.length - 1];
    if (last && last.role === converted.role) {
      // Anthropic requires strict alternation, so consecutive same-role turns become one.
      last.content.push(...converted.content);
    } else {
      messages.push(converted);
    }
  }

  for (const message of messages) {
    if (message.role === 'user') message.content = toolResultsFirst(message.content);
  }
  trimPrefill(messages);

  const body: AnthropicRequest = {
    model: spec.upstreamModel,
    messages,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? spec.maxOutputTokens,
  };
  if (systemAsBlocks && systemBlocks.length > 0) body.system = systemBlocks;
  else if (systemParts.length > 0) body.system = systemParts.join('\n\n');
  // Anthropic's temperature range is 0..1 (OpenAI's is 0..2); clamp rather than fail the request.
  if (request.temperature != null) body.temperature = Math.min(1, Math.max(0, request.temperature));
  if (request.top_p != null) body.top_p = request.top_p;
  const stop = stopSequences(request.stop);
  if (stop.length > 0) body.stop_sequences = stop;
  if (stream) body.stream = true;
  const tools: Array<AnthropicTool | Record<string, unknown>> = (request.tools ?? []).map(convertTool);
  for (const { position, tool } of extras?.builtin_tools ?? []) {
    tools.splice(Math.min(position, tools.length), 0, tool);
  }
  if (tools.length > 0) body.tools = tools;
  if (request.tools && request.tools.length > 0) {
    const choice = convertToolChoice(request.tool_choice, request.parallel_tool_calls === false);
    if (choice) body.tool_choice = choice;
  }
  applyResponseFormat(body, request);
  if (typeof request.user === 'string' && request.user) body.metadata = { user_id: request.user };
  if (extras) applyExtras(body, extras);
  return body;
}

/**
 * The name of the tool that carries a JSON answer: the response converters turn its input back
 * into the message's text, so the client sees a JSON answer, never this tool.
 */
export const jsonAnswerTool = 'switchyard_json_answer';

/**
 * `response_format` on a backend with no JSON mode. Without tools of the client's own, the answer
 * is a forced call of one tool whose input schema is the requested schema (or any object), so
 * Anthropic itself checks the shape; with the client's tools, an instruction asks for JSON only.
 */
function applyResponseFormat(body: AnthropicRequest, request: ChatRequest): void {
  const format = request.response_format;
  if (!format || (format.type !== 'json_object' && format.type !== 'json_schema')) return;
  const spec =
    format.type === 'json_schema'
      ? (format.json_schema as { schema?: unknown; name?: unknown } | undefined)
      : undefined;
  const schema =
    spec?.schema && typeof spec.schema === 'object'
      ? (spec.schema as Record<string, unknown>)
      : { type: 'object' };
  if (body.tools && body.tools.length > 0) {
    const instruction =
      format.type === 'json_schema'
        ? `Answer with a single JSON value that matches this JSON Schema, and nothing else: ${JSON.stringify(schema)}`
        : 'Answer with a single JSON object, and nothing else.';
    if (Array.isArray(body.system)) body.system = [...body.system, { type: 'text', text: instruction }];
    else body.system = body.system ? `${body.system}\n\n${instruction}` : instruction;
    return;
  }
  const name = typeof spec?.name === 'string' && spec.name ? ` (${spec.name})` : '';
  body.tools = [
    { name: jsonAnswerTool, description: `Give the answer as JSON${name}.`, input_schema: schema },
  ];
  body.tool_choice = { type: 'tool', name: jsonAnswerTool };
}

/** Anthropic-only request data from the Messages front door, back in its own fields. */
function applyExtras(body: AnthropicRequest, extras: NonNullable<ChatRequest['anthropic']>): void {
  if (extras.top_k !== undefined) body.top_k = extras.top_k;
  if (extras.thinking !== undefined) body.thinking = extras.thinking;
  if (extras.cache_control) body.cache_control = extras.cache_control;
  for (const [key, value] of Object.entries(extras.passthrough ?? {})) {
    if (!(key in body)) body[key] = value;
  }
}

function systemBlocksOf(message: ChatMessage): AnthropicSystemBlock[] {
  const blocks: AnthropicSystemBlock[] = [];
  if (typeof message.content === 'string') {
    if (message.content) blocks.push({ type: 'text', text: message.content });
  } else if (Array.isArray(message.content)) {
    for (const part of message.content) {
      if (part.type !== 'text' || typeof part.text !== 'string' || !part.text) continue;
      const block: AnthropicSystemBlock = { type: 'text', text: part.text };
      if (part.cache_control) block.cache_control = part.cache_control as CacheControl;
      blocks.push(block);
    }
  }
  const last = blocks[blocks.length - 1];
  if (last && message.cache_control) last.cache_control = message.cache_control;
  return blocks;
}

function convertMessage(message: ChatMessage): AnthropicMessage {
  if (message.role === 'tool' || message.role === 'function') {
    // OpenAI sends each tool result as its own message; Anthropic wants them as user content.
    const id = message.tool_call_id ?? (typeof message.name === 'string' ? message.name : '');
    const result: AnthropicContentBlock = {
      type: 'tool_result',
      tool_use_id: id,
      content: toolResultContent(message.content),
    };
    if (message.is_error === true) result.is_error = true;
    if (message.cache_control) result.cache_control = message.cache_control;
    return { role: 'user', content: [result] };
  }
  if (message.role === 'assistant') {
    // Thinking blocks open the turn, unchanged; one without a signature (reasoning text from an
    // OpenAI-compatible server) cannot be verified by Anthropic and is left out.
    const content: AnthropicContentBlock[] = (message.thinking_blocks ?? []).filter(
      (block) => block.type === 'redacted_thinking' || (block.type === 'thinking' && block.signature),
    );
    content.push(...contentBlocks(message.content));
    for (const call of message.tool_calls ?? []) {
      const use: AnthropicContentBlock = {
        type: 'tool_use',
        id: call.id,
        name: call.function.name,
        // Anthropic needs `input` as an object; invalid JSON from a model is kept, not lost.
        input: parseToolArguments(call.function.arguments),
      };
      if (call.cache_control) use.cache_control = call.cache_control;
      content.push(use);
    }
    return { role: 'assistant', content: withMessageCache(content, message) };
  }
  return { role: 'user', content: withMessageCache(contentBlocks(message.content), message) };
}

/** A breakpoint set on a whole message (as OpenAI-format clients write it) marks its last block. */
function withMessageCache(blocks: AnthropicContentBlock[], message: ChatMessage): AnthropicContentBlock[] {
  const last = blocks[blocks.length - 1];
  if (message.cache_control && last && last.type !== 'thinking' && last.type !== 'redacted_thinking') {
    last.cache_control = message.cache_control;
  }
  return blocks;
}

function contentBlocks(content: ChatMessage['content']): AnthropicContentBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  const blocks: AnthropicContentBlock[] = [];
  for (const part of content) {
    const block = convertPart(part);
    if (block) blocks.push(block);
  }
  return blocks;
}

function convertPart(part: ContentPart): AnthropicContentBlock | undefined {
  const block = convertPartBody(part);
  if (block && part.cache_control && block.type !== 'thinking' && block.type !== 'redacted_thinking') {
    block.cache_control = part.cache_control as CacheControl;
  }
  return block;
}

function convertPartBody(part: ContentPart): AnthropicContentBlock | undefined {
  const document = (part as { anthropic_document?: Record<string, unknown> }).anthropic_document;
  if (part.type === 'text') {
    const text = (part as { text?: unknown }).text;
    if (typeof text !== 'string') return undefined;
    if (document?.media_type === 'text/plain') {
      return withDocumentExtras(
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text } },
        document,
      );
    }
    return text ? { type: 'text', text } : undefined;
  }
  if (part.type === 'refusal') {
    const text = (part as { refusal?: unknown }).refusal;
    return typeof text === 'string' && text ? { type: 'text', text } : undefined;
  }
  if (part.type === 'image_url') {
    const image = (part as { image_url?: { url?: unknown } | string }).image_url;
    const url = typeof image === 'string' ? image : image?.url;
    if (typeof url !== 'string') throw invalid('an image_url part has no url');
    return { type: 'image', source: sourceFromUrl(url, 'image') };
  }
  if (part.type === 'file') {
    // OpenAI's inline file part (PDFs); Anthropic calls it a document.
    const data = (part as { file?: { file_data?: unknown } }).file?.file_data;
    if (typeof data !== 'string') throw invalid('only inline file parts (file.file_data) are supported');
    const source = sourceFromUrl(data, 'file');
    // A URL document only comes from the Messages front door, which marks it as a document.
    if (source.type !== 'base64' && !document) throw invalid('file parts must be base64 data URLs');
    return withDocumentExtras({ type: 'document', source }, document);
  }
  throw invalid(`content part type '${part.type}' is not supported by this model`);
}

function withDocumentExtras(
  block: Extract<AnthropicContentBlock, { type: 'document' }>,
  extras: Record<string, unknown> | undefined,
): AnthropicContentBlock {
  if (!extras) return block;
  if (typeof extras.title === 'string') block.title = extras.title;
  if (typeof extras.context === 'string') block.context = extras.context;
  if (extras.citations !== undefined) block.citations = extras.citations;
  return block;
}

/** `data:<type>;base64,<data>` becomes an inline source; http(s) URLs are fetched by Anthropic. */
function sourceFromUrl(url: string, what: string): AnthropicImageSource {
  if (url.startsWith('data:')) {
    const match = /^data:([^;,]+)(?:;[^;,]+)*;base64,(.*)$/s.exec(url);
    if (!match) throw invalid(`${what} data URLs must be base64-encoded`);
    return { type: 'base64', media_type: match[1]!, data: match[2]! };
  }
  const refused = unfetchableReason(url);
  if (refused) throw invalid(`${what} URL ${refused}`);
  return { type: 'url', url };
}

function toolResultContent(content: ChatMessage['content']): string | AnthropicContentBlock[] {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return contentBlocks(content);
}

/** Anthropic requires tool_result blocks before any other content in a user turn. */
function toolResultsFirst(blocks: AnthropicContentBlock[]): AnthropicContentBlock[] {
  const results = blocks.filter((block) => block.type === 'tool_result');
  if (results.length === 0 || results.length === blocks.length) return blocks;
  return [...results, ...blocks.filter((block) => block.type !== 'tool_result')];
}

/** A trailing assistant turn is a prefill; Anthropic rejects it if it ends in whitespace. */
function trimPrefill(messages: AnthropicMessage[]): void {
  const last = messages[messages.length - 1];
  if (last?.role !== 'assistant') return;
  const block = last.content[last.content.length - 1];
  if (block?.type !== 'text') return;
  block.text = block.text.trimEnd();
  if (!block.text) last.content.pop();
  if (last.content.length === 0) messages.pop();
}

function textOf(content: ChatMessage['content']): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part) => (part.type === 'text' && typeof part.text === 'string' ? part.text : ''))
    .filter(Boolean)
    .join('\n');
}

function stopSequences(stop: ChatRequest['stop']): string[] {
  if (stop == null) return [];
  return (Array.isArray(stop) ? stop : [stop]).filter((s) => typeof s === 'string' && s.length > 0);
}

function convertTool(tool: ToolDefinition): AnthropicTool {
  const out: AnthropicTool = {
    name: tool.function.name,
    input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
  };
  if (tool.function.description) out.description = tool.function.description;
  if (tool.cache_control) out.cache_control = tool.cache_control;
  if (tool.anthropic_extra) Object.assign(out, tool.anthropic_extra);
  return out;
}

function convertToolChoice(
  choice: ToolChoice | undefined,
  noParallel: boolean,
): AnthropicToolChoice | undefined {
  let out: AnthropicToolChoice | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice === 'none') out = { type: 'none' };
  else if (choice && typeof choice === 'object') out = { type: 'tool', name: choice.function.name };
  // OpenAI's parallel_tool_calls:false lives on tool_choice in Anthropic's API.
  if (noParallel && out?.type !== 'none') {
    out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }
  return out;
}

function invalid(message: string): UpstreamError {
  return new UpstreamError('invalid_request', message, { provider: 'anthropic' });
}
