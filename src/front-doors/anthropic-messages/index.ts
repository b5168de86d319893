/**
 * The Anthropic Messages API front door's translation layer (POST /v1/messages and
 * /v1/messages/count_tokens): validate, translate to a ChatRequest, translate the answer back.
 *
 * @example
 * const request = validateMessagesRequest(body);
 * const chat = messagesToChat(request, { betas: headers['anthropic-beta'] });
 * // non-streaming: reply(200, chatToMessage(completion))
 * // streaming: const encoder = new MessagesStreamEncoder({ model }); for each chunk write(encoder.push(chunk)); write(encoder.finish())
 * // errors: const error = toAnthropicError(thrown); reply(error.status, error.toJSON())
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
