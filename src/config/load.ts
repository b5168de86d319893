/**
 * Reading a config: YAML or JSON text -> ${VAR} expansion -> zod validation -> cross-field
 * checks -> a normalised `GatewayConfig`. Every problem is reported as `path: message`, all at
 * once, and values are never echoed (they may be secrets).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type OtelSettings, resolveOtelSettings } from '../observability/otel-settings.ts';
import { providers } from '../providers/registry.ts';
import { loadQualityModel, type QualityModel } from '../routing/learned/index.ts';
import type { ModelSpec, Strength } from './model-spec.ts';
import {
  type Capability,
  configSchema,
  type ParsedConfig,
  type ParsedModel,
  type TaskType,
} from './schema.ts';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid config:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface GatewayConfig {
  server: ParsedConfig['server'];
  models: ModelSpec[];
  routing: ParsedConfig['routing'];
  resilience: ParsedConfig['resilience'];
  /** `otel` resolved with the OTEL_* variables: present only when tracing is on. */
  observability: Omit<ParsedConfig['observability'], 'otel'> & { otel?: OtelSettings };
  state: ParsedConfig['state'];
  responses: ParsedConfig['responses'];
  cache: ParsedConfig['cache'];
  /** `routing.learned` with its router file loaded: present only when configured. */
  learned?: LearnedRouting;
}

export interface LearnedRouting {
  model: QualityModel;
  /** Configured model name -> the index of its label in `model.labels`. */
  labels: ReadonlyMap<string, number>;
  qualityFloor: number;
  /** Tasks it predicts for; absent: every task. */
  tasks?: ReadonlySet<TaskType>;
  /** The router file it was read from. */
  source: string;
}

/** Where a bare router name (`router: mmlu-mixtral-gpt4`) is looked up: the package's `routers/`. */
const packagedRouters = fileURLToPath(new URL('../../routers/', import.meta.url));

