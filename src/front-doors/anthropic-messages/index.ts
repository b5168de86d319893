/**
 * The Anthropic Messages API front door's translation layer (POST /v1/messages and
 * /v1/messages/count_tokens): validate, translate to a ChatRequest, translate the answer back.
 *
 * Wiring notes:
 * - The ChatRequest carries Anthropic-only data in extension fields (src/types/openai.ts). The
 *   Anthropic adapter restores them (and should send `anthropicBetaHeader(request)` as the
 *   `anthropic-beta` header); send `withoutExtensions(request)` to every other backend.
 * - Anthropic-defined tools (bash, text_editor, web_search...) end up in
 *   `request.anthropic.builtin_tools`: only an Anthropic backend can run them.
 * - Errors: `toAnthropicError(thrown)` gives status, headers and body. Stream failures before the
 *   first frame (`encoder.hasStarted` false) are HTTP errors; after it, `encoder.fail(thrown)`.
 *
 * @example
 * const request = validateMessagesRequest(body);
 * const chat = messagesToChat(request, { betas: headers['anthropic-beta'] });
 * // non-streaming: reply(200, chatToMessage(completion))
 * // streaming: const encoder = new MessagesStreamEncoder({ inputTokens: estimate });
 * //   for each chunk write(encoder.push(chunk)); then write(encoder.finish())
 * // errors: const error = toAnthropicError(thrown); reply(error.status, error.toJSON(), error.headers)
 */
export { countMessagesTokens, countRequestTokens } from './count-tokens.ts';
export {
  AnthropicApiError,
  type AnthropicErrorBody,
  type AnthropicErrorType,
  anthropicErrorTypeForStatus,
  invalidMessagesRequest,
  toAnthropicError,
} from './errors.ts';
export { chatToMessage, messagesUsage, stopReasonFor } from './from-chat.ts';
export { MessagesStreamEncoder, type MessagesStreamOptions } from './stream.ts';
export { type MessagesToChatOptions, messagesToChat } from './to-chat.ts';
export type * from './types.ts';
export { validateMessagesRequest } from './validate.ts';
