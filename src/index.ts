/**
 * Switchyard as a library.
 *
 * @example
 * import { createGateway } from 'switchyard-gateway';
 * const gateway = createGateway({ config: { models: { 'gpt-4o-mini': { provider: 'openai', api_key: process.env.OPENAI_API_KEY } } } });
 * const { completion, meta } = await gateway.chat({ model: 'auto', messages: [{ role: 'user', content: 'Hi?' }] });
 */

export { defaultConfig } from './config/default.ts';
export {
  ConfigError,
  type GatewayConfig,
  loadConfigFile,
  normalizeConfig,
  parseConfigText,
} from './config/load.ts';
export type { RawConfig } from './config/schema.ts';
export { type ErrorCode, type FailureKind, GatewayError, UpstreamError } from './errors.ts';
export {
  type BatchResult,
  type ChatResult,
  createGateway,
  type Gateway,
  type GatewayOptions,
  type ResponseMeta,
  type StreamHandle,
} from './gateway/index.ts';
export { type Clock, systemClock, VirtualClock } from './resilience/clock.ts';
export { decideRoute } from './routing/decide.ts';
export { createGatewayServer } from './server/http-server.ts';
export { startServer } from './start.ts';
export type * from './types/openai.ts';
// A value, not a type: code that changes a chat chunk clears `chunk[verbatim]` (see its doc).
export { verbatim } from './types/openai.ts';
