/**
 * Responses API request -> the gateway's ChatRequest (OpenAI Chat Completions). Pure.
 *
 * `instructions` -> a leading system message; `input` items -> messages in order (an assistant
 * message and the function_call items after it are one assistant turn with tool_calls;
 * function_call_output -> a `tool` message); function tools, tool_choice (allowed_tools narrows
 * the tool list), text.format -> response_format, max_output_tokens -> max_completion_tokens,
 * reasoning.effort -> reasoning_effort. `metadata` and `store` stay with the front door: Chat
 * Completions only accepts metadata together with its own storage.
 */
import { type GatewayError, invalidRequest } from '../../errors.ts';
import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  ToolChoice,
  ToolDefinition,
} from '../../types/openai.ts';
import type {
  InputContentPart,
  InputItem,
  MessageItem,
  OutputItem,
  RefusalPart,
  ResponsesRequest,
  StoredResponse,
} from './types.ts';

export interface ResponsesToChatOptions {
  /** The stored response `previous_response_id` names, resolved by the caller. */
  previous?: StoredResponse;
}

/**
 * Translate a validated Responses request. With `previous_response_id`, pass the stored response
 * as `previous`: its input and output come first (its instructions do not carry over, as in
 * OpenAI's API). Without it, the request is refused with previousResponseNotFound.
 *
 * @example const chat = responsesToChat(request, { previous: store.get(request.previous_response_id) });
 */
export function responsesToChat(
  request: ResponsesRequest,
  options: ResponsesToChatOptions = {},
): ChatRequest {
  const input = conversationInput(request, options.previous);
  const messages: ChatMessage[] = [];
  if (request.instructions) messages.push({ role: 'system', content: request.instructions });
  for (const item of input) appendItem(messages, item);

  const chat: ChatRequest = { model: request.model, messages };
  if (request.stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  if (request.max_output_tokens != null) chat.max_completion_tokens = request.max_output_tokens;
  if (request.temperature != null) chat.temperature = request.temperature;
  if (request.top_p != null) chat.top_p = request.top_p;
  const user = request.user ?? request.safety_identifier;
  if (user) chat.user = user;

  let tools = (request.tools ?? []).map(functionTool);
  let choice: ToolChoice | undefined;
  const requested = request.tool_choice;
  if (typeof requested === 'string') choice = requested;
  else if (requested?.type === 'function') choice = { type: 'function', function: { name: requested.name } };
  else if (requested?.type === 'allowed_tools') {
    const allowed = new Set(requested.tools.map((tool) => tool.name));
    tools = tools.filter((tool) => allowed.has(tool.function.name));
    choice = requested.mode;
  }
  if (tools.length > 0) {
    chat.tools = tools;
    if (choice) chat.tool_choice = choice;
    if (request.parallel_tool_calls != null) chat.parallel_tool_calls = request.parallel_tool_calls;
  }

  const format = request.text?.format;
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    const schema: Record<string, unknown> = { name: format.name, schema: format.schema };
    if (format.description !== undefined) schema.description = format.description;
    if (format.strict != null) schema.strict = format.strict;
    chat.response_format = { type: 'json_schema', json_schema: schema };
  }
  if (request.text?.verbosity) chat.verbosity = request.text.verbosity;
  if (request.reasoning?.effort) chat.reasoning_effort = request.reasoning.effort;
  for (const key of ['service_tier', 'prompt_cache_key', 'prompt_cache_retention'] as const) {
    if (request[key] != null) chat[key] = request[key];
  }
  return chat;
}

/**
 * The items a request is answered on: the previous response's input and output, then this
 * request's input. Store this (with the response's output) to continue from the new response.
 */
export function conversationInput(request: ResponsesRequest, previous?: StoredResponse): InputItem[] {
  const own = normalizeInput(request.input);
  if (!request.previous_response_id) return own;
  if (!previous || previous.id !== request.previous_response_id) {
    throw previousResponseNotFound(request.previous_response_id);
  }
  return [...previous.input, ...previous.output.map(outputAsInput), ...own];
}

/** `input: "text"` is one user message. */
export function normalizeInput(input: ResponsesRequest['input']): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return input;
}

/** The 400 for a `previous_response_id` that names no stored response (OpenAI's wording). */
export function previousResponseNotFound(id: string): GatewayError {
  return invalidRequest(`Previous response with id '${id}' not found.`, 'previous_response_id');
}

function outputAsInput(item: OutputItem): InputItem {
  return item.type === 'message'
    ? { type: 'message', id: item.id, role: 'assistant', content: item.content, status: item.status }
    : item;
}

function appendItem(out: ChatMessage[], item: InputItem): void {
  const type = item.type ?? 'message';
  if (type === 'message') {
    out.push(messageFrom(item as MessageItem));
    return;
  }
  if (item.type === 'function_call') {
    const call = {
      id: item.call_id,
      type: 'function' as const,
      function: { name: item.name, arguments: item.arguments },
    };
    // The calls after an assistant message belong to that turn.
    const last = out[out.length - 1];
    if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
    else out.push({ role: 'assistant', content: null, tool_calls: [call] });
    return;
  }
  if (item.type === 'function_call_output') {
    out.push({
      role: 'tool',
      tool_call_id: item.call_id,
      content: typeof item.output === 'string' ? item.output : item.output.map(inputPart),
    });
  }
  // Reasoning items are encrypted state for OpenAI's own models; this gateway forwards none.
}

function messageFrom(item: MessageItem): ChatMessage {
  const role = item.role === 'developer' ? 'system' : item.role;
  if (typeof item.content === 'string') return { role, content: item.content };
  if (role === 'assistant') {
    // Assistant turns are plain text for every backend.
    const text = item.content
      .map((part) =>
        part.type === 'output_text' || part.type === 'input_text'
          ? part.text
          : ((part as RefusalPart).refusal ?? ''),
      )
      .join('');
    return { role, content: text };
  }
  return { role, content: item.content.map((part) => inputPart(part as InputContentPart)) };
}

function inputPart(part: InputContentPart): ContentPart {
  switch (part.type) {
    case 'input_text':
      return { type: 'text', text: part.text };
    case 'input_image': {
      const detail = part.detail === 'original' ? 'high' : (part.detail ?? undefined);
      return { type: 'image_url', image_url: { url: part.image_url ?? '', ...(detail ? { detail } : {}) } };
    }
    case 'input_file':
      return { type: 'file', file: { file_data: part.file_data ?? '', filename: part.filename ?? 'file' } };
  }
}

function functionTool(tool: NonNullable<ResponsesRequest['tools']>[number]): ToolDefinition {
  const definition: ToolDefinition = { type: 'function', function: { name: tool.name } };
  if (tool.description != null) definition.function.description = tool.description;
  if (tool.parameters != null) definition.function.parameters = tool.parameters;
  if (tool.strict != null) definition.function.strict = tool.strict;
  return definition;
}
