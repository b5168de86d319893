/**
 * `switchyard start --watch-config`: call `onChange` when the config file's content changes.
 *
 * The folder is watched, not the file: editors save by writing a new file and renaming it over
 * the old one, and Kubernetes swaps a ConfigMap's symlink, and either way a watch on the old
 * file would go quiet. Events are debounced (an editor's save is several of them), and only a
 * real change of the content counts, so a `touch` or an unrelated file in the folder is ignored.
 * Where file events are not available, the file is polled every second.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, unwatchFile, watch, watchFile } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

const debounceMs = 200;

/**
 * `loaded`: the file's `configDigest` taken before the running config was read from it, so a
 * change made while the gateway was starting is not missed.
 */
export function watchConfigFile(
  path: string,
  onChange: () => void,
  logger: { warn(object: object, message?: string): void },
  loaded: string | undefined = configDigest(path),
): ConfigWatcher {
  const file = resolve(path);
  let seen = loaded;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let polling = false;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
  };
  /** Without file events (no inotify instance left, say), look at the file every second instead. */
  const poll = (error: unknown) => {
    watcher?.close();
    watcher = undefined;
    if (polling) return;
    polling = true;
    logger.warn({ err: error }, `--watch-config: no file events for ${path}; checking it every second`);
    watchFile(file, { interval: 1000, persistent: false }, soon);
  };
  try {
    watcher = watch(dirname(file), { persistent: false }, soon);
    watcher.on('error', poll);
  } catch (error) {
    poll(error);
  }
  soon(); // a change before the watch began had no event

  function check(): void {
    const now = configDigest(file);
    // Missing for a moment (mid-rename): the next event looks again.
    if (now === undefined || now === seen) return;
    seen = now;
    onChange();
  }

  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
      if (polling) unwatchFile(file);
    },
  };
}

/** A hash of the file's content (undefined while it cannot be read). */
export function configDigest(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}
