/**
 * The configuration schema. Field names follow the design brief's MODEL_CONFIG so its table
 * can be pasted as YAML. Objects are strict: a typo is an error, never silently ignored.
 * Durations in the file are seconds (as in the brief); the normalised config uses milliseconds.
 */
import { z } from 'zod';
import { isHttpUrl } from '../observability/otel-settings.ts';
import { providerNames } from '../providers/registry.ts';

export const strengthTags = [
  'complex_reasoning',
  'coding',
  'creative_writing',
  'long_context',
  'analysis',
  'document_qa',
  'multimodal',
  'vision',
  'realtime',
  'simple_qa',
  'classification',
] as const;

export const taskTypes = ['simple_qa', 'coding', 'long_context', 'multimodal', 'creative_writing'] as const;
export type TaskType = (typeof taskTypes)[number];

export const priorities = ['cost', 'speed', 'quality', 'balanced'] as const;
export type Priority = (typeof priorities)[number];

export const capabilityNames = [
  'chat',
  'vision',
  'tools',
  'json',
  'prefill',
  'streaming',
  'embeddings',
] as const;
export type Capability = (typeof capabilityNames)[number];

const seconds = z
  .number({ error: 'expected a positive number' })
  .positive({ error: 'expected a positive number' });
const positiveInt = z.number().int().positive();

const breakerSchema = z.strictObject({
  /** Consecutive failures that open the breaker. */
  failure_threshold: positiveInt.default(5),
  /** Seconds the breaker stays OPEN before letting a trial through (grows on repeated failure). */
  recovery_timeout: seconds.default(30),
  /** Open when the failure rate over the rolling window passes this (0-1)... */
  failure_rate: z.number().min(0).max(1).default(0.5),
  /** ...with at least this many requests in the window. */
  min_requests: positiveInt.default(20),
  /** Rolling window for the failure rate, seconds. */
  window: seconds.default(30),
  /** Trial requests allowed through while HALF_OPEN. */
  half_open_max: positiveInt.default(1),
  /** Cap for the growing OPEN time, seconds. */
  max_recovery_timeout: seconds.default(300),
});

const timeoutsSchema = z.strictObject({
  connect: seconds.optional(),
  /** First byte (response headers) for non-streaming, first token for streaming. */
  first_token: seconds.optional(),
  /** Longest gap between two stream chunks. */
  idle: seconds.optional(),
  /** Whole attempt; defaults to the model's `timeout`. */
  total: seconds.optional(),
});

const costShape = {
  cost_per_1k: z.number().nonnegative().optional(),
  input_cost_per_1k: z.number().nonnegative().optional(),
  output_cost_per_1k: z.number().nonnegative().optional(),
  /** USD per 1k input tokens read from the provider's prompt cache (default: the provider's multiplier of the input price). */
  cache_read_cost_per_1k: z.number().nonnegative().optional(),
  /** USD per 1k input tokens written to the prompt cache (Anthropic; default 1.25x the input price). */
  cache_write_cost_per_1k: z.number().nonnegative().optional(),
};

