/**
 * One conformance suite for every provider adapter, as hono runs one suite against every router.
 * The same table of cases runs against `openai`, `anthropic` and `google` through the
 * `ModelClient` interface (`providers[name].create(spec, deps)`), each over recorded wire
 * fixtures (test/fixtures/providers/<provider>/) served by a loopback fake upstream. A provider
 * contributes its fixtures, how its requests must look, and its own words in errors; the
 * expectations on what comes out are shared: whatever the wire format, the gateway sees the same.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ModelSpec } from '../../src/config/model-spec.ts';
import { logText, UpstreamError } from '../../src/errors.ts';
import { createHttpClient, type HttpClient } from '../../src/providers/http.ts';
import * as registry from '../../src/providers/registry.ts';
import type { ModelClient, ProviderDeps } from '../../src/providers/types.ts';
import { systemClock } from '../../src/resilience/clock.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../src/types/openai.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { callOptions, makeSpec } from '../helpers/spec.ts';

type ProviderName = 'openai' | 'anthropic' | 'google';

const fixtureRoot = new URL('../fixtures/providers/', import.meta.url);
const modelName = 'conformance-model';

/** What every fixture set says, in its own wire format. */
const expected = {
  text: 'The capital of France is Paris.',
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
  toolUsage: { prompt_tokens: 58, completion_tokens: 17, total_tokens: 75 },
  toolCall: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } },
  /** The text a cut or failing stream delivered before it broke. */
  partialText: 'The capital',
  retryAfterMs: 7000,
};

const textRequest: ChatRequest = {
  model: modelName,
  messages: [
    { role: 'system', content: 'Answer in one sentence.' },
    { role: 'user', content: 'What is the capital of France?' },
  ],
  max_tokens: 50,
  temperature: 0.2,
};

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
    },
  },
};

const toolRequest: ChatRequest = {
  model: modelName,
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  tools: [weatherTool],
  tool_choice: 'auto',
  max_tokens: 50,
};

/** How one fixture is served: file, status, headers, and how the body ends. */
interface Served {
  file: string;
  status?: number;
  headers?: Record<string, string>;
  /** `reset`: the connection is destroyed after the body instead of ending cleanly. */
  ending?: 'end' | 'reset';
}

interface RequestShape {
  stream: boolean;
  tools: boolean;
}

/** What a provider contributes: where its fixtures are, how its requests look, its words. */
interface ProviderProfile {
  name: ProviderName;
  upstreamModel: string;
  apiKey: string;
  baseUrl(upstreamUrl: string): string;
  /** Gemini separates SSE events with CRLF CRLF. */
  sseLineEnding: '\n' | '\r\n';
  /** Headers its 429 carries (the retry hint may sit in the body instead). */
  rateLimitHeaders: Record<string, string>;
  /** The upstream's own words in its bad-parameter 400, which must reach the caller. */
  badParameterMessage: string;
  /** The upstream's words in its mid-stream error event. */
  midStreamMessage: string;
  /** False where the wire format sends each call's arguments whole (Gemini). */
  streamsArgumentsInPieces: boolean;
  /** Error fixtures only this provider has (Anthropic's 529). */
  extraErrors: ErrorCase['id'][];
  checkRequest(sent: RecordedRequest, shape: RequestShape): void;
  /** Cases that fail on today's adapter because of a real defect: case name -> reason. */
  todo: Record<string, string>;
}

