/** Shared pieces of the observability tests: configs, a Prometheus text parser, polling. */
import { type GatewayConfig, normalizeConfig } from '../../src/config/load.ts';
import type { RawConfig } from '../../src/config/schema.ts';

type RawModel = RawConfig['models'][string];

/** A fast simulated model: answers in a few ms, never fails on its own. */
export function fastModel(overrides: Partial<RawModel> = {}): RawModel {
  return {
    provider: 'simulated',
    strengths: ['simple_qa'],
    input_cost_per_1k: 0.001,
    output_cost_per_1k: 0.002,
    capabilities: ['json', 'streaming', 'tools'],
    simulate: { ttft_ms: 5, ttft_sigma: 0, tokens_per_second: 5000, output_tokens: { min: 5, max: 12 } },
    ...overrides,
  } as RawModel;
}

export function testConfig(raw: Partial<RawConfig> & { models: RawConfig['models'] }): GatewayConfig {
  return normalizeConfig({
    ...raw,
    server: { host: '127.0.0.1', port: 0, drain_timeout: 2, ...raw.server },
    routing: { seed: 7, ...raw.routing },
    resilience: { backoff_base: 0.005, backoff_max: 0.01, ...raw.resilience },
    observability: {
      log_level: 'silent',
      ...raw.observability,
      request_log: { path: ':memory:', ...raw.observability?.request_log },
    },
  });
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export async function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// ---- Prometheus text exposition format (version 0.0.4) -----------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string | undefined;
  help: string | undefined;
  samples: Sample[];
}

/**
 * Parse the text format: `# HELP`, `# TYPE`, and `name{label="value",...} value [timestamp]`
 * lines, with the format's escapes in label values (\\, \", \n). Throws on a malformed line.
 */
export function parsePrometheus(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let entry = families.get(name);
    if (!entry) {
      entry = { name, type: undefined, help: undefined, samples: [] };
      families.set(name, entry);
    }
    return entry;
  };
  const familyOf = (sampleName: string): MetricFamily => {
    for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
      if (sampleName.endsWith(suffix)) {
        const base = sampleName.slice(0, -suffix.length);
        const known = families.get(base);
        if (known && (known.type === 'histogram' || known.type === 'summary' || suffix === '_total'))
          return known;
      }
    }
    return family(sampleName);
  };
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (!match) continue; // other comments are allowed
      const entry = family(match[2]!);
      if (match[1] === 'TYPE') entry.type = match[3];
      else entry.help = match[3]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      continue;
    }
    const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!nameMatch) throw new Error(`line ${index + 1}: no metric name: ${line}`);
    const name = nameMatch[1]!;
    let position = name.length;
    const labels: Record<string, string> = {};
    if (line[position] === '{') {
      position++;
      for (;;) {
        while (line[position] === ' ') position++;
        if (line[position] === '}') {
          position++;
          break;
        }
        const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(position));
        if (!labelMatch) throw new Error(`line ${index + 1}: bad label at ${position}: ${line}`);
        position += labelMatch[0].length;
        let value = '';
        for (;;) {
          const char = line[position];
          if (char === undefined) throw new Error(`line ${index + 1}: unterminated label value: ${line}`);
          position++;
          if (char === '"') break;
          if (char === '\\') {
            const escaped = line[position++];
            value += escaped === 'n' ? '\n' : escaped;
          } else {
            value += char;
          }
        }
        labels[labelMatch[1]!] = value;
        if (line[position] === ',') position++;
      }
    }
    const rest = line.slice(position).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2 || rest[0] === '')
      throw new Error(`line ${index + 1}: bad value: ${line}`);
    const raw = rest[0]!;
    // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes "Nan").
    const isNaNText = /^nan$/i.test(raw);
    const value =
      raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : isNaNText ? Number.NaN : Number(raw);
    if (!isNaNText && Number.isNaN(value))
      throw new Error(`line ${index + 1}: value is not a number: ${line}`);
    familyOf(name).samples.push({ name, labels, value });
  }
  return families;
}

/** The one sample with exactly these label values (other labels ignored); undefined if none. */
export function sample(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const entry of families.values()) {
    for (const s of entry.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => s.labels[key] === value)) return s.value;
    }
  }
  return undefined;
}

/** All samples of one name. */
export function samples(families: Map<string, MetricFamily>, name: string): Sample[] {
  const out: Sample[] = [];
  for (const entry of families.values()) for (const s of entry.samples) if (s.name === name) out.push(s);
  return out;
}

/** Sum of the samples of one name whose labels include these values. */
export function sumOf(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const s of samples(families, name)) {
    if (Object.entries(labels).every(([key, value]) => s.labels[key] === value)) total += s.value;
  }
  return total;
}
