/**
 * The bare Node.js passthrough proxy: node:http in, an undici Pool out, request and response
 * bodies streamed through (SSE too), no parsing, no routing. The practical ceiling for a Node
 * gateway.
 *
 *   UPSTREAM_URL=http://127.0.0.1:PORT node bench/bare-proxy.mjs [port]
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const upstream = new Pool(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8000', {
  connections: 256, // as Switchyard's Agent
  pipelining: 1,
  keepAliveTimeout: 30_000,
});
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, async (request, response) => {
  try {
    const headers = {};
    for (const [name, value] of Object.entries(request.headers))
      if (!hopByHop.has(name)) headers[name] = value;
    // undici's stream(): the upstream body is written straight into `response` (no Readable in
    // between; measured faster here than request() + pipeline()).
    await upstream.stream(
      { path: request.url, method: request.method, headers, body: request },
      ({ statusCode, headers: upstreamHeaders }) => {
        const out = {};
        for (const [name, value] of Object.entries(upstreamHeaders))
          if (!hopByHop.has(name)) out[name] = value;
        response.writeHead(statusCode, out);
        return response;
      },
    );
  } catch {
    if (!response.headersSent) response.writeHead(502).end();
    else response.destroy();
  }
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (process.send) {
    process.send({ ready: true, url });
    process.on('disconnect', () => process.exit(0));
  } else console.log(`bare proxy on ${url} -> ${process.env.UPSTREAM_URL}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
