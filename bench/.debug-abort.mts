import { normalizeConfig } from '../src/config/load.ts';
import { startServer } from '../src/start.ts';
const config = normalizeConfig({
  server: { port: 18007 },
  models: { m: { provider: 'openai', base_url: 'http://127.0.0.1:18001/v1', api_key: 'x' } },
  observability: { log_level: 'error', request_log: { enabled: false } },
});
const running = await startServer(config);
const gw = running.gateway as any;
const orig = gw.chatStream.bind(gw);
gw.chatStream = async (...args: any[]) => {
  const handle = await orig(...args);
  const inner = handle.chunks;
  handle.chunks = (async function* () {
    try { yield* inner; } catch (e: any) { console.error('STREAM ERROR', e.code, '\n cause:', e.cause?.stack ?? e.cause ?? e.stack); throw e; }
  })();
  return handle;
};
console.log('ready');
