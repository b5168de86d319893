/**
 * Messages API request -> the gateway's ChatRequest (OpenAI Chat Completions). Pure.
 *
 * What maps one to one: system -> a system message; text/image/document blocks -> content
 * parts; tool_use -> assistant tool_calls; each tool_result -> a `tool` message, in order;
 * tools -> function tools; tool_choice; stop_sequences -> stop; max_tokens, temperature, top_p;
 * metadata.user_id -> user. What Chat Completions has no field for travels in the extension
 * fields of src/types/openai.ts (cache_control, thinking blocks and config, top_k, beta flags,
 * Anthropic-defined tools, other top-level fields), so an Anthropic backend gets the same body
 * back and every other backend gets a plain Chat Completions request (withoutExtensions).
 */
import type {
  AnthropicRequestExtras,
  CacheControl,
  ChatMessage,
  ChatRequest,
  ContentPart,
  ThinkingBlock,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from '../../types/openai.ts';
import { isObject, stringifyToolInput } from '../shared.ts';
import type {
  ContentBlockParam,
  CustomToolParam,
  DocumentBlockParam,
  ImageBlockParam,
  MessageParam,
  MessagesRequest,
  TextBlockParam,
  ToolChoiceParam,
  ToolResultBlockParam,
} from './types.ts';

/** Top-level fields this module maps; any other field is kept verbatim for an Anthropic backend. */
const mappedFields = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'stop_sequences',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'cache_control',
]);

export interface MessagesToChatOptions {
  /** The `anthropic-beta` header as received (comma-separated flags), or its values. */
  betas?: string | readonly string[];
}

/**
 * Translate a validated Messages request.
 *
 * @example const chat = messagesToChat(validateMessagesRequest(body), { betas: headers['anthropic-beta'] });
 */
export function messagesToChat(request: MessagesRequest, options: MessagesToChatOptions = {}): ChatRequest {
  const extras: AnthropicRequestExtras = {};
  const messages: ChatMessage[] = [];
  if (request.system !== undefined) {
    const system = systemMessage(request.system);
    if (system) messages.push(system);
  }
  for (const message of request.messages) appendMessage(messages, message);

  const chat: ChatRequest = { model: request.model, messages, max_tokens: request.max_tokens };
  if (request.stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) chat.stop = [...request.stop_sequences];
  if (typeof request.metadata?.user_id === 'string') chat.user = request.metadata.user_id;

  const tools: ToolDefinition[] = [];
  request.tools?.forEach((tool, position) => {
    if (tool.type === undefined || tool.type === null || tool.type === 'custom') {
      tools.push(functionTool(tool as CustomToolParam));
    } else {
      extras.builtin_tools = [
        ...(extras.builtin_tools ?? []),
        { position, tool: tool as Record<string, unknown> },
      ];
    }
  });
  if (tools.length > 0) {
    chat.tools = tools;
    if (request.tool_choice) {
      const { choice, parallel } = toolChoice(request.tool_choice);
      chat.tool_choice = choice;
      if (parallel === false) chat.parallel_tool_calls = false;
    }
  } else if (request.tool_choice) {
    // Chat Completions refuses tool_choice without tools; an Anthropic backend still gets it.
    extras.passthrough = { ...extras.passthrough, tool_choice: request.tool_choice };
  }

  if (request.top_k !== undefined) extras.top_k = request.top_k;
  if (request.thinking !== undefined) extras.thinking = request.thinking;
  if (request.cache_control) extras.cache_control = request.cache_control;
  const betas = betaFlags(options.betas);
  if (betas.length > 0) extras.betas = betas;
  for (const key of Object.keys(request)) {
    if (!mappedFields.has(key) && request[key] !== undefined) {
      extras.passthrough = { ...extras.passthrough, [key]: request[key] };
    }
  }
  const format = structuredOutputFormat(request.output_config);
  if (format) chat.response_format = format;
  chat.anthropic = extras;
  return chat;
}

function systemMessage(system: string | TextBlockParam[]): ChatMessage | undefined {
  if (typeof system === 'string') return system ? { role: 'system', content: system } : undefined;
  if (system.length === 0) return undefined;
  return { role: 'system', content: system.map(textPart) };
}

function appendMessage(out: ChatMessage[], message: MessageParam): void {
  const { role, content } = message;
  if (typeof content === 'string') {
    out.push({ role, content });
    return;
  }
  if (role === 'assistant') {
    out.push(assistantMessage(content));
    return;
  }
  if (role === 'system') {
    out.push({ role: 'system', content: content.map((block) => textPart(block as TextBlockParam)) });
    return;
  }
  // A user turn: each tool_result becomes its own tool message; other blocks keep their order
  // around them, grouped into user messages.
  let parts: ContentPart[] = [];
  for (const block of content) {
    if (block.type === 'tool_result') {
      if (parts.length > 0) {
        out.push({ role: 'user', content: parts });
        parts = [];
      }
      out.push(toolMessage(block));
    } else {
      parts.push(contentPart(block));
    }
  }
  if (parts.length > 0 || content.length === 0) out.push({ role: 'user', content: parts });
}

