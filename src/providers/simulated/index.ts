/**
 * An in-process model: latency from a lognormal distribution, errors, 429s with Retry-After,
 * hangs, broken streams and scheduled outages, all from config and all on the injected clock,
 * deterministic for a seed. The demo, the tests and the simulator use it.
 */
import { abortReasons, UpstreamError } from '../../errors.ts';
import type { CancelSignal } from '../../lib/cancel.ts';
import { type RandomSource, seededRandom } from '../../lib/random.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  ChunkDelta,
  FinishReason,
  ToolCall,
} from '../../types/openai.ts';
import type { CallOptions, ModelClient, ProviderModule, UpstreamMeta } from '../types.ts';
import { type SimulationOptions, simulationSchema } from './options.ts';
import { decideReply, type ReplyKind, splitText, writeJson, writeToolCalls } from './structured.ts';
import { approximateTokens, promptText, replyWords } from './text.ts';

/** Runtime control of a simulated model (used by the admin API, tests and the simulator). */
export interface SimulatedControl {
  /** Force an outage until `restore()`; mode as in scheduled outages. */
  takeDown(mode?: 'error' | 'refuse' | 'hang'): void;
  restore(): void;
  readonly forcedDown: boolean;
}

export interface SimulatedClient extends ModelClient {
  control: SimulatedControl;
}

export function isSimulatedClient(client: ModelClient): client is SimulatedClient {
  return 'control' in client;
}

const okMeta: UpstreamMeta = { status: 200, budget: {} };

/** An answer's content: text, or tool calls; `tokens` is its completion token count. */
interface Answer {
  text?: string;
  /** A text answer's words, as the stream sends them. */
  words?: string[];
  toolCalls?: ToolCall[];
  tokens: number;
}

/** One stream chunk's delta and the tokens it carries (its share of the generation time). */
interface StreamStep {
  delta: ChunkDelta;
  tokens: number;
}

