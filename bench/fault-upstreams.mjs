/**
 * Three fake LLM upstreams on loopback, one per wire format, with faults switched over IPC, for
 * bench/fault-soak.mjs:
 *
 *   openai     POST /v1/chat/completions              JSON, or SSE chunks + usage chunk + [DONE]
 *   anthropic  POST /v1/messages                      JSON message, or the Messages event stream
 *                                                     (message_start … message_stop)
 *   google     POST /v1beta/models/{m}:generateContent  JSON, and
 *              POST /v1beta/models/{m}:streamGenerateContent?alt=sse  (no [DONE]; ends on finishReason)
 *
 * Streams send CHUNKS content deltas with GAP_MS between them (timers, like a model's tokens).
 *
 * Faults (IPC `{type: 'fault', provider, ...}`, answered with `{type: 'fault', ok: true}`):
 *   openai    `{mode: 'up'|'refuse'|'reset'}`: refuse closes the listener and destroys every open
 *             socket (in-flight streams are cut; new connections are refused); reset listens again
 *             on the same port and resets (TCP RST) every connection as soon as a request arrives.
 *   anthropic `{errorRate}`: that share of requests answers HTTP 500 `api_error` (streams too, before
 *             any event).
 *   google    `{delayMs}`: every answer waits that long before its headers.
 * `{type: 'stats'}` answers the request counts per provider and outcome.
 *
 * Job (argv[2], JSON): { chunks?: 20, gapMs?: 10, seed?: 1 }. Standalone: prints the URLs.
 */
import { createServer } from 'node:http';

const job = JSON.parse(process.argv[2] ?? '{}');
const CHUNKS = job.chunks ?? 20;
const GAP_MS = job.gapMs ?? 10;

// A seeded generator, so the 5% of 500s fall on the same requests run after run.
let seed = (job.seed ?? 1) >>> 0 || 1;
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

const faults = { openai: 'up', anthropicErrorRate: 0, googleDelayMs: 0 };
const stats = {};
const count = (provider, outcome) => {
  stats[provider] ??= {};
  stats[provider][outcome] = (stats[provider][outcome] ?? 0) + 1;
};

const words = Array.from({ length: CHUNKS }, (_, i) => (i === 0 ? 'Paris' : ` word${i}`));
const answerText = words.join('');
const created = 1_767_225_600;
const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function sendJson(response, status, body, headers = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/** Write `events` (strings) one per GAP_MS; stop if the socket goes away. */
function writeTimed(response, events, onDone) {
  let index = 0;
  const next = () => {
    if (response.destroyed) return;
    if (index === events.length - 1) {
      response.end(events[index]);
      onDone();
      return;
    }
    response.write(events[index++]);
    setTimeout(next, GAP_MS);
  };
  next();
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions.
const openaiId = 'chatcmpl-FaultSoak0000000000000000';
const openaiChunk = (choices, usage = null) =>
  `data: ${JSON.stringify({
    id: openaiId,
    object: 'chat.completion.chunk',
    created,
    model: 'gpt-4o-2024-08-06',
    service_tier: 'default',
    system_fingerprint: 'fp_a288987b44',
    choices,
    usage,
  })}\n\n`;
const openaiStream = [
  openaiChunk([
    {
      index: 0,
      delta: { role: 'assistant', content: '', refusal: null },
      logprobs: null,
      finish_reason: null,
    },
  ]),
  ...words.map((text) =>
    openaiChunk([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }]),
  ),
  openaiChunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
  openaiChunk([], { prompt_tokens: 30, completion_tokens: CHUNKS, total_tokens: 30 + CHUNKS }),
  'data: [DONE]\n\n',
];
const openaiCompletion = {
  id: openaiId,
  object: 'chat.completion',
  created,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: answerText, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 30, completion_tokens: CHUNKS, total_tokens: 30 + CHUNKS },
  service_tier: 'default',
  system_fingerprint: 'fp_a288987b44',
};

