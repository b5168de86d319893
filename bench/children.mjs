/**
 * The child processes a bench script starts: each tracked, so that every exit path can kill
 * them, and the IPC helpers the scripts wait on them with.
 */
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;

/** A set of tracked children: node processes with IPC (`spawnNode`), or any added to `children`. */
export function trackedChildren() {
  const children = new Set();
  return {
    children,
    killAll(signal = 'SIGKILL') {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    spawnNode(args, env = {}) {
      const child = spawn(process.execPath, args, {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
  };
}

/** Wait for the first IPC message (or fail on exit / timeout). */
export function firstMessage(child, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before answering`));
    };
    child.once('exit', onExit);
    child.once('message', (message) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(message);
    });
  });
}

export function exited(child) {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));
}

/** The bench's request: a short question (the router's simple_qa path), as an OpenAI client sends it. */
export function benchRequest(stream) {
  const messages = [
    { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
    { role: 'user', content: 'What is the capital of France? Answer in one sentence.' },
  ];
  return JSON.stringify({ model: 'auto', messages, max_tokens: 64, ...(stream && { stream: true }) });
}

/**
 * One bench/loadgen.mjs run of `body` on `url` (in its own process, started with `spawnNode`):
 * its result once it has exited.
 */
export async function runLoad(spawnNode, { url, headers, body, connections, seconds }) {
  const job = { url, headers, bodies: [body], connections, duration: seconds };
  const child = spawnNode([`${root}bench/loadgen.mjs`, JSON.stringify(job)]);
  const result = await firstMessage(child, 'loadgen', (seconds + 60) * 1000);
  await exited(child);
  return result;
}
