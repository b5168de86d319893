/**
 * An in-process model: latency from a lognormal distribution, errors, 429s with Retry-After,
 * hangs, broken streams and scheduled outages, all from config and all on the injected clock,
 * deterministic for a seed. The demo, the tests and the simulator use it.
 */
import { abortReasons, UpstreamError } from '../../errors.ts';
import { type RandomSource, seededRandom } from '../../lib/random.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../types/openai.ts';
import type { CallOptions, ModelClient, ProviderModule, UpstreamMeta } from '../types.ts';
import { type SimulationOptions, simulationSchema } from './options.ts';
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

const okMeta: UpstreamMeta = { status: 200, rateLimit: {} };

export const simulatedProvider: ProviderModule = {
  name: 'simulated',
  create(spec, deps): SimulatedClient {
    const options: SimulationOptions = spec.simulate ?? simulationSchema.parse({});
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
    const awaitFirstByte = async (attempt: ReturnType<typeof plan>, signal: AbortSignal): Promise<void> => {
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
        await awaitFirstByte(attempt, callOptions.signal);
        const words = replyWords(random, spec.name, attempt.outputTokens);
        // The whole answer arrives at once, after generating every token.
        const generationMs = (attempt.outputTokens / options.tokens_per_second) * 1000;
        await deps.clock
          .sleep(generationMs, callOptions.signal)
          .catch(rethrowCancel(callOptions.signal, context));
        const promptTokens = approximateTokens(promptText(request));
        const completion: ChatCompletion = {
          id: deps.newId('chatcmpl'),
          object: 'chat.completion',
          created: deps.nowSeconds(),
          model: spec.name,
          choices: [
            { index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' },
          ],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: attempt.outputTokens,
            total_tokens: promptTokens + attempt.outputTokens,
          },
        };
        return { completion, meta: okMeta };
      },

      async stream(request, callOptions) {
        const attempt = plan(request, callOptions);
        await awaitFirstByte(attempt, callOptions.signal);
        return {
          meta: okMeta,
          chunks: streamChunks(request, callOptions, attempt.outputTokens, attempt.breaksStream),
        };
      },
    };

    async function* streamChunks(
      request: ChatRequest,
      callOptions: CallOptions,
      outputTokens: number,
      breaks: boolean,
    ): AsyncGenerator<ChatCompletionChunk> {
      const id = deps.newId('chatcmpl');
      const created = deps.nowSeconds();
      const chunk = (
        delta: ChatCompletionChunk['choices'][number]['delta'],
        finish: 'stop' | null = null,
      ) => ({
        id,
        object: 'chat.completion.chunk' as const,
        created,
        model: spec.name,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      const words = replyWords(random, spec.name, outputTokens);
      const per = options.chunk_tokens;
      const perChunkMs = (1000 * per) / options.tokens_per_second;
      const breakAt = breaks ? Math.max(1, Math.floor(words.length / 2)) : -1;
      yield chunk({ role: 'assistant', content: '' });
      for (let i = 0; i < words.length; i += per) {
        if (breakAt >= i && breakAt < i + per && i > 0)
          throw fail('network', 'stream broke mid-answer (simulated)');
        if (i > 0) {
          await deps.clock
            .sleep(perChunkMs, callOptions.signal)
            .catch(rethrowCancel(callOptions.signal, context));
        }
        yield chunk({ content: words.slice(i, i + per).join('') });
      }
      yield chunk({}, 'stop');
      const promptTokens = approximateTokens(promptText(request));
      yield {
        id,
        object: 'chat.completion.chunk',
        created,
        model: spec.name,
        choices: [],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: outputTokens,
          total_tokens: promptTokens + outputTokens,
        },
      };
    }

    return client;
  },
};

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

function rethrowCancel(signal: AbortSignal, context: { provider: string; model: string }) {
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
