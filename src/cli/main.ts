/**
 * The `switchyard` command: start, check-config, simulate.
 * Returns an exit code; bin/switchyard.js sets it.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { defaultConfig } from '../config/default.ts';
import { ConfigError, type GatewayConfig, loadConfigFile, normalizeConfig } from '../config/load.ts';
import { formatReport } from '../simulator/report.ts';
import { parameterRecord } from '../simulator/report-parameters.ts';
import { baselinePolicy, loadPolicy, runSimulation, switchyardPolicy } from '../simulator/run.ts';
import { builtInScenarios, loadScenario } from '../simulator/scenario.ts';
import { startServer } from '../start.ts';
import { registerEvalRouter } from './eval-router.ts';
import { applyHeapPolicy } from './heap-policy.ts';
import { registerKeys } from './keys.ts';
import { registerTrainRouter } from './train-router.ts';
import { type ConfigWatcher, configDigest, watchConfigFile } from './watch-config.ts';

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name('switchyard')
    .description('An OpenAI-compatible LLM gateway with task-aware routing and failover.')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('start')
    .description('start the gateway')
    .option(
      '-c, --config <file>',
      'config file (YAML or JSON); default ./switchyard.yaml, else the embedded default',
    )
    .option('-p, --port <port>', 'port to listen on', parsePort)
    .option('-H, --host <host>', 'address to listen on')
    .option('--watch-config', 'reload the config when its file changes (SIGHUP always reloads)')
    .action(async (options: StartCommandOptions) => {
      exitCode = await start(options);
    });

  program
    .command('check-config')
    .description('validate a config file; exit 0 if valid, else 1 with every error as path: message')
    .argument('<file>')
    .action((file: string) => {
      try {
        const config = loadConfigFile(file);
        console.log(
          `${file}: valid (${config.models.length} models: ${config.models.map((spec) => spec.name).join(', ')})`,
        );
      } catch (error) {
        exitCode = reportConfigError(error);
      }
    });

  program
    .command('simulate')
    .description(
      "replay a workload against simulated models on virtual time and print the brief's results table",
    )
    .option(
      '-s, --scenario <name|file>',
      `scenario: ${builtInScenarios.join(', ')}, or a YAML file`,
      'outage',
    )
    .option('--policy <file>', 'also run this policy file (YAML: model, routing, resilience)')
    .option('--seed <n>', "random seed (default: the scenario's)", Number)
    .option('--duration <seconds>', 'override the simulated duration', Number)
    .option('--json', 'print the results as JSON')
    .action(
      async (options: {
        scenario: string;
        policy?: string;
        seed?: number;
        duration?: number;
        json?: boolean;
      }) => {
        exitCode = await simulate(options);
      },
    );

  registerEvalRouter(program, (code) => (exitCode = code));
  registerTrainRouter(program, (code) => (exitCode = code));
  registerKeys(program, (code) => (exitCode = code));

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exitCode;
}

interface StartCommandOptions {
  config?: string;
  port?: number;
  host?: string;
  watchConfig?: boolean;
}

async function start(options: StartCommandOptions): Promise<number> {
  let config: GatewayConfig;
  let notice: string | undefined;
  let loadedDigest: string | undefined;
  const path = options.config ?? (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
  try {
    if (path) {
      loadedDigest = configDigest(path); // before reading: --watch-config then misses no change
      config = loadConfigFile(path);
      notice = `config: ${path}`;
    } else {
      const embedded = defaultConfig(process.env);
      config = normalizeConfig(embedded.config);
      notice =
        embedded.realModels.length > 0
          ? `config: embedded default with real providers only: ${embedded.realModels.join(', ')} (the simulated models are off while a provider key is set)`
          : 'config: embedded default (simulated pool: no provider key in the environment)';
    }
    applyHeapPolicy(); // before the first request: see heap-policy.ts
  } catch (error) {
    return reportConfigError(error);
  }
  // --port, else the PORT variable (as hosting platforms set it), else the config's port.
  const port = options.port ?? (process.env.PORT ? parsePort(process.env.PORT) : undefined);
  const withOverrides = (loaded: GatewayConfig): GatewayConfig => {
    if (port !== undefined) loaded.server.port = port;
    if (options.host !== undefined) loaded.server.host = options.host;
    return loaded;
  };
  withOverrides(config);
  // A reload reads the same file (or the embedded default) with the same overrides.
  const reloadConfig = () =>
    withOverrides(path ? loadConfigFile(path) : normalizeConfig(defaultConfig(process.env).config));
  const running = await startServer(config, { reloadConfig });
  process.stderr.write(`${notice}\n`);
  // SIGHUP: re-read the config; problems are logged and the running config stays. Both are set
  // up before the listening line, so whoever waits for it can send SIGHUP or edit the file.
  const onHangUp = () => void running.reload('sighup');
  process.on('SIGHUP', onHangUp);
  let watcher: ConfigWatcher | undefined;
  if (options.watchConfig && path) {
    watcher = watchConfigFile(path, () => void running.reload('file'), running.gateway.logger, loadedDigest);
  } else if (options.watchConfig) {
    process.stderr.write('--watch-config: no config file to watch (running on the embedded default)\n');
  }
  console.log(`switchyard listening on ${running.url}`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      watcher?.close();
      process.off('SIGHUP', onHangUp);
      process.stderr.write(`${signal} received: draining in-flight requests\n`);
      running.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function reportConfigError(error: unknown): number {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) console.error(problem);
    return 1;
  }
  console.error(error instanceof Error ? error.message : String(error));
  return 1;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${value}`);
  return port;
}

async function simulate(options: {
  scenario: string;
  policy?: string;
  seed?: number;
  duration?: number;
  json?: boolean;
}): Promise<number> {
  let scenario: ReturnType<typeof loadScenario>;
  let policies: Parameters<typeof runSimulation>[1][];
  try {
    scenario = loadScenario(options.scenario);
    if (options.duration !== undefined) scenario.duration = options.duration;
    policies = [baselinePolicy(scenario), switchyardPolicy(scenario)];
    // A hedging scenario also runs Switchyard without hedging, to show what hedging alone buys.
    if (scenario.hedging) policies.splice(1, 0, switchyardPolicy({ ...scenario, hedging: false }));
    if (options.policy) policies.push(loadPolicy(options.policy));
  } catch (error) {
    return reportConfigError(error);
  }
  const seed = options.seed ?? scenario.seed;
  const results = [];
  for (const policy of policies) {
    process.stderr.write(`simulating ${scenario.name}: ${policy.name}…\n`);
    results.push(await runSimulation(scenario, policy, { seed }));
  }
  console.log(
    options.json
      ? JSON.stringify({ scenario, seed, parameters: parameterRecord(scenario), results }, null, 2)
      : formatReport(scenario, results, seed),
  );
  return 0;
}
