/**
 * Shape checks for a Responses API request body. Each failure is a 400 in OpenAI's error shape
 * with `param` naming the field (`input[2].content[0].image_url`), built by the gateway's one
 * error registry (src/errors.ts). What this gateway cannot do is refused by name, never dropped:
 * built-in tools (web_search, file_search, computer_use_preview, code_interpreter, mcp, ...),
 * item references, file ids, background mode, and any field OpenAI's API does not define.
 */
import { invalidRequest } from '../../errors.ts';
import { firstTooDeep, isObject, maxBodyDepth } from '../shared.ts';
import type { ResponsesRequest } from './types.ts';

/** Fields passed on or echoed. */
const knownFields = new Set([
  'model',
  'input',
  'instructions',
  'tools',
  'tool_choice',
  'text',
  'max_output_tokens',
  'temperature',
  'top_p',
  'metadata',
  'store',
  'stream',
  'stream_options',
  'previous_response_id',
  'parallel_tool_calls',
  'user',
  'safety_identifier',
  'reasoning',
  'include',
  'truncation',
  'service_tier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'background',
]);

/** Responses API fields this gateway cannot honour; a request using one is refused by name. */
const unsupportedFields = new Set([
  'conversation',
  'prompt',
  'context_management',
  'moderation',
  'top_logprobs',
  'max_tool_calls',
  'prompt_cache_options',
]);

/** `include` values that ask for nothing this gateway would produce anyway. */
const harmlessIncludes = new Set(['reasoning.encrypted_content']);
const functionNamePattern = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Check a /v1/responses body. Throws a GatewayError (400, `param` set) for the first problem.
 *
 * @example const request = validateResponsesRequest(JSON.parse(body));
 */
export function validateResponsesRequest(body: unknown): ResponsesRequest {
  if (!isObject(body)) throw invalidRequest('The request body must be a JSON object.');
  const deep = firstTooDeep(body, maxBodyDepth);
  if (deep !== undefined)
    throw invalidRequest(`The request is nested more than ${maxBodyDepth} levels deep.`, deep);
  for (const key of Object.keys(body)) {
    if (body[key] === null || body[key] === undefined) continue;
    if (unsupportedFields.has(key)) throw invalidRequest(`'${key}' is not supported by this gateway.`, key);
    if (!knownFields.has(key)) throw invalidRequest(`Unrecognized request argument supplied: ${key}`, key);
  }
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw invalidRequest(
      body.model === undefined ? 'Missing required parameter: model.' : 'model must be a non-empty string.',
      'model',
    );
  }
  checkInput(body.input);
  optionalString(body, 'instructions');
  if (present(body.tools)) checkTools(body.tools);
  if (present(body.tool_choice)) checkToolChoice(body.tool_choice);
  if (present(body.text)) checkText(body.text);
  if (present(body.max_output_tokens)) {
    if (!Number.isInteger(body.max_output_tokens) || (body.max_output_tokens as number) < 1) {
      throw invalidRequest('max_output_tokens must be a positive integer.', 'max_output_tokens');
    }
  }
  optionalNumber(body, 'temperature', 0, 2);
  optionalNumber(body, 'top_p', 0, 1);
  if (present(body.metadata)) checkMetadata(body.metadata);
  for (const key of ['store', 'stream', 'parallel_tool_calls'] as const) optionalBoolean(body, key);
  for (const key of [
    'previous_response_id',
    'user',
    'safety_identifier',
    'service_tier',
    'prompt_cache_key',
    'prompt_cache_retention',
  ] as const) {
    optionalString(body, key);
  }
  if (body.background === true)
    throw invalidRequest("'background' mode is not supported by this gateway.", 'background');
  if (present(body.truncation) && body.truncation !== 'disabled') {
    throw invalidRequest("Only truncation 'disabled' is supported by this gateway.", 'truncation');
  }
  if (present(body.reasoning)) {
    if (!isObject(body.reasoning)) throw invalidRequest('reasoning must be an object.', 'reasoning');
    optionalString(body.reasoning, 'effort', 'reasoning.effort');
    optionalString(body.reasoning, 'summary', 'reasoning.summary');
  }
  if (present(body.include)) checkInclude(body.include);
  if (present(body.stream_options) && !isObject(body.stream_options)) {
    throw invalidRequest('stream_options must be an object.', 'stream_options');
  }
  return body as ResponsesRequest;
}

function checkInput(input: unknown): void {
  if (input === undefined || input === null)
    throw invalidRequest('Missing required parameter: input.', 'input');
  if (typeof input === 'string') return;
  if (!Array.isArray(input))
    throw invalidRequest('input must be a string or an array of input items.', 'input');
  input.forEach((item, index) => {
    checkItem(item, `input[${index}]`);
  });
}