const profiles: ProviderProfile[] = [
  {
    name: 'openai',
    upstreamModel: 'gpt-4o-2024-08-06',
    apiKey: 'sk-conf-0123456789abcdef',
    baseUrl: (url) => `${url}/v1`,
    sseLineEnding: '\n',
    rateLimitHeaders: {
      'retry-after': '7',
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '7s',
    },
    badParameterMessage: "Invalid 'temperature': decimal above maximum value.",
    midStreamMessage: 'The server had an error while processing your request.',
    streamsArgumentsInPieces: true,
    extraErrors: [],
    checkRequest(sent, shape) {
      assert.equal(sent.method, 'POST');
      assert.equal(sent.path, '/v1/chat/completions');
      assert.equal(sent.headers.authorization, `Bearer ${this.apiKey}`);
      assert.match(String(sent.headers['content-type']), /^application\/json/);
      const body = sent.json as Record<string, any>;
      assert.equal(body.model, this.upstreamModel, 'the upstream model id, not the gateway name');
      assert.deepEqual(body.messages, (shape.tools ? toolRequest : textRequest).messages);
      if (shape.stream) {
        assert.equal(body.stream, true);
        assert.equal(body.stream_options?.include_usage, true, 'asks for usage on the last chunk');
      } else {
        assert.notEqual(body.stream, true);
        assert.equal(body.stream_options, undefined);
      }
      if (shape.tools) {
        assert.deepEqual(body.tools, [weatherTool]);
        assert.equal(body.tool_choice, 'auto');
      } else {
        assert.equal(body.max_tokens, 50);
        assert.equal(body.temperature, 0.2);
      }
    },
    todo: {},
  },
  {
    name: 'anthropic',
    upstreamModel: 'claude-sonnet-4-5-20250929',
    apiKey: 'sk-ant-api03-conformance-0123456789',
    baseUrl: (url) => url,
    sseLineEnding: '\n',
    rateLimitHeaders: {
      'retry-after': '7',
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:07Z',
    },
    badParameterMessage: 'temperature: Input should be less than or equal to 1',
    midStreamMessage: 'Overloaded',
    streamsArgumentsInPieces: true,
    extraErrors: ['529'],
    checkRequest(sent, shape) {
      assert.equal(sent.method, 'POST');
      assert.equal(sent.path, '/v1/messages');
      assert.equal(sent.headers['x-api-key'], this.apiKey);
      assert.equal(sent.headers.authorization, undefined, 'the key travels in x-api-key only');
      assert.equal(sent.headers['anthropic-version'], '2023-06-01');
      assert.match(String(sent.headers['content-type']), /^application\/json/);
      const body = sent.json as Record<string, any>;
      assert.equal(body.model, this.upstreamModel);
      assert.equal(body.max_tokens, 50);
      if (shape.stream) assert.equal(body.stream, true);
      else assert.notEqual(body.stream, true);
      const userText = JSON.stringify(body.messages);
      if (shape.tools) {
        assert.match(userText, /What is the weather in Paris\?/);
        assert.deepEqual(body.tools, [
          {
            name: 'get_weather',
            description: 'Current weather for a city',
            input_schema: weatherTool.function.parameters,
          },
        ]);
        assert.deepEqual(body.tool_choice, { type: 'auto' });
      } else {
        assert.equal(body.messages[0]?.role, 'user', 'the system prompt is not a message');
        assert.match(userText, /What is the capital of France\?/);
        assert.match(JSON.stringify(body.system), /Answer in one sentence\./);
        assert.equal(body.temperature, 0.2);
      }
    },
    todo: {},
  },
  {
    name: 'google',
    upstreamModel: 'gemini-2.5-flash',
    apiKey: 'AIzaSyConformance0123456789abcdefghijk',
    baseUrl: (url) => url,
    sseLineEnding: '\r\n',
    // Gemini sends no Retry-After header: the delay is RetryInfo.retryDelay in the body.
    rateLimitHeaders: {},
    badParameterMessage: 'it has a temperature value of 3 but the supported range is from 0',
    midStreamMessage: 'The model is overloaded.',
    streamsArgumentsInPieces: false,
    extraErrors: [],
    checkRequest(sent, shape) {
      assert.equal(sent.method, 'POST');
      const method = shape.stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
      assert.equal(sent.path, `/v1beta/models/${this.upstreamModel}:${method}`);
      assert.equal(sent.headers['x-goog-api-key'], this.apiKey);
      assert.ok(!sent.path.includes(this.apiKey), 'the key never travels in the URL');
      assert.match(String(sent.headers['content-type']), /^application\/json/);
      const body = sent.json as Record<string, any>;
      assert.equal(body.stream, undefined, 'streaming is the method, not a body field');
      assert.equal(body.model, undefined, 'the model is in the path');
      assert.equal(body.contents[0]?.role, 'user');
      assert.equal(body.generationConfig?.maxOutputTokens, 50);
      if (shape.tools) {
        assert.match(JSON.stringify(body.contents), /What is the weather in Paris\?/);
        const declarations = body.tools?.[0]?.functionDeclarations;
        assert.equal(declarations?.[0]?.name, 'get_weather');
        assert.equal(declarations?.[0]?.description, 'Current weather for a city');
      } else {
        assert.match(JSON.stringify(body.contents), /What is the capital of France\?/);
        assert.match(JSON.stringify(body.systemInstruction), /Answer in one sentence\./);
        assert.equal(body.generationConfig?.temperature, 0.2);
      }
    },
    todo: {},
  },
];