function openai(request, response, body) {
  if (faults.openai === 'reset') {
    count('openai', 'reset');
    request.socket.resetAndDestroy();
    return;
  }
  if (!request.url.endsWith('/chat/completions')) return notFound(response);
  if (body.stream) {
    response.writeHead(200, sseHeaders);
    writeTimed(response, openaiStream, () => count('openai', 'stream'));
  } else {
    sendJson(response, 200, openaiCompletion, { 'x-request-id': 'req_fault_soak' });
    count('openai', 'plain');
  }
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages.
const anthropicModel = 'claude-sonnet-4-5-20250929';
const anthropicEvent = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const anthropicUsage = {
  input_tokens: 30,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: 1,
  service_tier: 'standard',
};
const anthropicStream = [
  anthropicEvent('message_start', {
    message: {
      id: 'msg_01FaultSoak000000000000',
      type: 'message',
      role: 'assistant',
      model: anthropicModel,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: anthropicUsage,
    },
  }),
  anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  anthropicEvent('ping', {}),
  ...words.map((text) =>
    anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
  ),
  anthropicEvent('content_block_stop', { index: 0 }),
  anthropicEvent('message_delta', {
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: CHUNKS },
  }),
  anthropicEvent('message_stop', {}),
];
const anthropicMessage = {
  id: 'msg_01FaultSoak000000000000',
  type: 'message',
  role: 'assistant',
  model: anthropicModel,
  content: [{ type: 'text', text: answerText }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { ...anthropicUsage, output_tokens: CHUNKS },
};
const anthropicServerError = {
  type: 'error',
  error: { type: 'api_error', message: 'Internal server error' },
  request_id: 'req_011FaultSoak',
};

function anthropic(request, response, body) {
  if (!request.url.endsWith('/v1/messages')) return notFound(response);
  const headers = { 'request-id': 'req_011FaultSoak' };
  if (faults.anthropicErrorRate > 0 && random() < faults.anthropicErrorRate) {
    sendJson(response, 500, anthropicServerError, headers);
    count('anthropic', 'http500');
    return;
  }
  if (body.stream) {
    response.writeHead(200, { ...sseHeaders, ...headers });
    writeTimed(response, anthropicStream, () => count('anthropic', 'stream'));
  } else {
    sendJson(response, 200, anthropicMessage, headers);
    count('anthropic', 'plain');
  }
}

// ---------------------------------------------------------------------------------------------
// Gemini generateContent / streamGenerateContent?alt=sse.
const geminiMeta = { modelVersion: 'gemini-2.5-flash', responseId: 'FaultSoakResponse0000' };
const promptDetails = [{ modality: 'TEXT', tokenCount: 30 }];
const geminiStream = words.map((text, i) => {
  const last = i === words.length - 1;
  const candidate = { content: { parts: [{ text }], role: 'model' }, index: 0 };
  if (last) candidate.finishReason = 'STOP';
  const usageMetadata = last
    ? {
        promptTokenCount: 30,
        candidatesTokenCount: CHUNKS,
        totalTokenCount: 30 + CHUNKS,
        promptTokensDetails: promptDetails,
      }
    : { promptTokenCount: 30, totalTokenCount: 30, promptTokensDetails: promptDetails };
  return `data: ${JSON.stringify({ candidates: [candidate], usageMetadata, ...geminiMeta })}\r\n\r\n`;
});
const geminiResponse = {
  candidates: [
    {
      content: { parts: [{ text: answerText }], role: 'model' },
      index: 0,
      finishReason: 'STOP',
      avgLogprobs: -0.04,
    },
  ],
  usageMetadata: {
    promptTokenCount: 30,
    candidatesTokenCount: CHUNKS,
    totalTokenCount: 30 + CHUNKS,
    promptTokensDetails: promptDetails,
  },
  ...geminiMeta,
};

function google(request, response) {
  const streaming = request.url.includes(':streamGenerateContent');
  if (!streaming && !request.url.includes(':generateContent')) return notFound(response);
  const answer = () => {
    if (response.destroyed) return;
    if (streaming) {
      response.writeHead(200, sseHeaders);
      writeTimed(response, geminiStream, () =>
        count('google', faults.googleDelayMs ? 'stream-slow' : 'stream'),
      );
    } else {
      sendJson(response, 200, geminiResponse);
      count('google', faults.googleDelayMs ? 'plain-slow' : 'plain');
    }
  };
  if (faults.googleDelayMs > 0) setTimeout(answer, faults.googleDelayMs);
  else answer();
}

function notFound(response) {
  sendJson(response, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
}

// ---------------------------------------------------------------------------------------------
function serve(handle) {
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (piece) => {
      text += piece;
    });
    request.on('end', () => {
      let body = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        // A body that is not JSON gets the normal answer: the gateway's requests always are.
      }
      handle(request, response, body);
    });
  });
  // Streams that are cut make the peer reset; nothing to report.
  server.on('clientError', (_error, socket) => socket.destroy());
  return server;
}

const servers = {
  openai: serve(openai),
  anthropic: serve(anthropic),
  google: serve(google),
};
const ports = {};

function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

async function setOpenai(mode) {
  const server = servers.openai;
  if (mode === 'refuse') {
    if (server.listening) {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    }
    count('openai', 'listener-closed');
  } else if (!server.listening) {
    // Back on the same port: the gateway's configured base_url does not change.
    await listen(server, ports.openai);
  }
  faults.openai = mode;
}

async function onMessage(message) {
  if (message?.type === 'fault') {
    if (message.provider === 'openai') await setOpenai(message.mode);
    if (message.provider === 'anthropic') faults.anthropicErrorRate = message.errorRate ?? 0;
    if (message.provider === 'google') faults.googleDelayMs = message.delayMs ?? 0;
    process.send?.({ type: 'fault', ok: true, faults });
  } else if (message?.type === 'stats') {
    process.send?.({ type: 'stats', stats });
  }
}

for (const [name, server] of Object.entries(servers)) ports[name] = await listen(server);
const urls = Object.fromEntries(
  Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]),
);
if (process.send) {
  process.on('message', (message) => {
    onMessage(message).catch((error) => process.send?.({ type: 'fault', ok: false, error: String(error) }));
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true, urls });
} else {
  console.log(`fake upstreams: ${JSON.stringify(urls)}`);
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