export const modelSchema = z.strictObject({
  provider: z.enum(providerNames as unknown as [string, ...string[]], {
    error: `expected one of: ${providerNames.join(', ')}`,
  }),
  base_url: z.url().optional(),
  api_key: z.string().optional(),
  /** Upstream model id; defaults to the config key. */
  model: z.string().min(1).optional(),
  strengths: z.array(z.enum(strengthTags)).default([]),
  ...costShape,
  timeout: seconds.default(30),
  timeouts: timeoutsSchema.default({}),
  weight: z.number().nonnegative().default(100),
  /** Context window in tokens. */
  max_tokens: positiveInt.default(128_000),
  /** Output tokens to request when the client sets none (Anthropic requires a value). */
  max_output_tokens: positiveInt.optional(),
  /** Quality tier 0-10 for the `quality` priority; default 5 (neutral: the load weight never counts as quality). */
  quality: z.number().min(0).max(10).optional(),
  capabilities: z.array(z.enum(capabilityNames)).optional(),
  fallbacks: z.array(z.string()).default([]),
  circuit_breaker: breakerSchema.default(() => breakerSchema.parse({})),
  /** Requests and tokens per minute this deployment may use. */
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  /** Concurrent requests allowed (bulkhead) and how many may queue beyond that. */
  max_concurrency: positiveInt.optional(),
  max_queue: z.number().int().nonnegative().default(0),
  /** Extra headers sent upstream (e.g. anthropic-version, OpenAI-Organization). */
  headers: z.record(z.string(), z.string()).default({}),
  /** Active health probes. Off by default for simulated models. */
  health_check: z
    .strictObject({ enabled: z.boolean().optional(), interval: seconds.default(30) })
    .default({ interval: 30 }),
  /** Behaviour of a `simulated` model (validated by that provider's own options schema). */
  simulate: z.record(z.string(), z.unknown()).optional(),
  enabled: z.boolean().default(true),
});

const ruleSchema = z
  .strictObject({
    name: z.string().optional(),
    match: z.strictObject({
      /** JavaScript regular expression tested on the user text. */
      regex: z.string().optional(),
      regex_flags: z.string().default('i'),
      /** Any of these words (case-insensitive) in the user text. */
      keywords: z.array(z.string()).optional(),
      /** Every key must equal the request's `metadata` value. */
      metadata: z.record(z.string(), z.string()).optional(),
      /** Every header must equal (case-insensitive name). */
      headers: z.record(z.string(), z.string()).optional(),
    }),
    task: z.enum(taskTypes).optional(),
    model: z.string().optional(),
    models: z.array(z.string()).optional(),
    exclude: z.array(z.string()).optional(),
    priority: z.enum(priorities).optional(),
  })
  .refine((rule) => Object.keys(rule.match).some((key) => key !== 'regex_flags'), {
    message: 'a rule needs at least one of regex, keywords, metadata, headers',
    path: ['match'],
  });

export const routingSchema = z.strictObject({
  default_priority: z.enum(priorities).default('balanced'),
  /** How many next-best models follow the primary in the fallback chain. */
  fallback_count: z.number().int().nonnegative().default(2),
  /** Weights of cost, speed and quality in the `balanced` priority. */
  balanced_weights: z
    .strictObject({
      cost: z.number().nonnegative().default(1),
      speed: z.number().nonnegative().default(1),
      quality: z.number().nonnegative().default(1),
    })
    .default({ cost: 1, speed: 1, quality: 1 }),
  /** Candidates scoring within this share of the best are load-balanced by weight. */
  near_top: z.number().min(0).max(1).default(0.1),
  /** Health multiplier for a model that is up but degraded (the brief's 0.3). */
  unhealthy_factor: z.number().min(0).max(1).default(0.3),
  analysis: z
    .strictObject({
      long_context_tokens: positiveInt.default(8000),
      simple_qa_max_tokens: positiveInt.default(500),
      /** Prompts longer than this many characters are token-counted by sampling. */
      exact_count_chars: positiveInt.default(8000),
      /**
       * `auto`: estimate from character classes, and count exactly (o200k) only a prompt whose
       * estimate is close to a task threshold or a context window; `exact`: count every prompt.
       */
      token_count: z.enum(['auto', 'exact']).default('auto'),
      coding_keywords: z.array(z.string()).optional(),
    })
    .default(() => ({
      long_context_tokens: 8000,
      simple_qa_max_tokens: 500,
      exact_count_chars: 8000,
      token_count: 'auto' as const,
    })),
  rules: z.array(ruleSchema).default([]),
  seed: z.number().int().optional(),
  /** The learned router (issue 15): predicted quality per model and prompt. Off when absent. */
  learned: z
    .strictObject({
      /** A router file (`switchyard train-router`), relative to the config file; a bare name is a packaged router. */
      router: z.string().min(1),
      /** Configured model name -> the router label whose predictions it gets. */
      labels: z.record(z.string(), z.string().min(1)),
      /**
       * A model predicted more than this below the best candidate ranks after every model within
       * it: `auto:cost` is then the cheapest model that loses at most this much P(good answer).
       */
      quality_floor: z.number().min(0).max(1).default(0.1),
      /** Tasks the router predicts for (default: all). */
      tasks: z.array(z.enum(taskTypes)).optional(),
    })
    .optional(),
  /** Share of `auto` requests whose primary is a Thompson draw over feedback (`POST /v1/feedback`). */
  exploration: z.number().min(0).max(1).default(0),
  /** How long after its answer a request can still be scored on any instance, seconds. */
  feedback_window: seconds.default(3600),
});