export const simulatedProvider: ProviderModule = {
  name: 'simulated',
  defaultCapabilities: ['tools', 'json', 'streaming', 'prefill'],
  options: { field: 'simulate', schema: simulationSchema },
  create(spec, deps): SimulatedClient {
    const options = (spec.providerOptions ?? simulationSchema.parse({})) as SimulationOptions;
    const random = seededRandom(options.seed ?? hashName(spec.name));
    const startedAt = deps.clock.now();
    let forced: 'error' | 'refuse' | 'hang' | undefined;
    const context = { provider: 'simulated', model: spec.name };

    const fail = (
      kind: UpstreamError['kind'],
      message: string,
      extra: { status?: number; retryAfterMs?: number } = {},
    ) => new UpstreamError(kind, `${spec.name} ${message}`, { ...context, ...extra });

    /** What happens to this attempt, decided up front from the seeded source. */
    const plan = (request: ChatRequest, options_: CallOptions) => {
      const outage = forced ?? activeOutage(options.outages, (deps.clock.now() - startedAt) / 1000);
      const roll = random();
      const ttft = lognormal(random, options.ttft_ms, options.ttft_sigma);
      const span = options.output_tokens.max - options.output_tokens.min;
      const lengthRoll = random();
      const asked = request.max_completion_tokens ?? request.max_tokens;
      const outputTokens =
        typeof asked === 'number' && asked > 0
          ? Math.max(1, Math.round(asked * (0.5 + 0.5 * lengthRoll)))
          : options.output_tokens.min + Math.floor(lengthRoll * (span + 1));
      const breakRoll = random();
      let failure: 'error' | 'refuse' | 'hang' | 'rate_limit' | undefined = outage;
      if (!failure) {
        if (roll < options.hang_rate) failure = 'hang';
        else if (roll < options.hang_rate + options.rate_limit_rate) failure = 'rate_limit';
        else if (roll < options.hang_rate + options.rate_limit_rate + options.error_rate) failure = 'error';
      }
      return {
        failure,
        ttft,
        outputTokens,
        breaksStream: breakRoll < options.stream_break_rate,
        timeouts: options_.timeouts,
      };
    };

    /** Wait for the first byte or fail as planned; honours the attempt's timeouts and signal. */
    const awaitFirstByte = async (attempt: ReturnType<typeof plan>, signal: CancelSignal): Promise<void> => {
      const { firstTokenMs, connectMs } = attempt.timeouts;
      if (attempt.failure === 'refuse') {
        await deps.clock.sleep(Math.min(5, connectMs), signal).catch(rethrowCancel(signal, context));
        throw fail('network', 'refused the connection (simulated outage)');
      }
      if (attempt.failure === 'hang' || attempt.ttft > firstTokenMs) {
        await deps.clock.sleep(firstTokenMs, signal).catch(rethrowCancel(signal, context));
        throw fail('silent', 'sent no response headers before the first-token timeout');
      }
      // Errors and 429s come back fast (a fifth of the time to first token), as real ones do.
      const failsFast = attempt.failure === 'rate_limit' || attempt.failure === 'error';
      await deps.clock
        .sleep(failsFast ? attempt.ttft / 5 : attempt.ttft, signal)
        .catch(rethrowCancel(signal, context));
      if (attempt.failure === 'rate_limit') {
        throw fail('rate_limited', 'returned HTTP 429: rate limit reached (simulated)', {
          status: 429,
          retryAfterMs: options.retry_after * 1000,
        });
      }
      if (attempt.failure === 'error') {
        throw fail('server', 'returned HTTP 503: service unavailable (simulated)', { status: 503 });
      }
    };

    const client: SimulatedClient = {
      spec,
      control: {
        takeDown(mode = 'error') {
          forced = mode;
        },
        restore() {
          forced = undefined;
        },
        get forcedDown() {
          return forced !== undefined;
        },
      },

      async chat(request, callOptions) {
        const attempt = plan(request, callOptions);
        const reply = decideReply(request);
        await awaitFirstByte(attempt, callOptions.signal);
        if (reply.kind === 'invalid') throw refuseRequest(reply);
        const answer = writeAnswer(reply, request, attempt.outputTokens);
        // The whole answer arrives at once, after generating every token.
        const generationMs = (answer.tokens / options.tokens_per_second) * 1000;
        await deps.clock
          .sleep(generationMs, callOptions.signal)
          .catch(rethrowCancel(callOptions.signal, context));
        const promptTokens = approximateTokens(promptText(request));
        const message: ChatCompletion['choices'][number]['message'] = answer.toolCalls
          ? { role: 'assistant', content: null, tool_calls: answer.toolCalls }
          : { role: 'assistant', content: answer.text ?? '' };
        const completion: ChatCompletion = {
          id: deps.newId('chatcmpl'),
          object: 'chat.completion',
          created: deps.nowSeconds(),
          model: spec.name,
          choices: [{ index: 0, message, finish_reason: answer.toolCalls ? 'tool_calls' : 'stop' }],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: answer.tokens,
            total_tokens: promptTokens + answer.tokens,
          },
        };
        return { completion, meta: okMeta };
      },

      async stream(request, callOptions) {
        const attempt = plan(request, callOptions);
        const reply = decideReply(request);
        await awaitFirstByte(attempt, callOptions.signal);
        if (reply.kind === 'invalid') throw refuseRequest(reply);
        return {
          meta: okMeta,
          chunks: streamChunks(request, callOptions, reply, attempt.outputTokens, attempt.breaksStream),
        };
      },
    };

    const refuseRequest = (reply: { message: string; param: string }) =>
      new UpstreamError('invalid_request', reply.message, { ...context, status: 400, param: reply.param });

    /** The answer's content, drawn from the seeded source once the first byte is due. */
    const writeAnswer = (reply: ReplyKind, request: ChatRequest, outputTokens: number): Answer => {
      if (reply.kind === 'tool_calls') {
        const toolCalls = writeToolCalls(reply.tools, request, random);
        let tokens = 0;
        for (const call of toolCalls)
          tokens += approximateTokens(call.function.name + call.function.arguments);
        return { toolCalls, tokens };
      }
      if (reply.kind === 'json') {
        const text = writeJson(reply.schema, request, random, spec.name);
        return { text, tokens: approximateTokens(text) };
      }
      const words = replyWords(random, spec.name, outputTokens);
      return { text: words.join(''), words, tokens: outputTokens };
    };

    async function* streamChunks(
      request: ChatRequest,
      callOptions: CallOptions,
      reply: ReplyKind,
      outputTokens: number,
      breaks: boolean,
    ): AsyncGenerator<ChatCompletionChunk> {
      const id = deps.newId('chatcmpl');
      const created = deps.nowSeconds();
      const chunk = (delta: ChunkDelta, finish: FinishReason = null): ChatCompletionChunk => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model: spec.name,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      const answer = writeAnswer(reply, request, outputTokens);
      const per = options.chunk_tokens;
      const { opening, steps } = answer.toolCalls
        ? toolCallSteps(answer.toolCalls, per)
        : answer.words
          ? textSteps(answer.words, per)
          : pieceSteps(answer.text ?? '', per);
      // A broken stream stops at the chunk holding the middle word (or the middle piece).
      const middle = answer.words ? Math.floor(Math.max(1, Math.floor(answer.words.length / 2)) / per) : -1;
      const breakAt = !breaks ? -1 : answer.words ? middle : Math.floor(steps.length / 2);
      yield chunk(opening);
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i]!;
        if (i > 0 && i === breakAt) throw fail('network', 'stream broke mid-answer (simulated)');
        if (i > 0) {
          await deps.clock
            .sleep((1000 * step.tokens) / options.tokens_per_second, callOptions.signal)
            .catch(rethrowCancel(callOptions.signal, context));
        }
        yield chunk(step.delta);
      }
      yield chunk({}, answer.toolCalls ? 'tool_calls' : 'stop');
      const promptTokens = approximateTokens(promptText(request));
      yield {
        id,
        object: 'chat.completion.chunk',
        created,
        model: spec.name,
        choices: [],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: answer.tokens,
          total_tokens: promptTokens + answer.tokens,
        },
      };
    }

    return client;
  },
};

