/**
 * Child process for otel.test.ts: starts a real gateway from the config given as argv[2] (JSON,
 * normalised with an empty environment), serves one chat request, closes, and prints which
 * `@opentelemetry/*` modules were loaded (seen by a module resolve hook) as one JSON line.
 *   node --import tsx test/observability/otel-load-probe.ts '{"models": ...}'
 */
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const hook = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/@opentelemetry/')) port.postMessage(result.url);
  return result;
}`;
const { port1, port2 } = new MessageChannel();
const loaded = new Set<string>();
port1.on('message', (url: string) => loaded.add(url.replace(/^.*\/node_modules\//, '')));
register(`data:text/javascript,${encodeURIComponent(hook)}`, {
  data: { port: port2 },
  transferList: [port2],
});

const { normalizeConfig } = await import('../../src/config/load.ts');
const { startServer } = await import('../../src/start.ts');
const config = normalizeConfig(JSON.parse(process.argv[2] ?? '{}'), {});
const server = await startServer(config, { seed: 1 });
const response = await fetch(`${server.url}/v1/chat/completions`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'Say hi.' }] }),
});
await response.text();
await server.close();
// The hook thread's messages arrive asynchronously.
await new Promise((resolve) => setTimeout(resolve, 200));
port1.close();
console.log(JSON.stringify({ status: response.status, loaded: [...loaded].sort() }));