export const resilienceSchema = z.strictObject({
  /** Attempts on one model before moving on (the brief's 2). */
  max_attempts_per_model: positiveInt.default(2),
  /** Upper bound on upstream attempts for one request, across all models. */
  max_attempts_total: positiveInt.default(5),
  /** Backoff base and cap, seconds (full jitter). */
  backoff_base: seconds.default(0.1),
  backoff_max: seconds.default(2),
  /** The whole request, all attempts included, seconds. */
  request_deadline: seconds.default(60),
  /** Longest Retry-After the gateway will wait on the same model, seconds; longer moves on. */
  max_retry_after: seconds.default(2),
  /** Retry a silent upstream (no headers by first_token) on the same model. */
  retry_silent: z.boolean().default(false),
  /** Move to another model on a content-policy refusal. */
  fallback_on_content_policy: z.boolean().default(false),
  hedging: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Seconds before hedging; defaults to the model's observed p95 time to first byte. */
      delay: seconds.optional(),
      /** Extra upstream requests allowed, as a share of all requests. */
      budget: z.number().min(0).max(1).default(0.05),
      /** Without `delay`: hedge when the primary is slower than this quantile of its recent times to first token. */
      quantile: z.number().min(0.5).max(0.999).default(0.97),
    })
    .default({ enabled: false, budget: 0.05, quantile: 0.97 }),
});

export const observabilitySchema = z.strictObject({
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  request_log: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** SQLite file; `:memory:` keeps it in memory. */
      path: z.string().default('.switchyard/requests.db'),
      retention_days: z.number().positive().default(7),
      log_content: z.boolean().default(false),
    })
    .default({ enabled: true, path: '.switchyard/requests.db', retention_days: 7, log_content: false }),
  // OpenTelemetry traces (issue 16). The OTEL_EXPORTER_OTLP_* variables fill what is not set here;
  // with no endpoint in either, tracing is off (resolved in load.ts by observability/otel-settings.ts).
  otel: z
    .strictObject({
      /** OTLP/HTTP collector URL: a base (`/v1/traces` is appended) or the full traces URL. */
      endpoint: z.string().refine(isHttpUrl, { message: 'expected an http(s) URL' }).optional(),
      /** Sent with every export (e.g. an API key): secrets, scrubbed like the others. */
      headers: z.record(z.string(), z.string()).optional(),
      /** The resource's `service.name`; default `switchyard` (or OTEL_SERVICE_NAME). */
      service_name: z.string().min(1).optional(),
      /** Share of new traces recorded, 0..1; default 1 (or OTEL_TRACES_SAMPLER_ARG). */
      sampling_ratio: z.number().min(0).max(1).optional(),
    })
    .optional(),
});

