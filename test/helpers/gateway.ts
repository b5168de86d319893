import OpenAI from 'openai';
import { normalizeConfig } from '../../src/config/load.ts';
import type { RawConfig } from '../../src/config/schema.ts';
import { type StartedGateway, startServer } from '../../src/start.ts';

/** A fast simulated model: answers in a few ms so tests stay quick. */
export function fastSimulated(overrides: Record<string, unknown> = {}): RawConfig['models'][string] {
  return {
    provider: 'simulated',
    strengths: ['simple_qa', 'coding', 'creative_writing', 'complex_reasoning'],
    cost_per_1k: 0.001,
    timeout: 5,
    capabilities: ['tools', 'json', 'streaming', 'prefill', 'vision'],
    simulate: { ttft_ms: 2, ttft_sigma: 0, tokens_per_second: 5000, output_tokens: { min: 5, max: 8 } },
    ...overrides,
  } as RawConfig['models'][string];
}

/** Start a real gateway on a loopback port with quiet logs and an in-memory request log. */
export async function startTestGateway(
  config: Partial<RawConfig> & { models: RawConfig['models'] },
  seed = 1,
): Promise<StartedGateway & { client: OpenAI }> {
  const normalized = normalizeConfig(
    {
      ...config,
      server: { host: '127.0.0.1', port: 0, ...config.server },
      observability: {
        log_level: 'silent',
        ...config.observability,
        request_log: { path: ':memory:', ...config.observability?.request_log },
      },
    },
    {},
  );
  const started = await startServer(normalized, { seed });
  const client = new OpenAI({
    baseURL: `${started.url}/v1`,
    apiKey: config.server?.api_keys?.[0] ?? 'unused',
    maxRetries: 0,
  });
  return { ...started, client };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}