interface ErrorCase {
  id: '400' | 'context' | '401' | '404' | '429' | '500' | '503' | '529' | 'html';
  name: string;
  served: (profile: ProviderProfile) => Served;
  kind: UpstreamError['kind'];
  status?: number;
  retryAfterMs?: number;
  message?: (profile: ProviderProfile) => string;
}

/** Every upstream failure, and the classified error the gateway must get for it. */
const errorCases: ErrorCase[] = [
  {
    id: '400',
    name: '400 bad parameter -> invalid_request with the upstream message',
    served: () => ({ file: 'error-400-parameter.json', status: 400 }),
    kind: 'invalid_request',
    status: 400,
    message: (profile) => profile.badParameterMessage,
  },
  {
    id: 'context',
    name: '400 context length -> context_length',
    served: () => ({ file: 'error-400-context-length.json', status: 400 }),
    kind: 'context_length',
    status: 400,
  },
  {
    id: '401',
    name: '401 -> auth, the key never in the message',
    served: () => ({ file: 'error-401.json', status: 401 }),
    kind: 'auth',
    status: 401,
  },
  {
    id: '404',
    name: '404 -> not_found',
    served: () => ({ file: 'error-404.json', status: 404 }),
    kind: 'not_found',
    status: 404,
  },
  {
    id: '429',
    name: '429 with a retry hint -> rate_limited with retryAfterMs',
    served: (profile) => ({ file: 'error-429.json', status: 429, headers: profile.rateLimitHeaders }),
    kind: 'rate_limited',
    status: 429,
    retryAfterMs: expected.retryAfterMs,
  },
  {
    id: '500',
    name: '500 -> server',
    served: () => ({ file: 'error-500.json', status: 500 }),
    kind: 'server',
    status: 500,
  },
  {
    id: '503',
    name: '503 -> server',
    served: () => ({ file: 'error-503.json', status: 503 }),
    kind: 'server',
    status: 503,
  },
  {
    id: '529',
    name: '529 overloaded -> server',
    served: () => ({ file: 'error-529.json', status: 529 }),
    kind: 'server',
    status: 529,
  },
  {
    id: 'html',
    name: 'an HTML page with 200 -> bad_response',
    served: () => ({
      file: '../error.html',
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8' },
    }),
    kind: 'bad_response',
  },
];

/** What a call produced: a completion, or the chunks a stream yielded, and the error it ended with. */
interface Outcome {
  completion?: ChatCompletion;
  chunks: ChatCompletionChunk[];
  error?: unknown;
}

interface SuiteContext {
  profile: ProviderProfile;
  warnings: string[];
  sent(): RecordedRequest;
}

interface Case {
  name: string;
  mode: 'chat' | 'stream';
  request: ChatRequest;
  served: (profile: ProviderProfile) => Served;
  /** Only for these providers (fixtures only they have). */
  only?: (profile: ProviderProfile) => boolean;
  check(outcome: Outcome, context: SuiteContext): void;
}

