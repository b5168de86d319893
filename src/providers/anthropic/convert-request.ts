/**
 * OpenAI Chat Completions request -> Anthropic Messages API request body. Pure: no I/O.
 * Anthropic differs in ways that matter: the system prompt is a top-level field, roles must
 * alternate user/assistant, tool results travel inside user messages, images are blocks with a
 * `source`, and `max_tokens` is mandatory.
 */
import type { ModelSpec } from '../../config/model-spec.ts';
import { UpstreamError } from '../../errors.ts';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ToolChoice,
  ToolDefinition,
} from '../../types/openai.ts';

export type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

export type AnthropicContentBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: AnthropicImageSource }
  | {
      type: 'document';
      source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
    }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | {
      type: 'tool_result';
      tool_use_id: string;
      content: string | AnthropicContentBlock[];
      is_error?: boolean;
    };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicContentBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

export interface AnthropicRequest {
  model: string;
  messages: AnthropicMessage[];
  max_tokens: number;
  system?: string;
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  stream?: boolean;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
}

/** Build the Messages API body. `stream` comes from the call (chat vs stream), not the request. */
export function toAnthropicRequest(request: ChatRequest, spec: ModelSpec, stream: boolean): AnthropicRequest {
  const systemParts: string[] = [];
  const messages: AnthropicMessage[] = [];

  for (const message of request.messages) {
    if (message.role === 'system' || message.role === 'developer') {
      const text = textOf(message.content);
      if (text) systemParts.push(text);
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
  if (systemParts.length > 0) body.system = systemParts.join('\n\n');
  // Anthropic's temperature range is 0..1 (OpenAI's is 0..2); clamp rather than fail the request.
  if (request.temperature != null) body.temperature = Math.min(1, Math.max(0, request.temperature));
  if (request.top_p != null) body.top_p = request.top_p;
  const stop = stopSequences(request.stop);
  if (stop.length > 0) body.stop_sequences = stop;
  if (stream) body.stream = true;
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map(convertTool);
    const choice = convertToolChoice(request.tool_choice, request.parallel_tool_calls === false);
    if (choice) body.tool_choice = choice;
  }
  if (typeof request.user === 'string' && request.user) body.metadata = { user_id: request.user };
  return body;
}

function convertMessage(message: ChatMessage): AnthropicMessage {
  if (message.role === 'tool' || message.role === 'function') {
    // OpenAI sends each tool result as its own message; Anthropic wants them as user content.
    const id = message.tool_call_id ?? (typeof message.name === 'string' ? message.name : '');
    return {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: id, content: toolResultContent(message.content) }],
    };
  }
  if (message.role === 'assistant') {
    const content = contentBlocks(message.content);
    for (const call of message.tool_calls ?? []) {
      content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call) });
    }
    return { role: 'assistant', content };
  }
  return { role: 'user', content: contentBlocks(message.content) };
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
  if (part.type === 'text') {
    const text = (part as { text?: unknown }).text;
    return typeof text === 'string' && text ? { type: 'text', text } : undefined;
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
    if (source.type !== 'base64') throw invalid('file parts must be base64 data URLs');
    return { type: 'document', source };
  }
  throw invalid(`content part type '${part.type}' is not supported by this model`);
}

/** `data:<type>;base64,<data>` becomes an inline source; http(s) URLs are fetched by Anthropic. */
function sourceFromUrl(url: string, what: string): AnthropicImageSource {
  if (url.startsWith('data:')) {
    const match = /^data:([^;,]+)(?:;[^;,]+)*;base64,(.*)$/s.exec(url);
    if (!match) throw invalid(`${what} data URLs must be base64-encoded`);
    return { type: 'base64', media_type: match[1]!, data: match[2]! };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw invalid(`${what} URLs must be http(s) or base64 data URLs`);
}

function toolResultContent(content: ChatMessage['content']): string | AnthropicContentBlock[] {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return contentBlocks(content);
}

/** Anthropic needs `input` as an object; models sometimes emit invalid JSON, which we keep. */
function parseArguments(call: { function: { arguments: string } }): Record<string, unknown> {
  const raw = call.function.arguments;
  if (!raw?.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    return { value: parsed };
  } catch {
    return { _raw_arguments: raw };
  }
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