function assistantMessage(blocks: ContentBlockParam[]): ChatMessage {
  const texts: ContentPart[] = [];
  const calls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  for (const block of blocks) {
    switch (block.type) {
      case 'thinking':
        thinking.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
        break;
      case 'redacted_thinking':
        thinking.push({ type: 'redacted_thinking', data: block.data });
        break;
      case 'tool_use': {
        const call: ToolCall = {
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: stringifyToolInput(block.input) },
        };
        if (block.cache_control) call.cache_control = block.cache_control;
        calls.push(call);
        break;
      }
      default:
        texts.push(contentPart(block));
    }
  }
  const message: ChatMessage = { role: 'assistant', content: assistantContent(texts, calls.length > 0) };
  if (calls.length > 0) message.tool_calls = calls;
  if (thinking.length > 0) message.thinking_blocks = thinking;
  return message;
}

/** One plain text block reads as a string (what every backend accepts); anything richer stays parts. */
function assistantContent(parts: ContentPart[], hasCalls: boolean): string | ContentPart[] | null {
  if (parts.length === 0) return hasCalls ? null : '';
  const only = parts[0]!;
  if (parts.length === 1 && only.type === 'text' && !only.cache_control && !only.anthropic_document) {
    return only.text as string;
  }
  return parts;
}

function toolMessage(block: ToolResultBlockParam): ChatMessage {
  const content = block.content;
  const message: ChatMessage = {
    role: 'tool',
    tool_call_id: block.tool_use_id,
    content: content === undefined ? '' : typeof content === 'string' ? content : content.map(contentPart),
  };
  if (block.is_error) message.is_error = true;
  if (block.cache_control) message.cache_control = block.cache_control;
  return message;
}

function contentPart(block: ContentBlockParam): ContentPart {
  switch (block.type) {
    case 'text':
      return textPart(block);
    case 'image':
      return imagePart(block);
    case 'document':
      return documentPart(block);
    default:
      // validate.ts admits no other block where content parts are built.
      throw new Error(`unexpected content block type '${block.type}'`);
  }
}

function textPart(block: TextBlockParam): ContentPart {
  return withCache({ type: 'text', text: block.text }, block.cache_control);
}

function imagePart(block: ImageBlockParam): ContentPart {
  const source = block.source;
  const url = source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
  return withCache({ type: 'image_url', image_url: { url } }, block.cache_control);
}

/**
 * A PDF becomes OpenAI's file part (base64 data URL, or the URL itself, which only an Anthropic
 * backend can fetch); a plain-text document becomes its text. Title, context and citations ride
 * along for an Anthropic backend.
 */
function documentPart(block: DocumentBlockParam): ContentPart {
  const source = block.source;
  const extras: Record<string, unknown> = {};
  if (block.title != null) extras.title = block.title;
  if (block.context != null) extras.context = block.context;
  if (block.citations !== undefined) extras.citations = block.citations;
  let part: ContentPart;
  if (source.type === 'text') {
    part = { type: 'text', text: source.data, anthropic_document: { ...extras, media_type: 'text/plain' } };
  } else {
    const fileData =
      source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
    // The marker also tells the Anthropic converter that a URL here is a document to fetch.
    part = {
      type: 'file',
      file: { file_data: fileData, filename: block.title ?? 'document.pdf' },
      anthropic_document: extras,
    };
  }
  return withCache(part, block.cache_control);
}

function withCache(part: ContentPart, cache: CacheControl | null | undefined): ContentPart {
  if (cache) part.cache_control = cache;
  return part;
}

function functionTool(tool: CustomToolParam): ToolDefinition {
  const { name, description, input_schema, cache_control, ...rest } = tool;
  const definition: ToolDefinition = { type: 'function', function: { name, parameters: input_schema } };
  if (description !== undefined) definition.function.description = description;
  if (cache_control) definition.cache_control = cache_control;
  if (Object.keys(rest).length > 0) definition.anthropic_extra = rest;
  return definition;
}

function toolChoice(choice: ToolChoiceParam): { choice: ToolChoice; parallel?: boolean } {
  const parallel =
    'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true ? false : undefined;
  switch (choice.type) {
    case 'any':
      return { choice: 'required', parallel };
    case 'tool':
      return { choice: { type: 'function', function: { name: choice.name } }, parallel };
    case 'none':
      return { choice: 'none' };
    default:
      return { choice: 'auto', parallel };
  }
}

/** `anthropic-beta: a,b` and repeated headers alike give one flag per entry. */
function betaFlags(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const values = typeof value === 'string' ? [value] : value;
  return values.flatMap((entry) => entry.split(',').map((flag) => flag.trim())).filter(Boolean);
}

/** Anthropic's structured outputs (`output_config.format`) as OpenAI's `response_format`. */
function structuredOutputFormat(config: unknown): ChatRequest['response_format'] | undefined {
  if (!isObject(config) || !isObject(config.format)) return undefined;
  const format = config.format;
  if (format.type !== 'json_schema' || !isObject(format.schema)) return undefined;
  return { type: 'json_schema', json_schema: { name: 'output', schema: format.schema, strict: true } };
}
