/**
 * Shape checks for client requests, in the order a client would fix them. Each failure is a
 * 400 in OpenAI's error shape with `param` naming the field.
 */
import { invalidRequest } from '../errors.ts';
import type { ChatRequest, EmbeddingsRequest } from '../types/openai.ts';

const roles = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export function validateChatRequest(body: unknown): ChatRequest {
  if (!isObject(body)) throw invalidRequest('The request body must be a JSON object.');
  checkModel(body.model);
  const messages = body.messages;
  if (messages === undefined) throw invalidRequest('Missing required parameter: messages.', 'messages');
  if (!Array.isArray(messages))
    throw invalidRequest('messages must be an array of message objects.', 'messages');
  if (messages.length === 0) throw invalidRequest('messages must contain at least one message.', 'messages');
  messages.forEach((message, index) => {
    validateMessage(message, index);
  });
  optionalType(body, 'stream', 'boolean');
  optionalNumber(body, 'max_tokens', 1);
  optionalNumber(body, 'max_completion_tokens', 1);
  optionalNumber(body, 'temperature', 0, 2);
  optionalNumber(body, 'top_p', 0, 1);
  optionalNumber(body, 'n', 1, 128);
  // One choice per request: routing and fail-over are per answer. Never ignore n silently.
  if (typeof body.n === 'number' && body.n > 1) {
    throw invalidRequest(
      'n > 1 is not supported: Switchyard returns one choice per request; send n requests instead.',
      'n',
    );
  }
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw invalidRequest('tools must be an array.', 'tools');
    body.tools.forEach((tool, index) => {
      if (
        !isObject(tool) ||
        tool.type !== 'function' ||
        !isObject(tool.function) ||
        typeof tool.function.name !== 'string'
      ) {
        throw invalidRequest(
          'each tool must be {"type": "function", "function": {"name": ...}}.',
          `tools[${index}]`,
        );
      }
    });
  }
  if (body.metadata !== undefined && body.metadata !== null && !isObject(body.metadata)) {
    throw invalidRequest('metadata must be an object of strings.', 'metadata');
  }
  return body as unknown as ChatRequest;
}

function validateMessage(message: unknown, index: number): void {
  const param = `messages[${index}]`;
  if (!isObject(message)) throw invalidRequest(`${param} must be an object.`, param);
  if (message.role === undefined) throw invalidRequest(`${param} is missing its role.`, `${param}.role`);
  if (typeof message.role !== 'string' || !roles.has(message.role)) {
    throw invalidRequest(
      `${param}.role must be one of system, developer, user, assistant, tool.`,
      `${param}.role`,
    );
  }
  const content = message.content;
  const hasToolCalls = Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
  if (content === undefined || content === null) {
    if (message.role === 'assistant' && (hasToolCalls || content === null)) return;
    throw invalidRequest(`${param} is missing its content.`, `${param}.content`);
  }
  if (typeof content === 'string') return;
  if (!Array.isArray(content))
    throw invalidRequest(`${param}.content must be a string or an array of parts.`, `${param}.content`);
  content.forEach((part, partIndex) => {
    const partParam = `${param}.content[${partIndex}]`;
    if (!isObject(part) || typeof part.type !== 'string')
      throw invalidRequest(`${partParam} must be an object with a type.`, partParam);
    if (part.type === 'text' && typeof part.text !== 'string')
      throw invalidRequest(`${partParam}.text must be a string.`, `${partParam}.text`);
    if (part.type === 'image_url' && (!isObject(part.image_url) || typeof part.image_url.url !== 'string')) {
      throw invalidRequest(`${partParam}.image_url.url must be a string.`, `${partParam}.image_url`);
    }
  });
  if (message.role === 'tool' && typeof message.tool_call_id !== 'string') {
    throw invalidRequest(`${param}.tool_call_id is required for tool messages.`, `${param}.tool_call_id`);
  }
}

export function validateEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isObject(body)) throw invalidRequest('The request body must be a JSON object.');
  checkModel(body.model);
  if (body.input === undefined) throw invalidRequest('Missing required parameter: input.', 'input');
  if (typeof body.input !== 'string' && !Array.isArray(body.input))
    throw invalidRequest('input must be a string or an array.', 'input');
  return body as unknown as EmbeddingsRequest;
}

/** Model names are short: a 2 MB `model` must never reach a log line, the request log or the dashboard. */
const maxModelLength = 256;

function checkModel(model: unknown): void {
  if (model === undefined) throw invalidRequest('Missing required parameter: model.', 'model');
  if (typeof model !== 'string' || model.length === 0)
    throw invalidRequest('model must be a non-empty string.', 'model');
  if (model.length > maxModelLength) {
    throw invalidRequest(
      `model must be at most ${maxModelLength} characters (got ${model.length}).`,
      'model',
    );
  }
}

function optionalType(body: Record<string, unknown>, field: string, type: 'boolean' | 'string'): void {
  const value = body[field];
  if (value !== undefined && value !== null && typeof value !== type)
    throw invalidRequest(`${field} must be a ${type}.`, field);
}

function optionalNumber(
  body: Record<string, unknown>,
  field: string,
  min: number,
  max = Number.POSITIVE_INFINITY,
): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidRequest(
      `${field} must be a number${max === Number.POSITIVE_INFINITY ? ` of at least ${min}` : ` between ${min} and ${max}`}.`,
      field,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