const cases: Case[] = [
  {
    name: 'plain answer',
    mode: 'chat',
    request: textRequest,
    served: () => ({ file: 'chat.json' }),
    check({ completion, error }, { profile, sent }) {
      assert.equal(error, undefined);
      assert.equal(completion?.object, 'chat.completion');
      assert.equal(completion.model, modelName, 'the model field names the gateway model');
      const choice = completion.choices[0]!;
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.message.content, expected.text);
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(choice.message.tool_calls, undefined);
      assertUsage(completion.usage, expected.usage);
      profile.checkRequest(sent(), { stream: false, tools: false });
    },
  },
  {
    name: 'streamed answer',
    mode: 'stream',
    request: textRequest,
    served: () => ({ file: 'chat.sse.txt' }),
    check({ chunks, error }, { profile, sent }) {
      assert.equal(error, undefined);
      assertChunkShape(chunks);
      assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant', 'the first delta carries the role');
      assert.equal(textOf(chunks), expected.text);
      assert.ok(chunks.filter((chunk) => chunk.choices[0]?.delta.content).length >= 2, 'in pieces');
      assert.deepEqual(finishReasons(chunks), ['stop']);
      assertStreamUsage(chunks, expected.usage);
      profile.checkRequest(sent(), { stream: true, tools: false });
    },
  },
  {
    name: 'tool call',
    mode: 'chat',
    request: toolRequest,
    served: () => ({ file: 'tool-call.json' }),
    check({ completion, error }, { profile, sent }) {
      assert.equal(error, undefined);
      const choice = completion!.choices[0]!;
      assert.equal(choice.finish_reason, 'tool_calls');
      const calls = choice.message.tool_calls ?? [];
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.type, 'function');
      assert.ok(calls[0]!.id.length > 0, 'every call has an id');
      assert.equal(calls[0]!.function.name, expected.toolCall.name);
      assert.deepEqual(JSON.parse(calls[0]!.function.arguments), expected.toolCall.arguments);
      assertUsage(completion!.usage, expected.toolUsage);
      profile.checkRequest(sent(), { stream: false, tools: true });
    },
  },
  {
    name: 'streamed tool call, arguments across events',
    mode: 'stream',
    request: toolRequest,
    served: () => ({ file: 'tool-call.sse.txt' }),
    check({ chunks, error }, { profile, sent }) {
      assert.equal(error, undefined);
      assertChunkShape(chunks);
      const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      const opening = deltas[0]!;
      assert.equal(opening.index, 0);
      assert.ok(opening.id && opening.id.length > 0, 'the first delta of a call carries its id');
      assert.equal(opening.type, 'function');
      assert.equal(opening.function?.name, expected.toolCall.name);
      for (const delta of deltas.slice(1)) {
        assert.equal(delta.index, 0);
        assert.equal(delta.id, undefined, 'the id comes once');
        assert.equal(delta.function?.name, undefined, 'the name comes once');
      }
      const pieces = deltas.filter((delta) => delta.function?.arguments);
      if (profile.streamsArgumentsInPieces)
        assert.ok(pieces.length >= 2, `arguments in ${pieces.length} pieces`);
      const args = deltas.map((delta) => delta.function?.arguments ?? '').join('');
      assert.deepEqual(JSON.parse(args), expected.toolCall.arguments);
      assert.deepEqual(finishReasons(chunks), ['tool_calls']);
      assertStreamUsage(chunks, expected.toolUsage);
      profile.checkRequest(sent(), { stream: true, tools: true });
    },
  },
  ...(['end', 'reset'] as const).map(
    (ending): Case => ({
      name: `a stream cut before completion (${ending === 'end' ? 'body ends' : 'connection reset'}) throws`,
      mode: 'stream',
      request: textRequest,
      served: () => ({ file: 'cut.sse.txt', ending }),
      check({ chunks, error }, { profile }) {
        assert.ok(
          error instanceof UpstreamError,
          `throws an UpstreamError, never ends normally (got ${error})`,
        );
        assert.notEqual(error.kind, 'invalid_request', 'a cut is not the client’s fault');
        assert.ok(!error.message.includes(profile.apiKey));
        assert.equal(textOf(chunks), expected.partialText, 'what came before the cut was delivered');
        assert.deepEqual(finishReasons(chunks), [], 'no finish reason was made up');
      },
    }),
  ),
  {
    name: 'a mid-stream error event throws a server error; the upstream message is kept for the logs',
    mode: 'stream',
    request: textRequest,
    served: () => ({ file: 'mid-stream-error.sse.txt' }),
    check({ chunks, error }, { profile }) {
      assert.ok(error instanceof UpstreamError, `throws an UpstreamError (got ${error})`);
      assert.equal(error.kind, 'server');
      assert.ok(logText(error).includes(profile.midStreamMessage), logText(error));
      assert.ok(
        !error.message.includes(profile.midStreamMessage),
        `the client-facing message leaves it out: ${error.message}`,
      );
      assert.equal(textOf(chunks), expected.partialText);
      assert.deepEqual(finishReasons(chunks), []);
    },
  },
  {
    name: 'a malformed chunk is skipped, logged, and the stream goes on',
    mode: 'stream',
    request: textRequest,
    served: () => ({ file: 'malformed.sse.txt' }),
    check({ chunks, error }, { warnings }) {
      assert.equal(error, undefined);
      assert.equal(textOf(chunks), expected.text);
      assert.deepEqual(finishReasons(chunks), ['stop']);
      assertStreamUsage(chunks, expected.usage);
      assert.equal(warnings.length, 1, `one warning (got ${JSON.stringify(warnings)})`);
      assert.match(warnings[0]!, new RegExp(modelName));
    },
  },
  ...errorCases.flatMap((errorCase) =>
    (['chat', 'stream'] as const).map(
      (mode): Case => ({
        name: `${errorCase.name} (${mode})`,
        mode,
        request: textRequest,
        served: errorCase.served,
        only: ['529'].includes(errorCase.id)
          ? (profile) => profile.extraErrors.includes(errorCase.id)
          : undefined,
        check({ completion, error }, { profile }) {
          assert.equal(completion, undefined);
          assert.ok(error instanceof UpstreamError, `an UpstreamError (got ${error})`);
          assert.equal(error.kind, errorCase.kind, error.message);
          if (errorCase.status !== undefined) assert.equal(error.status, errorCase.status);
          if (errorCase.retryAfterMs !== undefined) assert.equal(error.retryAfterMs, errorCase.retryAfterMs);
          const upstreamWords = errorCase.message?.(profile);
          if (upstreamWords) assert.ok(error.message.includes(upstreamWords), error.message);
          assert.ok(!error.message.includes(profile.apiKey), `no key in "${error.message}"`);
          assert.ok(error.message.includes(modelName), 'the message names the model');
        },
      }),
    ),
  ),
];

