import { spawnSync } from 'node:child_process';

/** `switchyard ARGS...` from source (under tsx, no build needed), as a child process. */
export function switchyard(args: string[]) {
  return spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));",
      ...args,
    ],
    { cwd: process.cwd(), encoding: 'utf8', timeout: 120_000 },
  );
}