function checkItem(item: unknown, param: string): void {
  if (!isObject(item)) throw invalidRequest(`${param} must be an object.`, param);
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  switch (type) {
    case 'message':
      checkMessage(item, param);
      return;
    case 'function_call':
      requireString(item.call_id, `${param}.call_id`);
      requireString(item.name, `${param}.name`);
      requireString(item.arguments, `${param}.arguments`, true);
      return;
    case 'function_call_output':
      requireString(item.call_id, `${param}.call_id`);
      if (typeof item.output === 'string') return;
      if (!Array.isArray(item.output)) {
        throw invalidRequest(
          `${param}.output must be a string or an array of content parts.`,
          `${param}.output`,
        );
      }
      item.output.forEach((part, index) => {
        checkPart(part, `${param}.output[${index}]`, 'user');
      });
      return;
    case 'reasoning':
      return;
    case 'item_reference':
      throw invalidRequest(
        'Item references are not supported by this gateway; send the items themselves, or previous_response_id.',
        param,
      );
    case undefined:
      throw invalidRequest(`${param} needs a type (or a role for a message).`, `${param}.type`);
    default:
      throw invalidRequest(
        `Input item type '${String(type)}' is not supported by this gateway.`,
        `${param}.type`,
      );
  }
}

function checkMessage(item: Record<string, unknown>, param: string): void {
  const role = item.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
    throw invalidRequest(`${param}.role must be one of user, assistant, system, developer.`, `${param}.role`);
  }
  if (typeof item.content === 'string') return;
  if (!Array.isArray(item.content)) {
    throw invalidRequest(
      `${param}.content must be a string or an array of content parts.`,
      `${param}.content`,
    );
  }
  item.content.forEach((part, index) => {
    checkPart(part, `${param}.content[${index}]`, role);
  });
}

function checkPart(part: unknown, param: string, role: string): void {
  if (!isObject(part)) throw invalidRequest(`${param} must be an object.`, param);
  switch (part.type) {
    case 'input_text':
      requireString(part.text, `${param}.text`, true);
      return;
    case 'output_text':
      if (role !== 'assistant')
        throw invalidRequest(`${param}: output_text parts belong to assistant messages.`, param);
      requireString(part.text, `${param}.text`, true);
      return;
    case 'refusal':
      if (role !== 'assistant')
        throw invalidRequest(`${param}: refusal parts belong to assistant messages.`, param);
      requireString(part.refusal, `${param}.refusal`, true);
      return;
    case 'input_image':
      if (present(part.file_id)) throw fileIdError(`${param}.file_id`);
      if (typeof part.image_url !== 'string' || !/^(https?:|data:)/i.test(part.image_url)) {
        throw invalidRequest(
          `${param}.image_url must be an http(s) URL or a data URL.`,
          `${param}.image_url`,
        );
      }
      if (present(part.detail) && !['low', 'high', 'auto', 'original'].includes(part.detail as string)) {
        throw invalidRequest(`${param}.detail must be one of low, high, auto, original.`, `${param}.detail`);
      }
      return;
    case 'input_file':
      if (present(part.file_id)) throw fileIdError(`${param}.file_id`);
      if (present(part.file_url)) {
        throw invalidRequest(
          'file_url is not supported by this gateway; send file_data.',
          `${param}.file_url`,
        );
      }
      requireString(part.file_data, `${param}.file_data`);
      return;
    default:
      throw invalidRequest(
        `Content part type '${String(part.type)}' is not supported by this gateway.`,
        `${param}.type`,
      );
  }
}

function fileIdError(param: string) {
  return invalidRequest('file_id references are not supported by this gateway; send the file itself.', param);
}

function checkTools(tools: unknown): void {
  if (!Array.isArray(tools)) throw invalidRequest('tools must be an array.', 'tools');
  const builtIn: string[] = [];
  tools.forEach((tool, index) => {
    const param = `tools[${index}]`;
    if (!isObject(tool) || typeof tool.type !== 'string')
      throw invalidRequest(`${param} must be a tool object with a type.`, param);
    if (tool.type !== 'function') {
      builtIn.push(tool.type);
      return;
    }
    if (typeof tool.name !== 'string' || !functionNamePattern.test(tool.name)) {
      throw invalidRequest(`${param}.name must match ^[a-zA-Z0-9_-]{1,64}$.`, `${param}.name`);
    }
    if (present(tool.parameters) && !isObject(tool.parameters)) {
      throw invalidRequest(`${param}.parameters must be a JSON Schema object.`, `${param}.parameters`);
    }
    optionalString(tool, 'description', `${param}.description`);
    optionalBoolean(tool, 'strict', `${param}.strict`);
  });
  if (builtIn.length > 0) {
    throw invalidRequest(
      `Built-in tools are not supported by this gateway: ${[...new Set(builtIn)].join(', ')}. Only function tools are.`,
      'tools',
    );
  }
}