for (const profile of profiles) {
  describe(`provider conformance: ${profile.name}`, () => {
    let upstream: FakeUpstream;
    let http: HttpClient;
    let client: ModelClient;
    const warnings: string[] = [];
    let ids = 0;

    before(async () => {
      upstream = await startFakeUpstream((_request, response) => {
        response.end();
      });
      http = createHttpClient();
      const deps: ProviderDeps = {
        http,
        clock: systemClock,
        nowSeconds: () => 1_767_225_600,
        newId: (prefix) => `${prefix}-conformance-${++ids}`,
        warn: (message) => warnings.push(message),
      };
      client = createClient(
        makeSpec({
          name: modelName,
          provider: profile.name,
          baseUrl: profile.baseUrl(upstream.url),
          upstreamModel: profile.upstreamModel,
          apiKey: profile.apiKey,
          maxOutputTokens: 1024,
        }),
        deps,
      );
    });
    beforeEach(() => {
      warnings.length = 0;
      upstream.requests.length = 0;
    });
    after(async () => {
      await http.close();
      await upstream.close();
    });

    for (const testCase of cases) {
      if (testCase.only && !testCase.only(profile)) continue;
      const todo = profile.todo[testCase.name];
      it(testCase.name, todo ? { todo } : {}, async () => {
        serve(upstream, profile, testCase.served(profile));
        const outcome = await run(client, testCase.mode, testCase.request);
        assert.equal(upstream.requests.length, 1, 'one request upstream');
        testCase.check(outcome, {
          profile,
          warnings,
          sent: () => upstream.requests[0]!,
        });
      });
    }
  });
}

