import { spawnSync } from 'node:child_process';

/** Node's arguments that run `switchyard ARGS...` from source (under tsx, no build needed). */
export function cliArgs(args: string[]): string[] {
  return [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));",
    ...args,
  ];
}

/** `switchyard ARGS...` from source, as a child process run to its end. */
export function switchyard(args: string[]) {
  return spawnSync(process.execPath, cliArgs(args), {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 120_000,
  });
}
