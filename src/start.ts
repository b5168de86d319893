/** Wire a gateway, its HTTP server and its observability sinks, and listen. */
import type { GatewayConfig } from './config/load.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { createGatewayServer, type RunningServer } from './server/http-server.ts';

export interface StartedGateway extends RunningServer {
  gateway: Gateway;
}

export async function startServer(config: GatewayConfig, options: { seed?: number } = {}): Promise<StartedGateway> {
  const gateway = createGateway({ config, seed: options.seed });
  const { listen } = createGatewayServer(gateway);
  const running = await listen(config.server.port, config.server.host);
  return { ...running, gateway };
}