type GuardedFactory = (spec: ModelSpec, deps: ProviderDeps, scrub: (text: string) => string) => ModelClient;

/**
 * `providers[name].create(spec, deps)`, behind the registry's guard (which scrubs configured
 * secrets from failures) where the registry has one: the client exactly as the gateway gets it.
 */
function createClient(spec: ModelSpec, deps: ProviderDeps): ModelClient {
  const guarded = (registry as Record<string, unknown>).createModelClient as GuardedFactory | undefined;
  const scrub = (text: string) => text.split(spec.apiKey ?? '').join('[redacted]');
  if (guarded) return guarded(spec, deps, scrub);
  return registry.providers[spec.provider as ProviderName]!.create(spec, deps);
}

/** Serve a recorded fixture: JSON as is, SSE transcripts event by event in the provider's framing. */
function serve(upstream: FakeUpstream, profile: ProviderProfile, served: Served): void {
  const path = new URL(`${profile.name}/${served.file}`, fixtureRoot);
  const text = readFileSync(path, 'utf8');
  const isSse = served.file.endsWith('.sse.txt');
  upstream.setHandler(async (_request, response) => {
    const contentType = isSse ? 'text/event-stream' : 'application/json';
    response.writeHead(served.status ?? 200, { 'content-type': contentType, ...served.headers });
    if (isSse) {
      // Events go out one write at a time, as an upstream sends them.
      for (const event of text.split('\n\n').filter((part) => part.trim() !== '')) {
        response.write(`${event.split('\n').join(profile.sseLineEnding)}${profile.sseLineEnding.repeat(2)}`);
        await nextTurn();
      }
    } else {
      response.write(text);
    }
    if (served.ending === 'reset') response.socket?.destroy();
    else response.end();
  });
}

async function run(client: ModelClient, mode: 'chat' | 'stream', request: ChatRequest): Promise<Outcome> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    if (mode === 'chat') {
      const { completion } = await client.chat(structuredClone(request), callOptions());
      return { completion, chunks };
    }
    const result = await client.stream(structuredClone(request), callOptions());
    for await (const chunk of result.chunks) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

function textOf(chunks: ChatCompletionChunk[]): string {
  return chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
}

function finishReasons(chunks: ChatCompletionChunk[]): string[] {
  return chunks
    .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
    .filter((r) => r !== null);
}

function assertChunkShape(chunks: ChatCompletionChunk[]): void {
  assert.ok(chunks.length > 0);
  const ids = new Set(chunks.map((chunk) => chunk.id));
  assert.equal(ids.size, 1, 'one id for the whole stream');
  for (const chunk of chunks) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, modelName, 'every chunk names the gateway model');
  }
}

function assertUsage(usage: ChatCompletion['usage'], want: typeof expected.usage): void {
  assert.ok(usage, 'usage is reported');
  assert.deepEqual(
    {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
    },
    want,
  );
}

/** Usage arrives once, on the last chunk, after the finish reason. */
function assertStreamUsage(chunks: ChatCompletionChunk[], want: typeof expected.usage): void {
  const withUsage = chunks.filter((chunk) => chunk.usage);
  assert.equal(withUsage.length, 1, 'usage comes once');
  assert.equal(withUsage[0], chunks.at(-1), 'on the last chunk');
  assertUsage(withUsage[0]!.usage!, want);
}
