/**
 * A fake OpenAI-compatible upstream that answers instantly, for `npm run bench`.
 *
 *   POST /v1/chat/completions  {"stream": false}  a small fixed chat.completion with usage
 *   POST /v1/chat/completions  {"stream": true}   20 content chunks + a usage chunk + [DONE]
 *
 * node:http with keep-alive, 127.0.0.1 only. Streaming writes one `data:` event per write with a
 * setImmediate between them (each event its own TCP segment, as a real model's tokens are);
 * UPSTREAM_STREAM_WRITE=burst writes the whole stream in one go instead.
 *
 * Standalone: `node bench/upstream.mjs [port]` prints the URL. Under scripts/bench.mjs it reports
 * its URL over IPC and exits when its parent goes away.
 */
import { createServer } from 'node:http';

const CHUNKS = 20;
const burst = process.env.UPSTREAM_STREAM_WRITE === 'burst';
const created = 1_700_000_000;

const completionBody = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created,
  model: 'bench-model',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Paris is the capital of France.' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 28, completion_tokens: 8, total_tokens: 36 },
});

const chunk = (delta, finish) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created,
    model: 'bench-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;

/** The stream's events, built once: 20 content chunks, the usage chunk, [DONE]. */
const streamEvents = [];
for (let i = 0; i < CHUNKS; i++) {
  const delta = i === 0 ? { role: 'assistant', content: 'token ' } : { content: `token${i} ` };
  streamEvents.push(chunk(delta, i === CHUNKS - 1 ? 'stop' : null));
}
streamEvents.push(
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created,
    model: 'bench-model',
    choices: [],
    usage: { prompt_tokens: 28, completion_tokens: CHUNKS, total_tokens: 28 + CHUNKS },
  })}\n\n`,
);
streamEvents.push('data: [DONE]\n\n');
const streamBurst = streamEvents.join('');

const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const jsonHeaders = {
  'content-type': 'application/json',
  'content-length': Buffer.byteLength(completionBody),
};
const wantsStream = /"stream"\s*:\s*true/;

function writeStream(response, index) {
  while (index < streamEvents.length - 1) {
    response.write(streamEvents[index++]);
    if (!burst) {
      setImmediate(writeStream, response, index);
      return;
    }
  }
  response.end(streamEvents[index]);
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
  if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions')) {
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
    request.resume();
    return;
  }
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (piece) => {
    body += piece;
  });
  request.on('end', () => {
    if (!wantsStream.test(body)) {
      response.writeHead(200, jsonHeaders);
      response.end(completionBody);
    } else if (burst) {
      response.writeHead(200, sseHeaders);
      response.end(streamBurst);
    } else {
      response.writeHead(200, sseHeaders);
      writeStream(response, 0);
    }
  });
});

const port = Number(process.argv[2] ?? 0);
server.listen(port, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (process.send) {
    process.send({ ready: true, url });
    process.on('disconnect', () => process.exit(0));
  } else {
    console.log(`fake upstream on ${url}`);
  }
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
