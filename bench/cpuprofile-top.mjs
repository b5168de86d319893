/**
 * Aggregate a V8 .cpuprofile (node --cpu-prof) by function: self time, total (inclusive) time
 * for the project's own functions, and self time per package / source file.
 *
 *   node bench/cpuprofile-top.mjs FILE.cpuprofile [--maps FILE.json] [--top 25] [--json] [--all]
 *                                 [--leaf REGEX]
 *
 * --leaf keeps only samples whose running function matches REGEX (e.g. 'DOMException|AbortSignal'),
 * so the src/ tables say which of our functions cause that cost.
 *
 * Profiles kept by `npm run bench` carry `$window` (the load phase; --all ignores it) and, when
 * Switchyard ran under tsx, `$sourceMaps`.
 *
 * Positions are mapped back to the .ts sources: for the compiled build (node_modules/.cache/...)
 * through the `.js.map` files beside it; under tsx (transformed code, no files) through `--maps`,
 * a JSON object { fileUrl: sourceMapPayload } that bench/switchyard-server.ts writes for src/
 * when BENCH_SOURCEMAPS_OUT is set.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url).href;

export function shortUrl(url) {
  if (!url) return '';
  if (url.startsWith(root)) return url.slice(root.length);
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

/** Where time goes, coarsely: a src/ file, an npm package, node internals, or V8 itself. */
function categoryOf(url, file, functionName) {
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (idle), (program)
    return '(native: V8 builtins, syscalls)';
  }
  if (file.startsWith('src/') || file.startsWith('bench/')) return file;
  const short = shortUrl(url);
  const pkg = short.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return `npm:${pkg[1]}`;
  if (short.startsWith('node:')) return 'node internals';
  return short;
}

/** A source map for `url`: from `maps`, else a `.js.map` file beside a compiled file:// module. */
export function loadMap(url, maps) {
  if (url in maps) return new SourceMap(maps[url]);
  if (!url.startsWith('file://') || !url.includes('/node_modules/.cache/')) return undefined;
  try {
    return new SourceMap(JSON.parse(readFileSync(fileURLToPath(`${url}.map`), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * `fromUs`/`toUs` (the profile's monotonic clock, µs) keep only the samples in that window, e.g.
 * the load phase without start-up.
 */
export function summarize(profile, maps = {}, { top = 25, fromUs, toUs, leaf } = {}) {
  const sourceMaps = new Map();
  const mapFor = (url) => {
    if (!sourceMaps.has(url)) sourceMaps.set(url, loadMap(url, maps));
    return sourceMaps.get(url);
  };
  const byId = new Map();
  const parent = new Map();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyCache = new Map();
  const describe = (node) => {
    let info = keyCache.get(node.id);
    if (info) return info;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    let file = shortUrl(url);
    let line = lineNumber + 1;
    const map = url ? mapFor(url) : undefined;
    if (map && lineNumber >= 0) {
      const entry = map.findEntry(lineNumber, columnNumber);
      if (entry?.originalSource) {
        file = shortUrl(new URL(entry.originalSource, url).href);
        line = entry.originalLine + 1;
      }
    }
    const where = file ? `${file}:${line}` : '';
    info = { key: `${name} ${where}`, name, where, category: categoryOf(url, file, name) };
    keyCache.set(node.id, info);
    return info;
  };

  // Sample i lasts until sample i+1 (timeDeltas[i + 1]); the last one gets the median delta.
  const deltas = profile.timeDeltas;
  const samples = profile.samples;
  const sortedDeltas = [...deltas].sort((a, b) => a - b);
  const typical = sortedDeltas[Math.floor(sortedDeltas.length / 2)] ?? 0;
  const self = new Map();
  const total = new Map();
  const bySrc = new Map();
  const categories = new Map();
  let all = 0;
  let idle = 0;
  let counted = 0;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i];
    if ((fromUs !== undefined && at < fromUs) || (toUs !== undefined && at > toUs)) continue;
    counted++;
    const us = i + 1 < deltas.length ? deltas[i + 1] : typical;
    const node = byId.get(samples[i]);
    const info = describe(node);
    if (leaf && !leaf.test(info.key)) continue;
    all += us;
    if (info.name === '(idle)') idle += us;
    self.set(info.key, (self.get(info.key) ?? 0) + us);
    categories.set(info.category, (categories.get(info.category) ?? 0) + us);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const ancestor = describe(byId.get(id));
      if (!ancestor.where.startsWith('src/') || seen.has(ancestor.key)) continue;
      // The nearest src/ frame "owns" the sample: its own code plus the library/runtime work it
      // called directly (excluding other src/ functions).
      if (seen.size === 0) bySrc.set(ancestor.key, (bySrc.get(ancestor.key) ?? 0) + us);
      seen.add(ancestor.key);
      total.set(ancestor.key, (total.get(ancestor.key) ?? 0) + us);
    }
    if (seen.size === 0 && !info.name.startsWith('(')) {
      bySrc.set('(no src/ frame on the stack)', (bySrc.get('(no src/ frame on the stack)') ?? 0) + us);
    }
  }
  const busy = all - idle;
  const rows = (map, n) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => ({ function: key, ms: us / 1000, pctOfBusy: (100 * us) / busy }));
  return {
    durationMs: all / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    samples: counted,
    topSelf: rows(self, top),
    byCategory: rows(categories, top),
    topSrcInclusive: rows(total, top),
    topSrcOwned: rows(bySrc, top),
  };
}

export function formatSummary(summary) {
  const lines = [];
  const table = (title, rows) => {
    lines.push(title);
    for (const row of rows)
      lines.push(
        `  ${row.pctOfBusy.toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(7)} ms  ${row.function}`,
      );
  };
  lines.push(
    `profile: ${summary.durationMs.toFixed(0)} ms sampled, busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms (percentages are of busy time)`,
  );
  table('top functions by self time:', summary.topSelf);
  table('self time by package / source file:', summary.byCategory);
  table('src/ functions by total (inclusive) time:', summary.topSrcInclusive);
  if (summary.topSrcOwned)
    table(
      'src/ functions by owned time (own code + library/runtime calls made directly from it):',
      summary.topSrcOwned,
    );
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const index = args.indexOf(name);
    return index === -1 ? undefined : args[index + 1];
  };
  const file = args.find(
    (arg, i) => !arg.startsWith('--') && !['--maps', '--top', '--leaf'].includes(args[i - 1]),
  );
  if (!file) {
    console.error(
      'usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--maps FILE.json] [--top N] [--json]',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  // scripts/bench.mjs stores the load window and (under tsx) the source maps in the profile.
  const maps = option('--maps') ? JSON.parse(readFileSync(option('--maps'), 'utf8')) : profile.$sourceMaps;
  const summary = summarize(profile, maps ?? {}, {
    top: Number(option('--top') ?? 25),
    leaf: option('--leaf') ? new RegExp(option('--leaf')) : undefined,
    fromUs: args.includes('--all') ? undefined : profile.$window?.fromUs,
    toUs: args.includes('--all') ? undefined : profile.$window?.toUs,
  });
  console.log(args.includes('--json') ? JSON.stringify(summary, null, 2) : formatSummary(summary));
}
