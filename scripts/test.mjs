#!/usr/bin/env node
// `npm test`: build (the CLI tests run the compiled bin), make sure the system programs the
// tests need are present (installing them with apt-get when running as root), then run every
// test file with node:test under tsx.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function which(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).stdout.trim() || undefined;
}

function ensureSystemPackage(program, debPackage) {
  if (which(program)) return true;
  if (process.getuid?.() !== 0) {
    console.error(
      `${program} is missing: install it with \`sudo apt-get install -y ${debPackage}\`, then run npm test again.`,
    );
    process.exit(1);
  }
  console.log(`installing ${debPackage} (needed by the tests)…`);
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', debPackage], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (update.status !== 0 || install.status !== 0 || !which(program)) {
    console.error(`could not install ${debPackage}; install it by hand: apt-get install -y ${debPackage}`);
    process.exit(1);
  }
  return true;
}

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

const filter = process.argv.slice(2);
let files = findTests(join(root, 'test'));
if (filter.length > 0) files = files.filter((file) => filter.some((part) => file.includes(part)));

const needsBrowser = files.some((file) => file.includes('browser'));
if (needsBrowser) ensureSystemPackage('chromium', 'chromium');
const needsRedis = files.some((file) => /redis|failover|fleet/.test(file));
if (needsRedis) ensureSystemPackage('redis-server', 'redis-server');

if (!existsSync(join(root, 'dist/cli/main.js')) || process.env.CI) {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, SWITCHYARD_TEST: '1' } },
);
process.exit(result.status ?? 1);
