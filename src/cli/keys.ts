/**
 * `switchyard keys create|list|get|update|revoke`: the keys admin API from the command line.
 *
 *   switchyard keys create --name ci --rpm 60 --budget 10 --period day [--models a,b] [--tpm N]
 *                          [--max-concurrency N] [--expires-at 2026-12-31T00:00:00Z] [--team T] [--user U] [--tag T]
 *   switchyard keys list | get ID | update ID --rpm 120 | revoke ID
 *
 * Every command takes `--url` (default http://127.0.0.1:4000) and `--admin-key` (default
 * $SWITCHYARD_ADMIN_KEY), and `--json` for the API's own answer. `create` prints the new key alone
 * on stdout (it is shown this once), what it is on stderr.
 */
import { type Command, InvalidArgumentError } from 'commander';

interface Connection {
  url: string;
  adminKey?: string;
  json?: boolean;
}

interface LimitOptions {
  name?: string;
  models?: string;
  rpm?: number;
  tpm?: number;
  maxConcurrency?: number;
  budget?: number;
  period?: string;
  expiresAt?: string;
  team?: string;
  user?: string;
  tag?: string[];
}

/** What the admin API answers for a key (the fields this command prints). */
interface KeyAnswer {
  id: string;
  name: string;
  status: string;
  key?: string;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  max_concurrency: number | null;
  budget: { usd: number; period: string; spent_usd: number | null; resets_at: number | null } | null;
  expires_at: number | null;
  last_used_at: number | null;
  usage: { requests: number; spend_usd: number } | null;
}

class ApiError extends Error {}

export function registerKeys(program: Command, setExitCode: (code: number) => void): void {
  const keys = program.command('keys').description('manage virtual keys through the admin API (/admin/keys)');
  const run = (work: () => Promise<void>) =>
    work().catch((error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      setExitCode(1);
    });

  limitOptions(connected(keys.command('create').description('make a key (printed once)')))
    .requiredOption('--name <name>', 'what the key is for')
    .action((options: Connection & LimitOptions) =>
      run(async () => {
        const created = (await call(options, 'POST', '/admin/keys', limitsBody(options))) as KeyAnswer;
        if (options.json) console.log(JSON.stringify(created, null, 2));
        else {
          console.log(created.key);
          console.error(
            `created key ${created.id} (${created.name}): the key above is shown this once; store it now`,
          );
        }
      }),
    );

  connected(keys.command('list').description('every key, with its limits and usage')).action(
    (options: Connection) =>
      run(async () => {
        const { data } = (await call(options, 'GET', '/admin/keys')) as { data: KeyAnswer[] };
        if (options.json) console.log(JSON.stringify(data, null, 2));
        else console.log(table(data));
      }),
  );

  connected(keys.command('get').description('one key: limits, spend this period and in total, last use'))
    .argument('<id>')
    .action((id: string, options: Connection) =>
      run(async () => {
        const key = (await call(options, 'GET', `/admin/keys/${encodeURIComponent(id)}`)) as KeyAnswer;
        console.log(options.json ? JSON.stringify(key, null, 2) : describeKey(key));
      }),
    );

  limitOptions(
    connected(keys.command('update').description("change a key's name, models, limits, budget or expiry")),
  )
    .argument('<id>')
    .option('--name <name>', 'a new name')
    .action((id: string, options: Connection & LimitOptions) =>
      run(async () => {
        const key = (await call(
          options,
          'PATCH',
          `/admin/keys/${encodeURIComponent(id)}`,
          limitsBody(options),
        )) as KeyAnswer;
        console.log(options.json ? JSON.stringify(key, null, 2) : describeKey(key));
      }),
    );

  connected(keys.command('revoke').description('revoke a key, on every instance at once'))
    .argument('<id>')
    .action((id: string, options: Connection) =>
      run(async () => {
        const key = (await call(options, 'DELETE', `/admin/keys/${encodeURIComponent(id)}`)) as KeyAnswer;
        console.log(options.json ? JSON.stringify(key, null, 2) : `revoked key ${key.id} (${key.name})`);
      }),
    );
}

function connected(command: Command): Command {
  return command
    .option('--url <url>', 'the gateway', 'http://127.0.0.1:4000')
    .option('--admin-key <key>', 'the admin key (default: $SWITCHYARD_ADMIN_KEY)')
    .option('--json', "print the API's answer as JSON");
}