/**
 * Read and validate a config file. Throws ConfigError with every problem found. Relative paths
 * in it (the learned router) are relative to its folder.
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${path}: cannot read file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  return parseConfigText(text, env, dirname(resolve(path)));
}

/** Read a YAML/JSON file and validate it with `schema`; problems as a ConfigError (`path: message`). */
export function readValidatedFile<T extends z.ZodType>(path: string, schema: T): z.output<T> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${path}: ${(error as Error).message.split('\n')[0]}`]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues));
  return parsed.data;
}

export function parseConfigText(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir?: string,
): GatewayConfig {
  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    raw = parseYaml(text);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError([`(file): not valid YAML or JSON: ${message}`]);
  }
  return normalizeConfig(raw, env, baseDir);
}

/**
 * Validate an already-parsed config object (from a file or from library callers). `baseDir`:
 * what relative paths are relative to (default: the working directory).
 */
export function normalizeConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
  baseDir?: string,
): GatewayConfig {
  const problems: string[] = [];
  const expanded = expandEnv(raw, [], env, problems);
  const result = configSchema.safeParse(expanded ?? {});
  if (!result.success) problems.push(...formatIssues(result.error.issues));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  const parsed = result.data;
  problems.push(...crossChecks(parsed));
  const parsedOptions = parseProviderOptions(parsed, problems);
  const otel = resolveOtelSettings(parsed.observability.otel, env, problems); // tracing (issue 16)
  const learned = loadLearnedRouting(parsed, baseDir ?? process.cwd(), problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config: GatewayConfig = {
    server: parsed.server,
    models: Object.entries(parsed.models)
      .filter(([, model]) => model.enabled)
      .map(([name, model]) => toModelSpec(name, model, parsedOptions.get(name))),
    routing: parsed.routing,
    resilience: parsed.resilience,
    observability: { ...parsed.observability, otel },
    state: parsed.state,
    responses: parsed.responses,
    cache: parsed.cache,
  };
  if (learned) config.learned = learned;
  return config;
}

/** `routing.learned`: the router file read and checked against the configured models. */
function loadLearnedRouting(
  config: ParsedConfig,
  baseDir: string,
  problems: string[],
): LearnedRouting | undefined {
  const settings = config.routing.learned;
  if (!settings) return undefined;
  const name = settings.router;
  const bare = !name.includes('/') && !name.includes('\\') && !name.endsWith('.json');
  const source = bare
    ? resolve(packagedRouters, `${name}.json`)
    : isAbsolute(name)
      ? name
      : resolve(baseDir, name);
  let model: QualityModel;
  try {
    model = loadQualityModel(readFileSync(source, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(
      code
        ? `routing.learned.router: cannot read ${source} (${code})`
        : `routing.learned.router: ${source}: ${(error as Error).message.split('\n')[0]}`,
    );
    return undefined;
  }
  const labels = new Map<string, number>();
  for (const [modelName, label] of Object.entries(settings.labels)) {
    const index = model.labels.indexOf(label);
    if (!(modelName in config.models)) {
      problems.push(`routing.learned.labels.${modelName}: unknown model "${modelName}"`);
    } else if (index < 0) {
      problems.push(
        `routing.learned.labels.${modelName}: "${label}" is not a label of the router (its labels: ${model.labels.join(', ')})`,
      );
    } else {
      labels.set(modelName, index);
    }
  }
  const learned: LearnedRouting = { model, labels, qualityFloor: settings.quality_floor, source };
  if (settings.tasks) learned.tasks = new Set(settings.tasks);
  return learned;
}

const envPattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replace ${VAR} (and ${VAR:-default}) in every string. A missing variable is a problem. */
function expandEnv(
  value: unknown,
  path: (string | number)[],
  env: NodeJS.ProcessEnv,
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(envPattern, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value))
    return value.map((item, index) => expandEnv(item, [...path, index], env, problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = expandEnv(item, [...path, key], env, problems);
    return out;
  }
  return value;
}

export function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown field`);
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      lines.push(...formatIssues(issue.errors.flat()));
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`);
    }
  }
  return lines;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

function crossChecks(config: ParsedConfig): string[] {
  const problems: string[] = [];
  const names = new Set(Object.keys(config.models));
  for (const [name, model] of Object.entries(config.models)) {
    model.fallbacks.forEach((fallback, index) => {
      if (!names.has(fallback))
        problems.push(`models.${name}.fallbacks.${index}: unknown model "${fallback}"`);
      if (fallback === name)
        problems.push(`models.${name}.fallbacks.${index}: a model cannot fall back to itself`);
    });
    const options = providers[model.provider]?.options;
    if (model.simulate && options?.field !== 'simulate') {
      problems.push(`models.${name}.simulate: only simulated models take simulation settings`);
    }
    if (
      model.cost_per_1k === undefined &&
      (model.input_cost_per_1k === undefined) !== (model.output_cost_per_1k === undefined)
    ) {
      problems.push(`models.${name}: set both input_cost_per_1k and output_cost_per_1k, or cost_per_1k`);
    }
    if (name === 'auto' || name.startsWith('auto:'))
      problems.push(
        `models.${name}: "auto" and "auto:..." are reserved names (they ask the router to choose)`,
      );
  }
  config.routing.rules.forEach((rule, index) => {
    for (const [field, list] of [
      ['models', rule.models ?? (rule.model ? [rule.model] : [])],
      ['exclude', rule.exclude ?? []],
    ] as const) {
      for (const model of list) {
        if (!names.has(model))
          problems.push(
            `routing.rules.${index}.${field === 'models' && rule.model ? 'model' : field}: unknown model "${model}"`,
          );
      }
    }
    if (rule.match.regex !== undefined) {
      try {
        new RegExp(rule.match.regex, rule.match.regex_flags);
      } catch (error) {
        problems.push(`routing.rules.${index}.match.regex: ${(error as Error).message}`);
      }
    }
  });
  return problems;
}

/** Each model's provider-specific settings, validated by its provider's schema (paths as `models.x.simulate.y`). */
function parseProviderOptions(config: ParsedConfig, problems: string[]): Map<string, unknown> {
  const parsed = new Map<string, unknown>();
  for (const [name, model] of Object.entries(config.models)) {
    const options = providers[model.provider]?.options;
    if (!options) continue;
    const result = options.schema.safeParse(model[options.field] ?? {});
    if (result.success) parsed.set(name, result.data);
    else {
      const prefix = ['models', name, options.field];
      problems.push(
        ...formatIssues(result.error.issues.map((issue) => ({ ...issue, path: [...prefix, ...issue.path] }))),
      );
    }
  }
  return parsed;
}

const defaultQuality = 5;
/** Output tokens assumed (and sent to Anthropic, which requires a value) when neither client nor config sets any. */
const defaultOutputTokens = 4096;

function toModelSpec(name: string, model: ParsedModel, providerOptions: unknown): ModelSpec {
  const timeoutMs = model.timeout * 1000;
  const seconds = (value: number | undefined, fallback: number) =>
    value === undefined ? fallback : value * 1000;
  const given = model.capabilities;
  const capabilities = new Set<Capability>(given ?? providers[model.provider]?.defaultCapabilities ?? []);
  // Every model chats unless its capabilities say only `embeddings`.
  if (!given || given.some((capability) => capability !== 'embeddings')) capabilities.add('chat');
  if (!model.capabilities && (model.strengths.includes('vision') || model.strengths.includes('multimodal'))) {
    capabilities.add('vision');
  }
  const blended = model.cost_per_1k;
  const inputCostPer1k = model.input_cost_per_1k ?? blended ?? 0;
  const cachePricing = providers[model.provider]?.cachePricing;
  return {
    name,
    provider: model.provider,
    baseUrl: model.base_url,
    apiKey: model.api_key || undefined,
    upstreamModel: model.model ?? name,
    strengths: model.strengths as Strength[],
    inputCostPer1k,
    outputCostPer1k: model.output_cost_per_1k ?? blended ?? 0,
    cacheReadCostPer1k: model.cache_read_cost_per_1k ?? inputCostPer1k * (cachePricing?.read ?? 1),
    cacheWriteCostPer1k: model.cache_write_cost_per_1k ?? inputCostPer1k * (cachePricing?.write ?? 1),
    weight: model.weight,
    // Weight is a load weight only; without a tier every model counts as average quality.
    quality: model.quality ?? defaultQuality,
    contextWindow: model.max_tokens,
    maxOutputTokens: model.max_output_tokens ?? defaultOutputTokens,
    configuredOutputTokens: model.max_output_tokens,
    capabilities,
    fallbacks: model.fallbacks,
    timeouts: {
      connectMs: seconds(model.timeouts.connect, Math.min(timeoutMs, 5000)),
      firstTokenMs: seconds(model.timeouts.first_token, timeoutMs),
      idleMs: seconds(model.timeouts.idle, Math.min(timeoutMs, 30_000)),
      totalMs: seconds(model.timeouts.total, Math.max(timeoutMs, 120_000)),
    },
    breaker: {
      failureThreshold: model.circuit_breaker.failure_threshold,
      recoveryTimeoutMs: model.circuit_breaker.recovery_timeout * 1000,
      maxRecoveryTimeoutMs: model.circuit_breaker.max_recovery_timeout * 1000,
      failureRate: model.circuit_breaker.failure_rate,
      minRequests: model.circuit_breaker.min_requests,
      windowMs: model.circuit_breaker.window * 1000,
      halfOpenMax: model.circuit_breaker.half_open_max,
    },
    rpm: model.rpm,
    tpm: model.tpm,
    maxConcurrency: model.max_concurrency,
    maxQueue: model.max_queue,
    headers: model.headers,
    healthCheck: {
      enabled: model.health_check.enabled ?? model.provider !== 'simulated',
      intervalMs: model.health_check.interval * 1000,
    },
    providerOptions,
  };
}
