/**
 * The parts of the fleet test: gateway processes (`instance.ts`, one per config file) whose JSON
 * log lines are kept, an OpenAI-style upstream that records when each request arrived, from
 * which instance (each instance sends its own API key) and for which model, and load loops that
 * count what they sent and what came back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { Agent, fetch } from 'undici';
import { type RecordedRequest, sendJson, startFakeUpstream } from '../helpers/fake-upstream.ts';

const root = new URL('../..', import.meta.url).pathname;
const entry = new URL('./instance.ts', import.meta.url).pathname;

/** A pino line from an instance's stdout. */
export interface LogLine {
  level: number;
  time: number;
  msg?: string;
  [field: string]: unknown;
}

export interface Instance {
  readonly name: string;
  readonly url: string;
  readonly logs: LogLine[];
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// Never leave a gateway behind, whatever happens to the test process.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start `switchyard start --config FILE --port 0` and wait for its listening line. */
export function startInstance(name: string, configFile: string): Promise<Instance> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', entry, 'start', '--config', configFile, '--port', '0'],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SWITCHYARD_TEST: '1' } },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  const logs: LogLine[] = [];
  let stderr = '';
  let pending = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance ${name}: no listening line within 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited (${code ?? signal}) before listening; stderr: ${stderr}`));
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const listening = /^switchyard listening on (http:\/\/\S+)$/.exec(line);
        if (listening) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({ name, url: listening[1]!, logs, stop: () => stopProcess(child) });
        } else if (line.startsWith('{')) {
          try {
            logs.push(JSON.parse(line) as LogLine);
          } catch {
            // not a log line
          }
        }
      }
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** One request the upstream received. */
export interface Arrival {
  at: number;
  model: string;
  /** The instance that sent it (from its API key `sk-fleet-<name>`). */
  instance: string;
  /** A health probe (the gateway's probe asks for one token with "ping"). */
  probe: boolean;
  answeredAt?: number;
  status?: number;
}

/** What the upstream does with a request for a model: the status, after an optional delay. */
export type Behaviour = (arrival: Arrival) => { status: number; delayMs?: number };

export interface CountingUpstream {
  url: string;
  arrivals: Arrival[];
  /** Set (or with undefined, reset to 200) the behaviour for a model. */
  behave(model: string, behaviour: Behaviour | undefined): void;
  close(): Promise<void>;
}

export async function startCountingUpstream(): Promise<CountingUpstream> {
  const arrivals: Arrival[] = [];
  const behaviours = new Map<string, Behaviour>();
  const upstream = await startFakeUpstream(async (request: RecordedRequest, response: ServerResponse) => {
    const body = request.json as {
      model?: string;
      max_tokens?: number;
      messages?: Array<{ content?: unknown }>;
    };
    const auth = String(request.headers.authorization ?? '');
    const arrival: Arrival = {
      at: Date.now(),
      model: body?.model ?? '',
      instance: /sk-fleet-(\w+)/.exec(auth)?.[1] ?? '?',
      probe: body?.max_tokens === 1 && body.messages?.[0]?.content === 'ping',
    };
    arrivals.push(arrival);
    const { status, delayMs } = behaviours.get(arrival.model)?.(arrival) ?? { status: 200 };
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    arrival.answeredAt = Date.now();
    arrival.status = status;
    if (status !== 200) {
      sendJson(response, status, {
        error: { message: 'upstream failure', type: 'server_error', code: null },
      });
      return;
    }
    sendJson(response, 200, {
      id: `chatcmpl-${arrivals.length}`,
      object: 'chat.completion',
      created: Math.floor(arrival.at / 1000),
      model: arrival.model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
    });
  });
  return {
    url: upstream.url,
    arrivals,
    behave(model, behaviour) {
      if (behaviour) behaviours.set(model, behaviour);
      else behaviours.delete(model);
    },
    close: () => upstream.close(),
  };
}

// Enough keep-alive sockets for every load loop; one dispatcher for the whole test.
const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000 });

export interface ChatResult {
  status: number;
  /** `x-switchyard-model`: the model that answered. */
  model: string | null;
  body: string;
}

const answerWithinMs = 15_000;

export async function chat(instance: Instance, model: string): Promise<ChatResult> {
  const response = await fetch(`${instance.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 }),
    dispatcher,
    // Far beyond any timeout in the test configs: no answer by then is a lost request.
    signal: AbortSignal.timeout(answerWithinMs),
  });
  return {
    status: response.status,
    model: response.headers.get('x-switchyard-model'),
    body: await response.text(),
  };
}

export async function getText(instance: Instance, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${instance.url}${path}`, {
    dispatcher,
    signal: AbortSignal.timeout(answerWithinMs),
  });
  return { status: response.status, text: await response.text() };
}

/** A sample of `/metrics` (the first series matching `name` and every label given). */
export async function metric(instance: Instance, name: string, labels: Record<string, string> = {}) {
  const { text } = await getText(instance, '/metrics');
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

export interface Load {
  sent: number;
  answered: number;
  /** Status -> count. */
  statuses: Map<number, number>;
  /** Requests that got no HTTP answer at all (the gateway dropped them). */
  lost: string[];
  /** Bodies of answers with a 5xx status. */
  serverErrors: string[];
  stop(): Promise<void>;
}

const activeLoads = new Set<Load>();

/** Stop every load still running (after a failed step, so the file can end). */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...activeLoads].map((load) => load.stop()));
}

/** One sequential loop per target (instance, model), `gapMs` between requests, until stopped. */
export function startLoad(targets: Array<[Instance, string]>, gapMs: number): Load {
  let stopping = false;
  const load: Load = {
    sent: 0,
    answered: 0,
    statuses: new Map(),
    lost: [],
    serverErrors: [],
    stop: async () => {
      stopping = true;
      activeLoads.delete(load);
      await Promise.all(loops);
    },
  };
  activeLoads.add(load);
  const loops = targets.map(async ([instance, model]) => {
    while (!stopping) {
      load.sent++;
      try {
        const result = await chat(instance, model);
        load.answered++;
        load.statuses.set(result.status, (load.statuses.get(result.status) ?? 0) + 1);
        if (result.status >= 500)
          load.serverErrors.push(`${instance.name} ${model}: ${result.body.slice(0, 200)}`);
      } catch (error) {
        load.lost.push(
          `${instance.name} ${model}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      await sleep(gapMs);
    }
  });
  return load;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry `check` until it passes or `timeoutMs` passed (then its last error is thrown). */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(everyMs);
    }
  }
}
