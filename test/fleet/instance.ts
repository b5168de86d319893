/**
 * One gateway process of the fleet test: the `switchyard` command from source, so the test runs
 * the same `start` as `npx switchyard start --config FILE --port 0` without needing a build.
 *
 *   node --import tsx test/fleet/instance.ts start --config FILE --port 0
 */
import { main } from '../../src/cli/main.ts';

// The test holds our stdin open: when it ends (the test process died, even by SIGKILL), stop.
process.stdin.resume();
process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  },
);
