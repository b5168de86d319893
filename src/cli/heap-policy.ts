/**
 * How far V8 lets the old generation grow past what the last full GC left alive.
 *
 * V8 picks the factor from the machine: with a heap limit of 2 GB or more (any machine with
 * 16 GB+), up to 4x the live heap. That suits a browser tab or a batch job; a gateway keeps a
 * small live heap (~36 MB under load) and promotes a few KB of every in-flight request, so by
 * default it carries three times its live heap in garbage between full GCs (RSS ~290 MB at 50
 * concurrent streams, bench/README.md, round 6). 50% growth kept it near 200 MB, with no CPU
 * cost the interleaved runs could resolve. It is a growth factor, not a cap: a heap that really
 * needs more still gets it.
 *
 * Applied by the server's entry points (`switchyard start`, the bench server), never by the
 * library: an embedding application owns its process's GC.
 */
import { setFlagsFromString } from 'node:v8';

export const defaultHeapGrowingPercent = 50;
const variable = 'SWITCHYARD_HEAP_GROWING_PERCENT';
const flag = 'heap-growing-percent';

export type HeapPolicy =
  | { applied: true; percent: number }
  | { applied: false; reason: 'disabled' | 'set by node flags' };

/**
 * What to do, from the environment and the process's own flags (pure: tested without touching
 * V8). The flag given on node's command line wins over the variable (NODE_OPTIONS cannot carry
 * it: node refuses V8 flags outside its short list there).
 */
export function heapPolicy(env: NodeJS.ProcessEnv, execArgv: readonly string[]): HeapPolicy {
  if (execArgv.some((arg) => arg.replaceAll('_', '-').startsWith(`--${flag}`)))
    return { applied: false, reason: 'set by node flags' };
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return { applied: true, percent: defaultHeapGrowingPercent };
  const percent = Number(raw);
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000)
    throw new Error(
      `${variable} must be a whole number of percent from 0 to 1000 (0 leaves V8's own policy); got "${raw}"`,
    );
  return percent === 0 ? { applied: false, reason: 'disabled' } : { applied: true, percent };
}

/**
 * Whether to turn off V8's allocation-site pretenuring. V8 allocates straight into the old
 * generation the objects of a site whose objects often survived a scavenge. A gateway's
 * per-request objects (admission plans, attempt records, the pipeline's async frames) survive
 * one while their request is in flight and die right after it, so pretenured they are garbage
 * that only a full GC frees: with it on, 3-5 full GCs in 8 s of load at 50 connections; off,
 * 0-1, and GC time per 1,000 requests 15.7-16.6 -> 11.5-12.1 ms plain, 54-62 -> 33-40 ms
 * streaming (bench/README.md, round 9). Left to node when its command line names the flag.
 */
export function turnOffPretenuring(execArgv: readonly string[]): boolean {
  return !execArgv.some((arg) => /^--(no-)?allocation-site-pretenuring\b/.test(arg.replaceAll('_', '-')));
}

/**
 * Apply the policy to this process (V8 reads the factor at every full GC, and the pretenuring
 * switch at every scavenge, so both take effect at once).
 */
export function applyHeapPolicy(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): HeapPolicy {
  const policy = heapPolicy(env, execArgv);
  if (policy.applied) setFlagsFromString(`--${flag}=${policy.percent}`);
  if (turnOffPretenuring(execArgv)) setFlagsFromString('--no-allocation-site-pretenuring');
  return policy;
}
