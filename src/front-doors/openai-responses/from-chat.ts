/**
 * The gateway's ChatCompletion -> a Responses API `response` object, and the pieces the stream
 * encoder shares with it (the request echo, usage, status). Pure; ids come from `newId`.
 *
 * The raw API does not send `output_text`: the official SDKs compute it from `output`. Neither
 * does this.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../errors.ts';
import type { ChatCompletion, FinishReason, Usage } from '../../types/openai.ts';
import type {
  OutputItem,
  OutputMessage,
  ResponseObject,
  ResponseStatus,
  ResponsesRequest,
  ResponseUsage,
} from './types.ts';

export interface ResponseOptions {
  /** The response id (`resp_…`); default: a new one. */
  id?: string;
  /** Seconds since the epoch; default: the completion's `created`. */
  createdAt?: number;
  /** The model to report; default: the completion's `model`. */
  model?: string;
  /** Ids for output items: `newId('msg')`, `newId('fc')`, `newId('resp')`. */
  newId?: (prefix: string) => string;
}

export function defaultNewId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}

/**
 * Build the response for a completion.
 *
 * @example reply(200, chatToResponse(completion, request))
 */
export function chatToResponse(
  completion: ChatCompletion,
  request: ResponsesRequest,
  options: ResponseOptions = {},
): ResponseObject {
  const newId = options.newId ?? defaultNewId;
  const choice = completion.choices[0];
  const message = choice?.message;
  const { status, incomplete } = statusFor(choice?.finish_reason ?? null);
  const output: OutputItem[] = [];
  const calls = message?.tool_calls ?? [];
  const text = message?.content ?? '';
  if (text || message?.refusal || calls.length === 0) {
    const item: OutputMessage = {
      id: newId('msg'),
      type: 'message',
      status: status === 'incomplete' ? 'incomplete' : 'completed',
      role: 'assistant',
      content: [],
    };
    if (text || !message?.refusal)
      item.content.push({ type: 'output_text', text, annotations: [], logprobs: [] });
    if (message?.refusal) item.content.push({ type: 'refusal', refusal: message.refusal });
    output.push(item);
  }
  for (const call of calls) {
    output.push({
      id: newId('fc'),
      type: 'function_call',
      status: 'completed',
      arguments: call.function.arguments,
      call_id: call.id,
      name: call.function.name,
    });
  }
  const response = responseSkeleton(request, {
    id: options.id ?? newId('resp'),
    createdAt: options.createdAt ?? completion.created,
    model: options.model ?? completion.model,
    status,
  });
  response.output = output;
  response.incomplete_details = incomplete;
  response.usage = responseUsage(completion.usage);
  return response;
}

/**
 * The response object around the output: every request parameter echoed as OpenAI echoes it,
 * `output` empty, `usage` null.
 */
export function responseSkeleton(
  request: ResponsesRequest,
  at: { id: string; createdAt: number; model: string; status: ResponseStatus },
): ResponseObject {
  const response: ResponseObject = {
    id: at.id,
    object: 'response',
    created_at: at.createdAt,
    status: at.status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    metadata: request.metadata ?? {},
    model: at.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: request.store ?? true,
    temperature: request.temperature ?? null,
    text: { format: request.text?.format ?? { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: (request.tools ?? []).map((tool) => ({
      type: 'function',
      name: tool.name,
      description: tool.description ?? null,
      parameters: tool.parameters ?? null,
      strict: tool.strict ?? null,
    })),
    top_p: request.top_p ?? null,
    truncation: 'disabled',
    usage: null,
    user: request.user ?? null,
  };
  if (request.text?.verbosity) response.text.verbosity = request.text.verbosity;
  if (request.service_tier) response.service_tier = request.service_tier;
  return response;
}

/** length -> incomplete (max_output_tokens); content_filter -> incomplete (content_filter). */
export function statusFor(finish: FinishReason): {
  status: ResponseStatus;
  incomplete: ResponseObject['incomplete_details'];
} {
  if (finish === 'length') return { status: 'incomplete', incomplete: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete: { reason: 'content_filter' } };
  return { status: 'completed', incomplete: null };
}

/** Normalised usage (src/types/openai.ts) has OpenAI's semantics already: input includes cached. */
export function responseUsage(usage: Usage | null | undefined): ResponseUsage | null {
  if (!usage) return null;
  const input = count(usage.prompt_tokens);
  const output = count(usage.completion_tokens);
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: count(usage.prompt_tokens_details?.cached_tokens),
      cache_write_tokens: count(usage.prompt_tokens_details?.cache_write_tokens),
    },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: count(usage.completion_tokens_details?.reasoning_tokens) },
    total_tokens: count(usage.total_tokens) || input + output,
  };
}

/** A failure as the `error` of a failed response: OpenAI's codes for rate limits and bad prompts. */
export function responseError(error: unknown): { code: string; message: string; status: number } {
  if (error instanceof GatewayError) {
    const code =
      error.status === 429 ? 'rate_limit_exceeded' : error.status === 400 ? 'invalid_prompt' : 'server_error';
    return { code, message: error.message, status: error.status };
  }
  return { code: 'server_error', message: 'The gateway failed to finish the response.', status: 500 };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
