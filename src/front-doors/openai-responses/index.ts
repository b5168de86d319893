/**
 * The OpenAI Responses API front door's translation layer (POST /v1/responses): validate,
 * translate to a ChatRequest, translate the answer back, and continue stored responses.
 *
 * @example
 * const request = validateResponsesRequest(body);
 * const previous = request.previous_response_id ? store.get(request.previous_response_id) : undefined;
 * const chat = responsesToChat(request, { previous });
 * // non-streaming: const response = chatToResponse(completion, request); reply(200, response)
 * // streaming: const encoder = new ResponsesStreamEncoder(request); write(encoder.push(chunk)) ...; write(encoder.finish())
 * // with store: keep { id: response.id, input: conversationInput(request, previous), output: response.output }
 */
export {
  chatToResponse,
  defaultNewId,
  type ResponseOptions,
  responseError,
  responseSkeleton,
  responseUsage,
  statusFor,
} from './from-chat.ts';
export { ResponsesStreamEncoder, type ResponsesStreamOptions } from './stream.ts';
export {
  conversationInput,
  normalizeInput,
  previousResponseNotFound,
  type ResponsesToChatOptions,
  responsesToChat,
} from './to-chat.ts';
export type * from './types.ts';
export { validateResponsesRequest } from './validate.ts';
