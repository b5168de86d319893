/**
 * Where traces go, from `observability.otel` and the standard OpenTelemetry variables
 * (`OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_SDK_DISABLED`).
 * The config file wins field by field; the environment fills the rest. No endpoint anywhere:
 * tracing is off. Pure and light: nothing here loads the OpenTelemetry SDK.
 */

/** `observability.otel` as the schema parses it (every field optional: the environment may fill it). */
export interface OtelConfigInput {
  endpoint?: string | undefined;
  headers?: Record<string, string> | undefined;
  service_name?: string | undefined;
  sampling_ratio?: number | undefined;
}

/** Tracing, resolved: present only when it is on. */
export interface OtelSettings {
  /** The full OTLP/HTTP traces URL (…/v1/traces). */
  endpoint: string;
  /** Sent with every export (API keys: secrets). */
  headers: Record<string, string>;
  service_name: string;
  /** Share of new traces recorded, 0..1 (a client's own sampling decision is followed). */
  sampling_ratio: number;
}

export const defaultServiceName = 'switchyard';
const tracesPath = '/v1/traces';

/** An http(s) URL, as `new URL` reads it. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** A collector's base URL gets `/v1/traces` (what OTEL_EXPORTER_OTLP_ENDPOINT means); a traces URL stays. */
export function tracesUrl(base: string): string {
  const url = new URL(base);
  if (url.pathname.endsWith(tracesPath)) return url.toString();
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${tracesPath}`;
  return url.toString();
}

/** `key1=value1,key2=value2` with percent-encoded values (the OTEL_EXPORTER_OTLP_HEADERS format). */
export function parseOtlpHeaders(text: string): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  for (const entry of text.split(',')) {
    if (entry.trim() === '') continue;
    const equals = entry.indexOf('=');
    if (equals <= 0) return undefined;
    const key = entry.slice(0, equals).trim();
    if (key === '') return undefined;
    try {
      headers[key] = decodeURIComponent(entry.slice(equals + 1).trim());
    } catch {
      return undefined;
    }
  }
  return headers;
}

/** The ratio the standard sampler variables ask for, or undefined when they say nothing. */
function envSamplingRatio(env: NodeJS.ProcessEnv, problems: string[]): number | undefined {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return 0;
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') return 1;
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (!arg) return undefined;
  if (sampler !== undefined && sampler !== 'traceidratio' && sampler !== 'parentbased_traceidratio') {
    return undefined;
  }
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    problems.push('OTEL_TRACES_SAMPLER_ARG: expected a number between 0 and 1');
    return undefined;
  }
  return ratio;
}

/** The traces endpoint the environment names, if any (a traces URL is taken as is). */
function envEndpoint(env: NodeJS.ProcessEnv, problems: string[]): string | undefined {
  for (const [name, asIs] of [
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', true],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', false],
  ] as const) {
    const value = env[name]?.trim();
    if (!value) continue;
    if (!isHttpUrl(value)) {
      problems.push(`${name}: expected an http(s) URL`);
      return undefined;
    }
    return asIs ? value : tracesUrl(value);
  }
  return undefined;
}

function envHeaders(env: NodeJS.ProcessEnv, problems: string[]): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'] as const) {
    const value = env[name];
    if (!value) continue;
    const parsed = parseOtlpHeaders(value);
    if (parsed) Object.assign(merged, parsed);
    else problems.push(`${name}: expected key=value pairs separated by commas`);
  }
  return merged;
}

/**
 * Tracing settings, or undefined when tracing is off (no endpoint in the config or the
 * environment, or `OTEL_SDK_DISABLED=true`). Problems are pushed as `NAME: message`, values never echoed.
 */
export function resolveOtelSettings(
  config: OtelConfigInput | undefined,
  env: NodeJS.ProcessEnv,
  problems: string[],
): OtelSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const endpoint = config?.endpoint ? tracesUrl(config.endpoint) : envEndpoint(env, problems);
  const headers = { ...envHeaders(env, problems), ...config?.headers };
  const ratio = config?.sampling_ratio ?? envSamplingRatio(env, problems);
  if (endpoint === undefined) return undefined;
  return {
    endpoint,
    headers,
    service_name: config?.service_name ?? (env.OTEL_SERVICE_NAME?.trim() || defaultServiceName),
    sampling_ratio: ratio ?? 1,
  };
}