function checkToolChoice(choice: unknown): void {
  if (choice === 'none' || choice === 'auto' || choice === 'required') return;
  if (!isObject(choice))
    throw invalidRequest("tool_choice must be 'none', 'auto', 'required' or an object.", 'tool_choice');
  if (choice.type === 'function') {
    requireString(choice.name, 'tool_choice.name');
    return;
  }
  if (choice.type === 'allowed_tools') {
    if (choice.mode !== 'auto' && choice.mode !== 'required') {
      throw invalidRequest("tool_choice.mode must be 'auto' or 'required'.", 'tool_choice.mode');
    }
    if (!Array.isArray(choice.tools))
      throw invalidRequest('tool_choice.tools must be an array.', 'tool_choice.tools');
    choice.tools.forEach((tool, index) => {
      if (!isObject(tool) || tool.type !== 'function' || typeof tool.name !== 'string') {
        throw invalidRequest(
          'Only function tools can be allowed by this gateway.',
          `tool_choice.tools[${index}]`,
        );
      }
    });
    return;
  }
  throw invalidRequest(
    `tool_choice type '${String(choice.type)}' is not supported by this gateway.`,
    'tool_choice.type',
  );
}

function checkText(text: unknown): void {
  if (!isObject(text)) throw invalidRequest('text must be an object.', 'text');
  if (present(text.format)) {
    const format = text.format;
    if (!isObject(format)) throw invalidRequest('text.format must be an object.', 'text.format');
    if (format.type === 'json_schema') {
      requireString(format.name, 'text.format.name');
      if (!isObject(format.schema))
        throw invalidRequest('text.format.schema must be an object.', 'text.format.schema');
      optionalBoolean(format, 'strict', 'text.format.strict');
    } else if (format.type !== 'text' && format.type !== 'json_object') {
      throw invalidRequest(
        "text.format.type must be 'text', 'json_object' or 'json_schema'.",
        'text.format.type',
      );
    }
  }
  if (present(text.verbosity) && !['low', 'medium', 'high'].includes(text.verbosity as string)) {
    throw invalidRequest("text.verbosity must be 'low', 'medium' or 'high'.", 'text.verbosity');
  }
}

function checkMetadata(metadata: unknown): void {
  if (!isObject(metadata)) throw invalidRequest('metadata must be an object of strings.', 'metadata');
  const entries = Object.entries(metadata);
  if (entries.length > 16) throw invalidRequest('metadata may have at most 16 keys.', 'metadata');
  for (const [key, value] of entries) {
    if (key.length > 64) throw invalidRequest('metadata keys may be at most 64 characters.', 'metadata');
    if (typeof value !== 'string' || value.length > 512) {
      throw invalidRequest('metadata values must be strings of at most 512 characters.', `metadata.${key}`);
    }
  }
}

function checkInclude(include: unknown): void {
  if (!Array.isArray(include)) throw invalidRequest('include must be an array.', 'include');
  include.forEach((value, index) => {
    if (typeof value !== 'string' || !harmlessIncludes.has(value)) {
      throw invalidRequest(
        `include value '${String(value)}' is not supported by this gateway.`,
        `include[${index}]`,
      );
    }
  });
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function requireString(value: unknown, param: string, allowEmpty = false): void {
  if (value === undefined || value === null)
    throw invalidRequest(`Missing required parameter: ${param}.`, param);
  if (typeof value !== 'string') throw invalidRequest(`${param} must be a string.`, param);
  if (!allowEmpty && value.length === 0) throw invalidRequest(`${param} must not be empty.`, param);
}

function optionalString(object: Record<string, unknown>, key: string, param = key): void {
  if (present(object[key]) && typeof object[key] !== 'string')
    throw invalidRequest(`${param} must be a string.`, param);
}

function optionalBoolean(object: Record<string, unknown>, key: string, param = key): void {
  if (present(object[key]) && typeof object[key] !== 'boolean')
    throw invalidRequest(`${param} must be a boolean.`, param);
}

function optionalNumber(object: Record<string, unknown>, key: string, min: number, max: number): void {
  const value = object[key];
  if (!present(value)) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidRequest(`${key} must be a number between ${min} and ${max}.`, key);
  }
}