/** Text: `perChunk` words ("tokens") per chunk after an empty opening delta. */
function textSteps(words: string[], perChunk: number): { opening: ChunkDelta; steps: StreamStep[] } {
  const steps: StreamStep[] = [];
  for (let i = 0; i < words.length; i += perChunk) {
    steps.push({ delta: { content: words.slice(i, i + perChunk).join('') }, tokens: perChunk });
  }
  return { opening: { role: 'assistant', content: '' }, steps };
}

/** JSON text: pieces of about `perChunk` tokens (four characters each), at least three. */
function pieceSteps(text: string, perChunk: number): { opening: ChunkDelta; steps: StreamStep[] } {
  return {
    opening: { role: 'assistant', content: '' },
    steps: splitText(text, perChunk * 4).map((piece) => ({
      delta: { content: piece },
      tokens: approximateTokens(piece),
    })),
  };
}

/** OpenAI's tool-call deltas: id, type and name first, then the arguments in pieces. */
function toolCallSteps(calls: ToolCall[], perChunk: number): { opening: ChunkDelta; steps: StreamStep[] } {
  const steps: StreamStep[] = [];
  let opening: ChunkDelta | undefined;
  calls.forEach((call, index) => {
    const header = {
      index,
      id: call.id,
      type: 'function' as const,
      function: { name: call.function.name, arguments: '' },
    };
    if (opening === undefined) opening = { role: 'assistant', content: null, tool_calls: [header] };
    else steps.push({ delta: { tool_calls: [header] }, tokens: approximateTokens(call.function.name) });
    for (const piece of splitText(call.function.arguments, perChunk * 4)) {
      steps.push({
        delta: { tool_calls: [{ index, function: { arguments: piece } }] },
        tokens: approximateTokens(piece),
      });
    }
  });
  return { opening: opening ?? { role: 'assistant', content: null }, steps };
}

function activeOutage(
  outages: SimulationOptions['outages'],
  elapsedSeconds: number,
): SimulationOptions['outages'][number]['mode'] | undefined {
  for (const outage of outages) {
    if (elapsedSeconds < outage.start) continue;
    const since = outage.every
      ? (elapsedSeconds - outage.start) % outage.every
      : elapsedSeconds - outage.start;
    if (since < outage.duration) return outage.mode;
  }
  return undefined;
}

/** Lognormal sample with the given median (Box-Muller on the seeded source). */
function lognormal(random: RandomSource, median: number, sigma: number): number {
  if (sigma === 0 || median === 0) return median;
  const u1 = Math.max(random(), 1e-12);
  const u2 = random();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return median * Math.exp(sigma * normal);
}

function rethrowCancel(signal: CancelSignal, context: { provider: string; model: string }) {
  return (error: unknown): never => {
    if (signal.aborted && signal.reason === abortReasons.attemptTimeout) {
      throw new UpstreamError('timeout', `${context.model} did not finish within its total timeout`, {
        ...context,
        cause: error,
      });
    }
    if (signal.aborted) {
      throw new UpstreamError('cancelled', `request to ${context.model} was cancelled`, {
        ...context,
        cause: error,
      });
    }
    throw error;
  };
}

function hashName(name: string): number {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return hash >>> 0;
}
