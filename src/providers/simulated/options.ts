import { z } from 'zod';

/** Behaviour of one simulated model. Times in milliseconds unless named otherwise. */
export const simulationSchema = z.strictObject({
  /** Seed for this model's random source (defaults to a hash of the model name). */
  seed: z.number().int().optional(),
  /** Time to first token: lognormal with this median (ms) and log-space sigma. */
  ttft_ms: z.number().nonnegative().default(300),
  ttft_sigma: z.number().nonnegative().default(0.35),
  /** Streaming speed in output tokens per second. */
  tokens_per_second: z.number().positive().default(80),
  /** Tokens per stream chunk (more per chunk = fewer events, e.g. for long simulations). */
  chunk_tokens: z.number().int().positive().default(1),
  /**
   * Length of the answer in tokens (uniform in [min, max]). A request's max_tokens caps it, and
   * a request with max_tokens gets between half and all of it (so a workload sets answer lengths).
   */
  output_tokens: z
    .strictObject({ min: z.number().int().positive(), max: z.number().int().positive() })
    .refine((range) => range.min <= range.max, { message: 'min is above max' })
    .default({ min: 20, max: 120 }),
  /** Share of requests answered with a 500/503. */
  error_rate: z.number().min(0).max(1).default(0),
  /** Share of requests answered with 429 and Retry-After. */
  rate_limit_rate: z.number().min(0).max(1).default(0),
  /** Retry-After sent with simulated 429s, in seconds. */
  retry_after: z.number().nonnegative().default(1),
  /** Share of requests that never answer (a hung upstream). */
  hang_rate: z.number().min(0).max(1).default(0),
  /** Share of streams that break after some content was sent. */
  stream_break_rate: z.number().min(0).max(1).default(0),
  /** Scheduled outages, in seconds since the gateway started; `every` repeats the window. */
  outages: z
    .array(
      z.strictObject({
        start: z.number().nonnegative(),
        duration: z.number().positive(),
        every: z.number().positive().optional(),
        /** What the outage looks like: 503s, connection errors, hangs, or 429s with Retry-After. */
        mode: z.enum(['error', 'refuse', 'hang', 'rate_limit']).default('error'),
      }),
    )
    .default([]),
});

export type SimulationOptions = z.output<typeof simulationSchema>;
