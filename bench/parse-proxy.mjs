/**
 * The parse proxy: the honest ceiling for a gateway that must read its traffic. node:http in, an
 * undici Pool out, JSON.parse + JSON.stringify of the request, of a non-streaming answer and of
 * every SSE chunk of a stream (each `data:` line re-serialised, `[DONE]` passed as is), written
 * as it arrives. No routing, no metrics.
 *
 *   UPSTREAM_URL=http://127.0.0.1:PORT node bench/parse-proxy.mjs [port]
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const upstream = new Pool(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8000', {
  connections: 256, // as Switchyard's Agent and the bare proxy
  pipelining: 1,
  keepAliveTimeout: 30_000,
});
const jsonHeaders = { 'content-type': 'application/json' };
const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
/** Re-serialise one SSE event's data line (the upstream speaks OpenAI's `data: <json>` events). */
const event = (data) =>
  data === '[DONE]' ? 'data: [DONE]\n\n' : `data: ${JSON.stringify(JSON.parse(data))}\n\n`;

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, async (request, response) => {
  try {
    let text = '';
    request.setEncoding('utf8');
    for await (const piece of request) text += piece;
    const body = JSON.stringify(JSON.parse(text));
    const answer = await upstream.request({ path: request.url, method: 'POST', headers: jsonHeaders, body });
    answer.body.setEncoding('utf8');
    if (!String(answer.headers['content-type']).startsWith('text/event-stream')) {
      let json = '';
      for await (const piece of answer.body) json += piece;
      const out = JSON.stringify(JSON.parse(json));
      response.writeHead(answer.statusCode, { ...jsonHeaders, 'content-length': Buffer.byteLength(out) });
      response.end(out);
      return;
    }
    response.writeHead(answer.statusCode, sseHeaders);
    let buffer = '';
    for await (const piece of answer.body) {
      buffer += piece;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line.startsWith('data: ')) response.write(event(line.slice(6)));
      }
    }
    response.end();
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
  } else console.log(`parse proxy on ${url} -> ${process.env.UPSTREAM_URL}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
