/**
 * Callbacks run after the current turn of the event loop, all of one turn on one setImmediate.
 * The gateway defers one or two callbacks per request (a summary's safety net, a generation's
 * release); an Immediate each, mostly created only to be cleared, showed in profiles (issue 14).
 * Callbacks run in the order they were queued; one that throws does not stop the rest, and the
 * first such error is thrown after them, as an Immediate's would be (it reaches
 * `uncaughtException`; a second error in the same turn is not reported separately).
 */
let queue: Array<() => void> = [];

export function afterTurn(callback: () => void): void {
  queue.push(callback);
  if (queue.length === 1) setImmediate(runQueued);
}

function runQueued(): void {
  const batch = queue;
  queue = [];
  let failure: { error: unknown } | undefined;
  for (const callback of batch) {
    try {
      callback();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}
