/**
 * Shape checks for a Messages API request body. Each failure is a 400 `invalid_request_error`
 * whose message starts with the dotted path of the field, as Anthropic writes them
 * (`messages.0.content.1.source.media_type: ...`). Checks run in body order, so the first problem
 * a client would fix is the one reported. Nothing is copied: the body comes back typed.
 */
import { firstTooDeep, isObject, maxBodyDepth } from '../shared.ts';
import { invalidMessagesRequest } from './errors.ts';
import type { MessagesRequest } from './types.ts';

const imageMediaTypes = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
/** Anthropic's tool-name rule. */
const toolNamePattern = /^[a-zA-Z0-9_-]{1,128}$/;

/**
 * Check a /v1/messages body (or, with `countTokens`, a /v1/messages/count_tokens body, which has
 * no `max_tokens`). Throws an AnthropicApiError (400) naming the first bad field.
 *
 * @example const request = validateMessagesRequest(JSON.parse(body));
 */
export function validateMessagesRequest(
  body: unknown,
  options: { countTokens?: boolean } = {},
): MessagesRequest {
  if (!isObject(body)) throw invalidMessagesRequest('The request body must be a JSON object.');
  const deep = firstTooDeep(body, maxBodyDepth);
  if (deep !== undefined) {
    throw invalidMessagesRequest(`${deep}: nested more than ${maxBodyDepth} levels deep.`);
  }
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw fieldError('model', body.model === undefined ? 'Field required' : 'must be a non-empty string');
  }
  if (!options.countTokens || body.max_tokens !== undefined) {
    if (body.max_tokens === undefined) throw fieldError('max_tokens', 'Field required');
    integer(body.max_tokens, 'max_tokens', 0);
  }
  if (body.messages === undefined) throw fieldError('messages', 'Field required');
  if (!Array.isArray(body.messages)) throw fieldError('messages', 'Input should be a valid list');
  if (body.messages.length === 0) throw fieldError('messages', 'at least one message is required');
  body.messages.forEach((message, index) => {
    checkMessage(message, `messages.${index}`);
  });
  if (body.system !== undefined && typeof body.system !== 'string') {
    if (!Array.isArray(body.system)) throw fieldError('system', 'must be a string or a list of text blocks');
    body.system.forEach((block, index) => {
      const path = `system.${index}`;
      if (!isObject(block) || block.type !== 'text')
        throw fieldError(path, 'system blocks must be text blocks');
      checkText(block, path);
    });
  }
  if (body.stop_sequences !== undefined) {
    if (!Array.isArray(body.stop_sequences))
      throw fieldError('stop_sequences', 'Input should be a valid list');
    body.stop_sequences.forEach((stop, index) => {
      if (typeof stop !== 'string')
        throw fieldError(`stop_sequences.${index}`, 'Input should be a valid string');
    });
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') {
    throw fieldError('stream', 'Input should be a valid boolean');
  }
  numberIn(body.temperature, 'temperature', 0, 1);
  numberIn(body.top_p, 'top_p', 0, 1);
  if (body.top_k !== undefined) integer(body.top_k, 'top_k', 0);
  if (body.metadata !== undefined) checkMetadata(body.metadata);
  if (body.tools !== undefined) checkTools(body.tools);
  if (body.tool_choice !== undefined) checkToolChoice(body.tool_choice);
  if (body.thinking !== undefined) {
    if (!isObject(body.thinking) || typeof body.thinking.type !== 'string') {
      throw fieldError('thinking', 'must be an object with a type');
    }
    if (body.thinking.budget_tokens !== undefined)
      integer(body.thinking.budget_tokens, 'thinking.budget_tokens', 1);
  }
  if (body.cache_control !== undefined && body.cache_control !== null)
    checkCacheControl(body.cache_control, 'cache_control');
  return body as MessagesRequest;
}

function checkMessage(message: unknown, path: string): void {
  if (!isObject(message)) throw fieldError(path, 'Input should be a valid dictionary');
  const role = message.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system') {
    throw fieldError(`${path}.role`, "Input should be 'user' or 'assistant'");
  }
  const content = message.content;
  if (typeof content === 'string') return;
  if (!Array.isArray(content))
    throw fieldError(`${path}.content`, 'must be a string or a list of content blocks');
  content.forEach((block, index) => {
    checkBlock(block, `${path}.content.${index}`, role);
  });
}