export const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(4000),
  /** Request body limit in bytes (images are big). */
  body_limit: positiveInt.default(20 * 1024 * 1024),
  /** Client keys. When set, requests need `Authorization: Bearer <key>`. */
  api_keys: z.array(z.string().min(1)).default([]),
  /** Admin endpoints and dashboard key; defaults to requiring one of api_keys when set. */
  admin_key: z.string().optional(),
  /**
   * Server secret for the virtual keys' HMAC-SHA-256 hashes (a secret: scrubbed like the keys).
   * Absent: generated once, into a 0600 file beside the request log (one instance) or into the
   * shared store (a fleet), so every instance hashes alike. Changing it invalidates every key.
   */
  key_secret: z.string().min(32, { message: 'expected at least 32 characters' }).optional(),
  /** Seconds to wait for in-flight requests on shutdown. */
  drain_timeout: seconds.default(30),
  /** Seconds a client may take to send its request headers (a slowloris is cut off). */
  headers_timeout: seconds.default(30),
  /** Seconds a client may take to send its whole request, body included. */
  request_timeout: seconds.default(60),
  /** Seconds a client may leave a response unread before it is cut off (a paused stream reader). */
  write_timeout: seconds.default(30),
  /** Open connections at most (beyond it new ones are refused). */
  max_connections: positiveInt.default(4096),
  /** Open connections at most from one client address; 0: no per-address limit. */
  max_connections_per_ip: z.number().int().nonnegative().default(256),
  /** Listen on a non-loopback address with no client keys and no admin key (anyone who can reach it may use it). */
  allow_unauthenticated: z.boolean().default(false),
  /** Host names accepted besides localhost when bound to loopback without keys (DNS-rebinding guard). */
  allowed_hosts: z.array(z.string().min(1)).default([]),
});

export const stateSchema = z.strictObject({
  /** Shared state for a fleet of instances; absent: state is in this process's memory. */
  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, { message: 'expected a redis:// or rediss:// URL' }),
      /** Prepended to every key and channel, so several fleets can share one Redis. */
      prefix: z.string().default('switchyard:'),
      /** A Redis call not answered in this many seconds counts as Redis down (the request goes on, locally). */
      command_timeout: seconds.default(0.25),
      /**
       * Serve most admissions from units taken ahead in Redis (admission leases) while a limit is
       * far from full; false: every admission is one script in Redis.
       */
      admission_leases: z.boolean().default(true),
    })
    .optional(),
});

/** The Responses API front door (`POST /v1/responses`). */
export const responsesSchema = z.strictObject({
  /** Days a `store: true` response stays retrievable (and continuable with `previous_response_id`). */
  store_retention_days: z.number().positive().default(30),
  /** Largest stored response (its conversation included), bytes of JSON; a larger one is not kept. */
  store_max_bytes: positiveInt.default(8 * 1024 * 1024),
  /** SQLite file; default: `responses.db` beside the request log (`:memory:` when the log is in memory). */
  store_path: z.string().optional(),
});

export const cacheSchema = z.strictObject({
  /** Answer repeated deterministic requests from the cache (off by default). */
  enabled: z.boolean().default(false),
  /** Seconds an answer stays. */
  ttl: seconds.default(3600),
  /** Bounds of the in-memory cache (the oldest go first); with state.redis only ttl bounds it. */
  max_entries: positiveInt.default(10_000),
  max_bytes: positiveInt.default(64 * 1024 * 1024),
  /** Answers larger than this are not stored. */
  max_entry_bytes: positiveInt.default(1024 * 1024),
  /** Serve one client key's cached answer to another (off: each key has its own cache). */
  shared_across_keys: z.boolean().default(false),
});

export const configSchema = z.strictObject({
  server: serverSchema.default(() => serverSchema.parse({})),
  models: z
    .record(z.string().min(1), modelSchema)
    .refine((models) => Object.keys(models).length > 0, { message: 'at least one model is required' }),
  routing: routingSchema.default(() => routingSchema.parse({})),
  resilience: resilienceSchema.default(() => resilienceSchema.parse({})),
  observability: observabilitySchema.default(() => observabilitySchema.parse({})),
  state: stateSchema.default({}),
  cache: cacheSchema.default(() => cacheSchema.parse({})),
  responses: responsesSchema.default(() => responsesSchema.parse({})),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedModel = z.output<typeof modelSchema>;
export type RoutingRuleConfig = z.output<typeof ruleSchema>;
