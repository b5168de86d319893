/**
 * Config reload (issue 16): re-read the config, validate it, and swap it in while serving.
 *
 * SIGHUP, a change of the file (`--watch-config`) and `POST /admin/config/reload` all come here.
 * A config with problems changes nothing: the problems are logged as `path: message` and
 * returned, and the running config stays. A valid one becomes a new gateway generation
 * (`live-gateway.ts`) that serves every request from the swap on.
 *
 * Some settings are read once at start by parts that live as long as the process: the listening
 * socket and its limits and keys (`server`), the store (`state`), the logger, request log and
 * tracer (`observability`), and the stored responses (`responses`). A reload keeps their running
 * values and logs each changed one as "restart needed"; `GET /admin/config` shows what runs.
 * Models, routing, resilience and the response cache take effect at once (the in-memory cache
 * starts empty: answers cached under the old models' config are not served under the new one).
 */
import { ConfigError, type GatewayConfig } from '../config/load.ts';
import { secretsOf } from '../gateway/wiring.ts';
import { createScrubber } from '../lib/secrets.ts';
import type { GatewayLogger } from '../observability/logger.ts';
import type { LiveGateway } from './live-gateway.ts';

/** What asked for the reload (for the log line). */
export type ReloadTrigger = 'sighup' | 'file' | 'http' | 'api';

export type ReloadResult =
  | {
      ok: true;
      /** Model names new in this config, gone from it (they drain), and kept. */
      added: string[];
      removed: string[];
      kept: string[];
      /** Settings that changed in the file but keep their running values until a restart. */
      restartNeeded: string[];
    }
  | { ok: false; problems: string[] };

export interface ConfigReloaderOptions {
  live: LiveGateway;
  /** Read and validate the config again (throws ConfigError with every problem). */
  load: () => GatewayConfig | Promise<GatewayConfig>;
  logger: GatewayLogger;
  /** Called right after a swap, with the config now running (e.g. metrics learn new model names). */
  onSwap?: (config: GatewayConfig) => void;
}

export interface ConfigReloader {
  /** Re-read, validate and swap; reloads asked for meanwhile wait for this one. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult>;
}

/** Sections read once at start (see the file comment): a reload keeps their running values. */
const restartOnly = ['server', 'state', 'observability', 'responses'] as const;

export function createConfigReloader(options: ConfigReloaderOptions): ConfigReloader {
  const { live, logger } = options;
  let queue: Promise<unknown> = Promise.resolve();

  async function reloadNow(trigger: ReloadTrigger): Promise<ReloadResult> {
    const running = live.gateway.config;
    let loaded: GatewayConfig;
    try {
      loaded = await options.load();
    } catch (error) {
      return refuse(
        trigger,
        error instanceof ConfigError ? error.problems : [`(config): ${messageOf(error)}`],
      );
    }
    const restartNeeded = restartOnly.flatMap((section) =>
      changedPaths(running[section], loaded[section], section),
    );
    const next: GatewayConfig = { ...loaded };
    for (const section of restartOnly)
      (next as unknown as Record<string, unknown>)[section] = running[section];
    let built: Awaited<ReturnType<LiveGateway['build']>>;
    try {
      built = await live.build(next);
    } catch (error) {
      // Whatever a provider said about its settings, without the secrets they hold.
      const scrub = createScrubber([...secretsOf(loaded), ...secretsOf(running)]);
      return refuse(trigger, [`(gateway): ${scrub(messageOf(error))}`]);
    }
    try {
      live.swap(built);
    } catch (error) {
      await built.close(); // shutting down meanwhile: nothing to swap into
      return refuse(trigger, [`(gateway): ${messageOf(error)}`]);
    }
    try {
      options.onSwap?.(next);
    } catch (error) {
      logger.error({ err: error }, 'config reload: updating observers of the model list failed');
    }
    const before = new Set(running.models.map((spec) => spec.name));
    const after = new Set(next.models.map((spec) => spec.name));
    const result: ReloadResult = {
      ok: true,
      added: [...after].filter((name) => !before.has(name)),
      removed: [...before].filter((name) => !after.has(name)),
      kept: [...after].filter((name) => before.has(name)),
      restartNeeded,
    };
    logger.info(
      {
        trigger,
        added: result.added,
        removed: result.removed,
        models: next.models.length,
        draining: live.draining(),
      },
      'config reloaded',
    );
    if (restartNeeded.length > 0) {
      logger.warn(
        { trigger, restartNeeded },
        `config reload: restart needed for ${restartNeeded.join(', ')} (the running values stay until then)`,
      );
    }
    return result;
  }

  function refuse(trigger: ReloadTrigger, problems: string[]): ReloadResult {
    logger.error(
      { trigger, problems },
      `config reload refused, the running config stays:\n${problems.join('\n')}`,
    );
    return { ok: false, problems };
  }

  return {
    reload(trigger) {
      const run = queue.then(() => reloadNow(trigger));
      queue = run.catch(() => {});
      return run;
    },
  };
}

/**
 * The dotted paths where `before` and `after` differ (leaves only; arrays compared whole).
 * Values never appear: they may be secrets.
 */
export function changedPaths(before: unknown, after: unknown, path: string): string[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) => changedPaths(before[key], after[key], `${path}.${key}`));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