function checkBlock(block: unknown, path: string, role: 'user' | 'assistant' | 'system'): void {
  if (!isObject(block)) throw fieldError(path, 'Input should be a valid dictionary');
  const type = block.type;
  if (typeof type !== 'string') throw fieldError(`${path}.type`, 'Field required');
  if (role === 'system' && type !== 'text')
    throw fieldError(path, 'system messages may hold only text blocks');
  switch (type) {
    case 'text':
      checkText(block, path);
      return;
    case 'image':
      checkImage(block, path);
      return;
    case 'document':
      checkDocument(block, path);
      return;
    case 'tool_use':
      if (role !== 'assistant')
        throw fieldError(path, 'tool_use blocks may only appear in assistant messages');
      requireString(block.id, `${path}.id`);
      requireString(block.name, `${path}.name`);
      if (!isObject(block.input)) throw fieldError(`${path}.input`, 'Input should be a valid dictionary');
      optionalCacheControl(block, path);
      return;
    case 'tool_result':
      if (role !== 'user') throw fieldError(path, 'tool_result blocks may only appear in user messages');
      checkToolResult(block, path);
      return;
    case 'thinking':
      if (role !== 'assistant')
        throw fieldError(path, 'thinking blocks may only appear in assistant messages');
      requireString(block.thinking, `${path}.thinking`, true);
      requireString(block.signature, `${path}.signature`, true);
      return;
    case 'redacted_thinking':
      if (role !== 'assistant')
        throw fieldError(path, 'thinking blocks may only appear in assistant messages');
      requireString(block.data, `${path}.data`);
      return;
    default:
      throw fieldError(`${path}.type`, `content block type '${type}' is not supported by this gateway`);
  }
}

function checkText(block: Record<string, unknown>, path: string): void {
  requireString(block.text, `${path}.text`, true);
  optionalCacheControl(block, path);
}

function checkImage(block: Record<string, unknown>, path: string): void {
  const source = block.source;
  if (!isObject(source)) throw fieldError(`${path}.source`, 'Field required');
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string' || !imageMediaTypes.has(source.media_type)) {
      throw fieldError(
        `${path}.source.media_type`,
        "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
      );
    }
    requireString(source.data, `${path}.source.data`);
  } else if (source.type === 'url') {
    requireUrl(source.url, `${path}.source.url`);
  } else {
    throw fieldError(
      `${path}.source.type`,
      `image source type '${String(source.type)}' is not supported by this gateway`,
    );
  }
  optionalCacheControl(block, path);
}

function checkDocument(block: Record<string, unknown>, path: string): void {
  const source = block.source;
  if (!isObject(source)) throw fieldError(`${path}.source`, 'Field required');
  if (source.type === 'base64') {
    if (source.media_type !== 'application/pdf') {
      throw fieldError(`${path}.source.media_type`, "Input should be 'application/pdf'");
    }
    requireString(source.data, `${path}.source.data`);
  } else if (source.type === 'text') {
    if (source.media_type !== 'text/plain')
      throw fieldError(`${path}.source.media_type`, "Input should be 'text/plain'");
    requireString(source.data, `${path}.source.data`, true);
  } else if (source.type === 'url') {
    requireUrl(source.url, `${path}.source.url`);
  } else {
    throw fieldError(
      `${path}.source.type`,
      `document source type '${String(source.type)}' is not supported by this gateway`,
    );
  }
  for (const key of ['title', 'context'] as const) {
    if (block[key] !== undefined && block[key] !== null && typeof block[key] !== 'string') {
      throw fieldError(`${path}.${key}`, 'Input should be a valid string');
    }
  }
  optionalCacheControl(block, path);
}

function checkToolResult(block: Record<string, unknown>, path: string): void {
  requireString(block.tool_use_id, `${path}.tool_use_id`);
  if (block.is_error !== undefined && typeof block.is_error !== 'boolean') {
    throw fieldError(`${path}.is_error`, 'Input should be a valid boolean');
  }
  const content = block.content;
  if (content !== undefined && typeof content !== 'string') {
    if (!Array.isArray(content))
      throw fieldError(`${path}.content`, 'must be a string or a list of content blocks');
    content.forEach((inner, index) => {
      const innerPath = `${path}.content.${index}`;
      if (!isObject(inner)) throw fieldError(innerPath, 'Input should be a valid dictionary');
      if (inner.type === 'text') checkText(inner, innerPath);
      else if (inner.type === 'image') checkImage(inner, innerPath);
      else if (inner.type === 'document') checkDocument(inner, innerPath);
      else {
        throw fieldError(
          `${innerPath}.type`,
          `tool_result content type '${String(inner.type)}' is not supported by this gateway`,
        );
      }
    });
  }
  optionalCacheControl(block, path);
}

