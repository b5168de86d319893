/**
 * Switchyard as a library.
 *
 * @example
 * import { createGateway } from 'switchyard';
 * const gateway = createGateway({ config: { models: { 'gpt-4o-mini': { provider: 'openai', api_key: process.env.OPENAI_API_KEY } } } });
 * const { completion, meta } = await gateway.chat({ model: 'auto', messages: [{ role: 'user', content: 'Hi?' }] });
 */
export { createGateway, type Gateway, type GatewayOptions, type ChatResult, type StreamHandle, type BatchResult, type ResponseMeta } from './gateway.ts';
export { startServer } from './start.ts';
export { createGatewayServer } from './server/http-server.ts';
export { defaultConfig } from './config/default.ts';
export { ConfigError, loadConfigFile, normalizeConfig, parseConfigText, type GatewayConfig } from './config/load.ts';
export type { RawConfig } from './config/schema.ts';
export { GatewayError, UpstreamError, type ErrorCode, type FailureKind } from './errors.ts';
export { VirtualClock, systemClock, type Clock } from './resilience/clock.ts';
export { decideRoute } from './routing/decide.ts';
export type * from './types/openai.ts';