function limitOptions(command: Command): Command {
  return command
    .option('--models <names>', 'models the key may use, comma-separated (default: every model)')
    .option('--rpm <n>', 'requests per minute', positiveInteger)
    .option('--tpm <n>', 'tokens per minute (prompt + max_tokens reserved)', positiveInteger)
    .option('--max-concurrency <n>', 'requests at once', positiveInteger)
    .option('--budget <usd>', 'budget in US dollars per --period', positiveNumber)
    .option('--period <period>', 'budget period: day, week, month or total (UTC)', 'day')
    .option('--expires-at <time>', 'expiry: ISO 8601 date-time or unix seconds')
    .option('--team <team>', 'metadata: team')
    .option('--user <user>', 'metadata: user')
    .option('--tag <tag>', 'metadata: a tag (repeatable)', (tag: string, tags: string[] = []) => [
      ...tags,
      tag,
    ]);
}

function limitsBody(options: LimitOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (options.name !== undefined) body.name = options.name;
  if (options.models !== undefined) body.models = options.models.split(',').map((name) => name.trim());
  if (options.rpm !== undefined) body.rpm = options.rpm;
  if (options.tpm !== undefined) body.tpm = options.tpm;
  if (options.maxConcurrency !== undefined) body.max_concurrency = options.maxConcurrency;
  if (options.budget !== undefined) body.budget = { usd: options.budget, period: options.period };
  if (options.expiresAt !== undefined)
    body.expires_at = /^\d+$/.test(options.expiresAt) ? Number(options.expiresAt) : options.expiresAt;
  const metadata: Record<string, unknown> = {};
  if (options.team !== undefined) metadata.team = options.team;
  if (options.user !== undefined) metadata.user = options.user;
  if (options.tag !== undefined) metadata.tags = options.tag;
  if (Object.keys(metadata).length > 0) body.metadata = metadata;
  return body;
}

async function call(connection: Connection, method: string, path: string, body?: unknown): Promise<unknown> {
  const adminKey = connection.adminKey ?? process.env.SWITCHYARD_ADMIN_KEY;
  const url = `${connection.url.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(adminKey ? { authorization: `Bearer ${adminKey}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? String(error);
    throw new ApiError(`cannot reach the gateway at ${connection.url}: ${cause}`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(`${method} ${path}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = (json as { error?: { message?: string; param?: string | null } }).error;
    const param = error?.param ? ` (${error.param})` : '';
    throw new ApiError(`${response.status}: ${error?.message ?? text.slice(0, 200)}${param}`);
  }
  return json;
}

function table(keys: readonly KeyAnswer[]): string {
  if (keys.length === 0) return 'no keys';
  const header = [
    'ID',
    'NAME',
    'STATUS',
    'RPM',
    'TPM',
    'AT ONCE',
    'BUDGET',
    'SPENT',
    'REQUESTS',
    'LAST USED',
  ];
  const rows = keys.map((key) => [
    key.id,
    key.name,
    key.status,
    key.rpm ?? '-',
    key.tpm ?? '-',
    key.max_concurrency ?? '-',
    key.budget ? `$${key.budget.usd}/${key.budget.period}` : '-',
    key.budget ? `$${key.budget.spent_usd ?? 0}` : `$${key.usage?.spend_usd ?? 0}`,
    key.usage?.requests ?? 0,
    key.last_used_at ? new Date(key.last_used_at * 1000).toISOString() : 'never',
  ]);
  const all = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  return all
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function describeKey(key: KeyAnswer): string {
  const time = (seconds: number | null) =>
    seconds === null ? 'never' : new Date(seconds * 1000).toISOString();
  const lines = [
    `id:              ${key.id}`,
    `name:            ${key.name}`,
    `status:          ${key.status}`,
    `models:          ${key.models?.join(', ') ?? 'every model'}`,
    `rpm:             ${key.rpm ?? 'no limit'}`,
    `tpm:             ${key.tpm ?? 'no limit'}`,
    `max concurrency: ${key.max_concurrency ?? 'no limit'}`,
    `budget:          ${key.budget ? `$${key.budget.usd} per ${key.budget.period}, $${key.budget.spent_usd ?? 0} spent this period` : 'none'}`,
    `spend in total:  $${key.usage?.spend_usd ?? 0}`,
    `requests:        ${key.usage?.requests ?? 0}`,
    `last used:       ${time(key.last_used_at)}`,
    `expires:         ${key.expires_at === null ? 'never' : time(key.expires_at)}`,
  ];
  return lines.join('\n');
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('expected a positive integer');
  return number;
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError('expected a positive number');
  return number;
}