function checkTools(tools: unknown): void {
  if (!Array.isArray(tools)) throw fieldError('tools', 'Input should be a valid list');
  const names = new Set<string>();
  tools.forEach((tool, index) => {
    const path = `tools.${index}`;
    if (!isObject(tool)) throw fieldError(path, 'Input should be a valid dictionary');
    if (typeof tool.name !== 'string' || !toolNamePattern.test(tool.name)) {
      throw fieldError(`${path}.name`, 'must match ^[a-zA-Z0-9_-]{1,128}$');
    }
    if (names.has(tool.name)) throw fieldError(`${path}.name`, `tool names must be unique ('${tool.name}')`);
    names.add(tool.name);
    if (tool.type === undefined || tool.type === null || tool.type === 'custom') {
      if (!isObject(tool.input_schema)) throw fieldError(`${path}.input_schema`, 'Field required');
      if (tool.description !== undefined && typeof tool.description !== 'string') {
        throw fieldError(`${path}.description`, 'Input should be a valid string');
      }
    } else if (typeof tool.type !== 'string') {
      throw fieldError(`${path}.type`, 'Input should be a valid string');
    }
    optionalCacheControl(tool, path);
  });
}

function checkToolChoice(choice: unknown): void {
  if (!isObject(choice)) throw fieldError('tool_choice', 'Input should be a valid dictionary');
  const type = choice.type;
  if (type !== 'auto' && type !== 'any' && type !== 'tool' && type !== 'none') {
    throw fieldError('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'");
  }
  if (type === 'tool') requireString(choice.name, 'tool_choice.name');
  if (
    choice.disable_parallel_tool_use !== undefined &&
    typeof choice.disable_parallel_tool_use !== 'boolean'
  ) {
    throw fieldError('tool_choice.disable_parallel_tool_use', 'Input should be a valid boolean');
  }
}

function checkMetadata(metadata: unknown): void {
  if (!isObject(metadata)) throw fieldError('metadata', 'Input should be a valid dictionary');
  for (const key of Object.keys(metadata)) {
    if (key !== 'user_id') throw fieldError(`metadata.${key}`, 'Extra inputs are not permitted');
  }
  const userId = metadata.user_id;
  if (userId !== undefined && userId !== null && typeof userId !== 'string') {
    throw fieldError('metadata.user_id', 'Input should be a valid string');
  }
}

function optionalCacheControl(block: Record<string, unknown>, path: string): void {
  if (block.cache_control !== undefined && block.cache_control !== null) {
    checkCacheControl(block.cache_control, `${path}.cache_control`);
  }
}

function checkCacheControl(value: unknown, path: string): void {
  if (!isObject(value) || value.type !== 'ephemeral')
    throw fieldError(`${path}.type`, "Input should be 'ephemeral'");
  if (value.ttl !== undefined && value.ttl !== '5m' && value.ttl !== '1h') {
    throw fieldError(`${path}.ttl`, "Input should be '5m' or '1h'");
  }
}

function requireString(value: unknown, path: string, allowEmpty = false): void {
  if (value === undefined) throw fieldError(path, 'Field required');
  if (typeof value !== 'string') throw fieldError(path, 'Input should be a valid string');
  if (!allowEmpty && value.length === 0) throw fieldError(path, 'String should have at least 1 character');
}

function requireUrl(value: unknown, path: string): void {
  requireString(value, path);
  if (!/^https?:\/\//i.test(value as string)) throw fieldError(path, 'must be an http(s) URL');
}

function numberIn(value: unknown, path: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw fieldError(path, 'Input should be a valid number');
  if (value < min || value > max) throw fieldError(path, `Input should be between ${min} and ${max}`);
}

function integer(value: unknown, path: string, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw fieldError(path, 'Input should be a valid integer');
  if (value < min) throw fieldError(path, `Input should be greater than or equal to ${min}`);
}

function fieldError(path: string, problem: string) {
  return invalidMessagesRequest(`${path}: ${problem}`);
}
