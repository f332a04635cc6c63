/**
 * `npm run bench`: how fast ipanalyse reads the last hour of a big access
 * log, next to the original Python script and a bare Node baseline, all
 * measured in one run over the same window.
 *
 *  1. Seeded logs in os.tmpdir()/ipanalyse-bench (reused while their
 *     parameters are unchanged): a ~1M-line log that is one hour of traffic
 *     plus three minutes; a 10M-line log whose last 63 minutes are the very
 *     same bytes; and a log whose last hour adds a spoofed flood of over a
 *     million distinct client addresses.
 *  2. Page cache warmed (every log read once, untimed), then each case run
 *     BENCH_RUNS times (default 5), cases interleaved round by round so that
 *     other load on the machine hits them all alike; medians reported.
 *     Child processes are timed from spawn to exit (wall) and by their CPU
 *     time, with their peak RSS (/usr/bin/time, or a preload reading
 *     process.resourceUsage() when it is missing).
 *  3. A table, the targets with PASS/FAIL, and everything as JSON in
 *     os.tmpdir()/ipanalyse-bench/results.json.
 *
 * "Same bytes": a first untimed `ipanalyse --json` run on each log reports
 * where the seek landed and how many bytes it read; the baseline and the
 * in-process WindowReader read exactly that byte range.
 *
 * Environment: BENCH_RUNS (default 5), BENCH_PYTHON_RUNS (default BENCH_RUNS).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newLogEntry, newRequestClassifier, parseLine } from '../src/read/log-line.js';
import { loadSettings } from '../src/settings/load-settings.js';
import { DISORDER_SECONDS, analysisWindow, newWindowReader } from '../src/read/read-window.js';
import type { Settings } from '../src/settings/settings.js';
import type { AnalysisWindow } from '../src/read/window-stats.js';
import { readIfExists } from '../test/support/files.js';
import {
  AddressBook,
  type ClientProfile,
  GENERATOR_VERSION,
  type LogSpec,
  type Segment,
  formatStartDate,
  mulberry32,
  normalClients,
  scriptUserAgent,
  writeLog,
} from '../test/support/log-generator.js';
import { CLI, REFERENCE_SCRIPT, REPO_ROOT, RUN_ORIGINAL } from '../test/support/paths.js';
import { CHILD_ENV } from '../test/support/run-cli.js';
import { bareCount } from './baseline-core.js';

const BASELINE_SCRIPT = path.join(REPO_ROOT, 'dist/bench/baseline.js');
const USAGE_PRELOAD = path.join(REPO_ROOT, 'dist/bench/report-usage.js');
const CACHE_DIR = path.join(os.tmpdir(), 'ipanalyse-bench');
const GNU_TIME = '/usr/bin/time';

const RUNS = positiveInt(process.env.BENCH_RUNS, 5);
const PYTHON_RUNS = positiveInt(process.env.BENCH_PYTHON_RUNS, RUNS);

const TARGETS = {
  seekScale: 1.1,
  originalSpeedup: 10,
  parseShareOfBaseline: 0.8,
  floodRssMB: 150,
};

function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

// ---------------------------------------------------------------------------
// The logs

const WINDOW_SECONDS = 3600;
/** The window's end: the last line of every log is one second before it. */
const WINDOW_END = Date.UTC(2024, 2, 14, 12, 0, 0) / 1000;
const WINDOW_START = WINDOW_END - WINDOW_SECONDS;
const STARTDATE = formatStartDate(WINDOW_START);
/** The window, the 120 s ipanalyse reads before it, and a minute more that only the seek sees. */
const TAIL_SECONDS = WINDOW_SECONDS + DISORDER_SECONDS + 60;
const RATE = 290;
const BIG_LINES = 10_000_000;
const PREFIX_SECONDS = Math.round(BIG_LINES / RATE) - TAIL_SECONDS;
const FLOOD_RATE = 300;
const NORMAL_CLIENTS = 3000;

const tail: Segment = { from: WINDOW_END - TAIL_SECONDS, until: WINDOW_END, seed: 0x7a11 };
const prefix: Segment = { from: tail.from - PREFIX_SECONDS, until: tail.from, seed: 0x9e1f };
const floodTail: Segment = { from: tail.from, until: WINDOW_END, seed: 0xf100d, floodRate: FLOOD_RATE };

/**
 * The clients of every log, from the start of the 10M-line log to the window's
 * end: ordinary clients far below every limit, and the ones a busy public API
 * always has: API scripts over the bulk limit, one over the block limit, one
 * bulk script without user agent.
 */
function population(): ClientProfile[] {
  const rng = mulberry32(0x1b0a5e);
  const book = new AddressBook(rng);
  const apiScript = (label: string, address: string, userAgent: string | undefined, apiShare: number, rate: number): ClientProfile => ({
    label,
    address,
    phases: [{ from: prefix.from, until: WINDOW_END, rate }],
    apiShare,
    mix: 'api',
    nonApi: 'assorted',
    userAgent,
    missingUserAgentShare: 0,
    arrivals: 'steady',
  });
  const heavy = [
    ...Array.from({ length: 12 }, (_, i) => apiScript(`bulk-${i}`, i % 4 === 3 ? book.ipv6() : book.ipv4(), scriptUserAgent(rng), 0.97, 3.5)),
    apiScript('block', book.ipv4(), scriptUserAgent(rng), 0.98, 7),
    apiScript('bulk-without-user-agent', book.ipv4(), undefined, 0.97, 3.5),
  ];
  const normalRate = (RATE - heavy.reduce((sum, c) => sum + c.phases[0].rate, 0)) / NORMAL_CLIENTS;
  // From a request every two minutes or so to one every seven seconds.
  const normal = normalClients(rng, book, {
    count: NORMAL_CLIENTS,
    from: prefix.from,
    until: WINDOW_END,
    minRate: 0.1 * normalRate,
    maxRate: 1.9 * normalRate,
    ipv6Share: 0.15,
    noUserAgentShare: 0.03,
    sessionShare: 0,
  });
  return [...heavy, ...normal];
}

interface LogFile {
  name: string;
  file: string;
  lines: number;
  bytes: number;
}

interface LogSet {
  small: LogFile;
  big: LogFile;
  flood: LogFile;
  generated: boolean;
  generateMs: number;
}

interface Manifest {
  key: string;
  logs: Omit<LogSet, 'generated' | 'generateMs'>;
}

function ensureLogs(): LogSet {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const clients = population();
  const specs = { small: { clients, segments: [tail] }, head: { clients, segments: [prefix] }, flood: { clients, segments: [floodTail] } } satisfies Record<string, LogSpec>;
  const key = createHash('sha256').update(JSON.stringify({ GENERATOR_VERSION, specs })).digest('hex');
  const manifestFile = path.join(CACHE_DIR, 'manifest.json');
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
    const intact = Object.values(manifest.logs).every((log) => fs.statSync(log.file, { throwIfNoEntry: false })?.size === log.bytes);
    if (manifest.key === key && intact) {
      console.log(`logs: reusing ${CACHE_DIR} (same parameters)`);
      return { ...manifest.logs, generated: false, generateMs: 0 };
    }
  } catch {
    // no usable manifest: generate
  }
  fs.rmSync(manifestFile, { force: true });
  console.log(`logs: generating into ${CACHE_DIR} ...`);
  const started = performance.now();
  const make = (name: string, spec: LogSpec): LogFile => {
    const file = path.join(CACHE_DIR, `${name}.log`);
    const written = writeLog(file, spec);
    console.log(`  ${name}.log: ${written.lines} lines, ${mb(written.bytes)} MB in ${(written.ms / 1000).toFixed(1)} s (${Math.round(written.lines / written.ms)}k lines/s)`);
    return { name, file, lines: written.lines, bytes: written.bytes };
  };
  const small = make('1m', specs.small);
  // The 10M-line log ends in exactly the bytes of the 1M-line log: same window, same bytes.
  const head = make('10m', specs.head);
  appendFile(head.file, small.file);
  const big: LogFile = { ...head, lines: head.lines + small.lines, bytes: head.bytes + small.bytes };
  console.log(`  10m.log: + the 1m.log bytes appended: ${big.lines} lines, ${mb(big.bytes)} MB`);
  const flood = make('flood', specs.flood);
  const logs = { small, big, flood };
  fs.writeFileSync(manifestFile, JSON.stringify({ key, logs } satisfies Manifest, null, 1));
  return { ...logs, generated: true, generateMs: performance.now() - started };
}

function appendFile(target: string, source: string): void {
  const buffer = Buffer.allocUnsafe(16 * 1024 * 1024);
  const input = fs.openSync(source, 'r');
  const output = fs.openSync(target, 'a');
  try {
    for (;;) {
      const n = fs.readSync(input, buffer, 0, buffer.length, null);
      if (n === 0) break;
      for (let done = 0; done < n; ) done += fs.writeSync(output, buffer, done, n - done);
    }
  } finally {
    fs.closeSync(input);
    fs.closeSync(output);
  }
}

/** Reads a whole file once, so that every timed run finds it in the page cache. */
function warmPageCache(file: string): number {
  const started = performance.now();
  const buffer = Buffer.allocUnsafe(16 * 1024 * 1024);
  const fd = fs.openSync(file, 'r');
  try {
    while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    fs.closeSync(fd);
  }
  return performance.now() - started;
}

// ---------------------------------------------------------------------------
// Measuring

interface Sample {
  wallMs: number;
  cpuMs: number;
  /** Peak resident set size of the child, KiB; undefined in process. */
  rssKb?: number;
}

interface ChildOutcome extends Sample {
  code: number | null;
  stdout: string;
  stderr: string;
}

const hasGnuTime = fs.existsSync(GNU_TIME);
const childEnv = { ...CHILD_ENV, HOME: process.env.HOME ?? os.tmpdir() };

/** Runs a command to its end; wall time from spawn to exit, CPU time and peak RSS as the child's own. */
function runChild(command: string, args: string[], options: { node?: boolean } = {}): Promise<ChildOutcome> {
  const usageFile = path.join(CACHE_DIR, `usage-${process.pid}.txt`);
  fs.rmSync(usageFile, { force: true });
  let argv: string[];
  const env: Record<string, string> = { ...childEnv };
  if (hasGnuTime) {
    argv = [GNU_TIME, '-f', '%M %U %S', '-o', usageFile, command, ...args];
  } else if (options.node) {
    argv = [command, '--import', USAGE_PRELOAD, ...args];
    env.BENCH_USAGE_FILE = usageFile;
  } else {
    argv = [command, ...args];
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      child.on('close', () => {
        let cpuMs = NaN;
        let rssKb: number | undefined;
        try {
          const fields = fs.readFileSync(usageFile, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
          rssKb = fields[0];
          cpuMs = hasGnuTime ? (fields[1] + fields[2]) * 1000 : (fields[1] + fields[2]) / 1000;
        } catch {
          // no usage report (python without /usr/bin/time)
        }
        resolve({ wallMs, cpuMs, rssKb, code, stdout, stderr });
      });
    });
  });
}

function inProcess<T>(work: () => T): { sample: Sample; result: T } {
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = work();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { sample: { wallMs, cpuMs: (used.user + used.system) / 1000 }, result };
}

// ---------------------------------------------------------------------------
// The cases

interface Probe {
  offset: number;
  bytesRead: number;
  seekReads: number;
  linesRead: number;
  linesInWindow: number;
  clients: number;
}

function ipanalyseArgs(settingsFile: string, log: string, startDate: string, extra: string[] = []): string[] {
  const scratch = path.join(CACHE_DIR, 'scratch');
  return [CLI, '--settings', settingsFile, '--map', path.join(scratch, 'ip_blocks.map'), '--changelog', path.join(scratch, 'restricted_ip.log'), '--loadavg', '1', '--dry-run', ...extra, log, startDate];
}

async function probe(settingsFile: string, log: LogFile): Promise<Probe> {
  const outcome = await runChild(process.execPath, ipanalyseArgs(settingsFile, log.file, STARTDATE, ['--json']), { node: true });
  if (outcome.code !== 0) throw new Error(`ipanalyse --json on ${log.file} exited with ${outcome.code}: ${outcome.stderr}`);
  const report = JSON.parse(outcome.stdout) as {
    files: { offset: number; bytesRead: number; seekReads: number }[];
    stats: { linesRead: number; linesInWindow: number; clients: number };
  };
  const [file] = report.files;
  return { offset: file.offset, bytesRead: file.bytesRead, seekReads: file.seekReads, ...report.stats };
}

/** The map ipanalyse prints in a dry run, as sorted lines. */
function dryRunMap(stdout: string): string[] {
  const match = /--- map [^\n]*\n([\s\S]*?)--- change log/.exec(stdout);
  return (match?.[1] ?? '').split('\n').filter((l) => l.trim() !== '').sort();
}

function readerOverRange(file: string, from: number, to: number, settings: Settings, window: AnalysisWindow) {
  const reader = newWindowReader(settings, window);
  // As log-source.ts readPlain: 1 MiB reads from the seek offset, pushed as they come.
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let position = from;
  try {
    while (position < to && !reader.done) {
      const bytes = fs.readSync(fd, chunk, 0, Math.min(chunk.length, to - position), position);
      if (bytes === 0) break;
      reader.push(chunk, 0, bytes);
      position += bytes;
    }
  } finally {
    fs.closeSync(fd);
  }
  const stats = reader.finish();
  return { lines: stats.linesRead, linesInWindow: stats.linesInWindow, clients: stats.clients.size };
}

/** parseLine alone over the same lines (baseline's loop, parseLine in place of the Map): the parser's share of the cost. */
function parseOnlyOverRange(file: string, from: number, to: number, settings: Settings) {
  const classifier = newRequestClassifier(settings.API_ENDPOINTS);
  const entry = newLogEntry();
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let lines = 0;
  let parsed = 0;
  let kept = 0;
  let position = from;
  try {
    while (position < to) {
      const read = fs.readSync(fd, chunk, kept, Math.min(chunk.length - kept, to - position), position);
      if (read === 0) break;
      position += read;
      const end = kept + read;
      let at = 0;
      for (;;) {
        const newline = chunk.indexOf(0x0a, at);
        if (newline < 0 || newline >= end) break;
        if (parseLine(chunk, at, newline, classifier, entry)) parsed++;
        lines++;
        at = newline + 1;
      }
      kept = end - at;
      chunk.copyWithin(0, at, end);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { lines, parsed };
}

function pythonExecutable(): string | undefined {
  const found = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) return undefined;
  // The interpreter itself, not a version manager's shim in front of it.
  return found.stdout.trim() || 'python3';
}

// ---------------------------------------------------------------------------
// Reporting

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}

interface Row {
  id: string;
  what: string;
  group: 'child' | 'in-process';
  samples: Sample[];
  /** Lines in the byte range it read (for lines/s). */
  lines?: number;
  /** Row id of the baseline it is compared with. */
  baseline?: string;
  note?: string;
}

function summarize(row: Row) {
  const wallMs = median(row.samples.map((s) => s.wallMs));
  const cpuMs = median(row.samples.map((s) => s.cpuMs));
  const rss = row.samples.map((s) => s.rssKb).filter((v): v is number => v !== undefined);
  return {
    wallMs,
    minWallMs: Math.min(...row.samples.map((s) => s.wallMs)),
    cpuMs,
    linesPerSecond: row.lines ? (row.lines / wallMs) * 1000 : undefined,
    peakRssMB: rss.length ? (Math.max(...rss) * 1024) / 1e6 : undefined,
    medianRssMB: rss.length ? (median(rss) * 1024) / 1e6 : undefined,
  };
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  console.log(`ipanalyse bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), node ${process.version}, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  const logs = ensureLogs();
  const scratch = path.join(CACHE_DIR, 'scratch');
  fs.mkdirSync(scratch, { recursive: true });
  const settingsFile = path.join(CACHE_DIR, 'bench.conf');
  fs.writeFileSync(settingsFile, '# written by bench/bench.ts: analyse logs of any size\nMIN_LOG_SIZE = 0\n');
  const { settings } = await loadSettings(settingsFile, REPO_ROOT);
  const window = analysisWindow(settings, new Date(WINDOW_END * 1000), new Date(WINDOW_START * 1000));

  // Page cache: every byte of every log read once, untimed.
  let warmMs = 0;
  for (const log of [logs.small, logs.big, logs.flood]) warmMs += warmPageCache(log.file);
  console.log(`page cache: ${mb(logs.small.bytes + logs.big.bytes + logs.flood.bytes)} MB read once in ${(warmMs / 1000).toFixed(1)} s (untimed)`);

  // Where ipanalyse reads: the byte ranges every other case reads too (also its warm-up run).
  const smallProbe = await probe(settingsFile, logs.small);
  const bigProbe = await probe(settingsFile, logs.big);
  const floodProbe = await probe(settingsFile, logs.flood);
  const sameWindow = logs.big.bytes - bigProbe.offset === logs.small.bytes - smallProbe.offset;
  console.log(`window ${STARTDATE} .. +1 h (TZ=UTC):`);
  for (const [log, p] of [[logs.small, smallProbe], [logs.big, bigProbe], [logs.flood, floodProbe]] as const) {
    console.log(`  ${pad(path.basename(log.file), 10)} ${pad(String(log.lines), 9, true)} lines ${pad(mb(log.bytes), 5, true)} MB; seek: ${p.seekReads} reads -> byte ${p.offset}; reads ${mb(p.bytesRead)} MB, ${p.linesRead} lines, ${p.linesInWindow} in the window, ${p.clients} clients`);
  }
  if (!sameWindow) console.log(`  note: the seek landed ${logs.big.bytes - bigProbe.offset - (logs.small.bytes - smallProbe.offset)} bytes apart in 10m.log and 1m.log`);
  if (floodProbe.clients < 1_000_000) console.log(`  WARNING: the flood window holds only ${floodProbe.clients} distinct clients`);

  const smallRange = { file: logs.small.file, from: smallProbe.offset, to: smallProbe.offset + smallProbe.bytesRead };
  const floodRange = { file: logs.flood.file, from: floodProbe.offset, to: floodProbe.offset + floodProbe.bytesRead };

  // The original, when it and python3 are there.
  const python = fs.existsSync(REFERENCE_SCRIPT) ? pythonExecutable() : undefined;
  const pythonSkipped = !fs.existsSync(REFERENCE_SCRIPT)
    ? `skipped: the original script is not at ${REFERENCE_SCRIPT}`
    : python === undefined
      ? 'skipped: python3 is not installed'
      : undefined;
  const originalBase = path.join(CACHE_DIR, 'original');
  const originalMap = path.join(originalBase, 'settings/ip_blocks.map');
  const originalChangeLog = path.join(originalBase, 'log/restricted_ip.log');
  if (python) {
    fs.mkdirSync(path.dirname(originalMap), { recursive: true });
    fs.mkdirSync(path.dirname(originalChangeLog), { recursive: true });
    fs.writeFileSync(path.join(originalBase, 'settings/ip_blocks.conf'), `BLOCKEDFILE = '${originalMap}'\nLOGFILE = '${originalChangeLog}'\n`);
  }

  const rows: Row[] = [
    { id: 'e2e-1m', what: 'ipanalyse end to end, 1M-line log', group: 'child', samples: [], lines: smallProbe.linesRead, baseline: 'base-child-1m' },
    { id: 'e2e-10m', what: 'ipanalyse end to end, 10M-line log', group: 'child', samples: [], lines: bigProbe.linesRead, baseline: 'base-child-1m' },
    { id: 'e2e-empty', what: 'ipanalyse fixed cost (10M log, empty window)', group: 'child', samples: [], note: 'startup + settings + seek' },
    { id: 'original-1m', what: 'original Python script, 1M-line log', group: 'child', samples: [], lines: smallProbe.linesRead, baseline: 'base-child-1m', note: pythonSkipped },
    { id: 'base-child-1m', what: 'bare Node baseline, 1M window (process)', group: 'child', samples: [], lines: smallProbe.linesRead },
    { id: 'e2e-flood', what: 'ipanalyse end to end, 1M-client flood', group: 'child', samples: [], lines: floodProbe.linesRead, baseline: 'base-child-flood' },
    { id: 'base-child-flood', what: 'bare Node baseline, flood window (process)', group: 'child', samples: [], lines: floodProbe.linesRead },
    { id: 'reader-1m', what: 'WindowReader, 1M window (in process)', group: 'in-process', samples: [], lines: smallProbe.linesRead, baseline: 'base-inproc-1m' },
    { id: 'parse-1m', what: '  of which parseLine alone (in process)', group: 'in-process', samples: [], lines: smallProbe.linesRead, baseline: 'base-inproc-1m' },
    { id: 'base-inproc-1m', what: 'bare Node baseline, 1M window (in process)', group: 'in-process', samples: [], lines: smallProbe.linesRead },
  ];
  const row = (id: string): Row => rows.find((r) => r.id === id)!;

  const checks: string[] = [];
  let originalMapLines: string[] | undefined;
  let oursMapLines: string[] | undefined;
  const afterEnd = formatStartDate(WINDOW_END + 3600);

  // In-process warm-up (JIT), untimed.
  bareCount(smallRange.file, smallRange.from, smallRange.to);
  readerOverRange(smallRange.file, smallRange.from, smallRange.to, settings, window);
  parseOnlyOverRange(smallRange.file, smallRange.from, smallRange.to, settings);

  const expectOk = (what: string, outcome: ChildOutcome): ChildOutcome => {
    if (outcome.code !== 0) throw new Error(`${what} exited with ${outcome.code}:\n${outcome.stderr}`);
    return outcome;
  };
  const sampleOf = (o: ChildOutcome): Sample => ({ wallMs: o.wallMs, cpuMs: o.cpuMs, rssKb: o.rssKb });

  const started = performance.now();
  for (let round = 0; round < RUNS; round++) {
    process.stdout.write(`round ${round + 1}/${RUNS}:`);
    const childCases: [string, () => Promise<void>][] = [
      ['e2e-1m', async () => {
        const outcome = expectOk('ipanalyse (1M)', await runChild(process.execPath, ipanalyseArgs(settingsFile, logs.small.file, STARTDATE), { node: true }));
        row('e2e-1m').samples.push(sampleOf(outcome));
        oursMapLines ??= dryRunMap(outcome.stdout);
      }],
      ['e2e-10m', async () => {
        row('e2e-10m').samples.push(sampleOf(expectOk('ipanalyse (10M)', await runChild(process.execPath, ipanalyseArgs(settingsFile, logs.big.file, STARTDATE), { node: true }))));
      }],
      ['e2e-empty', async () => {
        row('e2e-empty').samples.push(sampleOf(expectOk('ipanalyse (empty window)', await runChild(process.execPath, ipanalyseArgs(settingsFile, logs.big.file, afterEnd), { node: true }))));
      }],
      ['base-child-1m', async () => {
        const base = expectOk('baseline (1M)', await runChild(process.execPath, [BASELINE_SCRIPT, smallRange.file, String(smallRange.from), String(smallRange.to)], { node: true }));
        row('base-child-1m').samples.push(sampleOf(base));
        if (round === 0) {
          const counted = JSON.parse(base.stdout) as { lines: number; bytes: number };
          checks.push(`baseline read ${counted.lines} lines / ${counted.bytes} bytes; ipanalyse ${smallProbe.linesRead} lines / ${smallProbe.bytesRead} bytes: ${counted.lines === smallProbe.linesRead && counted.bytes === smallProbe.bytesRead ? 'same' : 'DIFFERENT'}`);
        }
      }],
      ['original-1m', async () => {
        if (!python || round >= PYTHON_RUNS) return;
        fs.rmSync(originalMap, { force: true });
        fs.rmSync(originalChangeLog, { force: true });
        const original = expectOk('the original', await runChild(python, [RUN_ORIGINAL, REFERENCE_SCRIPT, originalBase, '1.00 1.00 1.00 1/100 1', logs.small.file, STARTDATE]));
        row('original-1m').samples.push(sampleOf(original));
        originalMapLines ??= readIfExists(originalMap)?.split('\n').filter((l) => l.trim() !== '').sort() ?? [];
      }],
      ['e2e-flood', async () => {
        row('e2e-flood').samples.push(sampleOf(expectOk('ipanalyse (flood)', await runChild(process.execPath, ipanalyseArgs(settingsFile, logs.flood.file, STARTDATE), { node: true }))));
      }],
      ['base-child-flood', async () => {
        row('base-child-flood').samples.push(
          sampleOf(expectOk('baseline (flood)', await runChild(process.execPath, [BASELINE_SCRIPT, floodRange.file, String(floodRange.from), String(floodRange.to)], { node: true }))),
        );
      }],
    ];
    // Every other round in reverse order, so that no case always follows the same one.
    if (round % 2 === 1) childCases.reverse();
    for (const [id, measure] of childCases) {
      await measure();
      process.stdout.write(` ${id}`);
    }
    // In process, alternating, the baseline first and last in turn.
    const inProcessCases: [string, () => unknown][] = [
      ['base-inproc-1m', () => bareCount(smallRange.file, smallRange.from, smallRange.to)],
      ['reader-1m', () => readerOverRange(smallRange.file, smallRange.from, smallRange.to, settings, window)],
      ['parse-1m', () => parseOnlyOverRange(smallRange.file, smallRange.from, smallRange.to, settings)],
    ];
    if (round % 2 === 1) inProcessCases.reverse();
    for (const [id, work] of inProcessCases) {
      const { sample, result } = inProcess(work);
      row(id).samples.push(sample);
      if (round === 0 && id === 'reader-1m') {
        const r = result as { lines: number; linesInWindow: number };
        checks.push(`in-process WindowReader: ${r.lines} lines, ${r.linesInWindow} in the window (ipanalyse: ${smallProbe.linesRead}, ${smallProbe.linesInWindow})`);
      }
      process.stdout.write(` ${id}`);
    }
    process.stdout.write('\n');
  }
  const measureMs = performance.now() - started;
  if (originalMapLines && oursMapLines) {
    const same = originalMapLines.join('\n') === oursMapLines.join('\n');
    checks.push(`maps: the original's ${originalMapLines.length} lines and ipanalyse's ${oursMapLines.length} lines are ${same ? 'identical' : 'DIFFERENT'}`);
  }

  // ----- table
  const summaries = new Map(rows.map((r) => [r.id, summarize(r)]));
  const s = (id: string) => summaries.get(id)!;
  const fmt = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
  const header = `${pad('what', 46)} ${pad('runs', 4, true)} ${pad('wall ms', 8, true)} ${pad('(min)', 7, true)} ${pad('CPU ms', 8, true)} ${pad('lines/s', 8, true)} ${pad('x base', 7, true)} ${pad('RSS MB', 7, true)}`;
  console.log(`\nmedians of ${RUNS} runs (original: ${PYTHON_RUNS}); wall: spawn to exit; CPU: user + system; lines/s: lines read / median wall;`);
  console.log(`"x base": median wall / the baseline's (same bytes, same run; in-process rows against the in-process baseline); RSS: peak\n`);
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    const m = s(r.id);
    if (r.samples.length === 0) {
      console.log(`${pad(r.what, 46)} ${r.note ?? 'not run'}`);
      continue;
    }
    const ratio = r.baseline ? m.wallMs / s(r.baseline).wallMs : r.id.startsWith('base') ? 1 : undefined;
    console.log(
      `${pad(r.what, 46)} ${pad(String(r.samples.length), 4, true)} ${pad(fmt(m.wallMs), 8, true)} ${pad(fmt(m.minWallMs), 7, true)} ${pad(fmt(m.cpuMs), 8, true)} ${pad(m.linesPerSecond ? `${(m.linesPerSecond / 1e6).toFixed(2)}M` : '-', 8, true)} ${pad(ratio === undefined ? '-' : ratio.toFixed(2), 7, true)} ${pad(fmt(m.peakRssMB), 7, true)}`,
    );
  }
  for (const c of checks) console.log(`check: ${c}`);

  // ----- targets
  interface Target {
    name: string;
    value: number;
    cpuValue?: number;
    target: string;
    pass: boolean | undefined;
    /** The same target judged on CPU times, which other load on the machine disturbs less. */
    cpuPass?: boolean;
    detail: string;
  }
  const targets: Target[] = [];
  const scale = s('e2e-10m').wallMs / s('e2e-1m').wallMs;
  targets.push({
    name: 'seek at scale: e2e 10M / e2e 1M',
    value: scale,
    cpuValue: s('e2e-10m').cpuMs / s('e2e-1m').cpuMs,
    target: `<= ${TARGETS.seekScale}`,
    pass: scale <= TARGETS.seekScale,
    cpuPass: s('e2e-10m').cpuMs / s('e2e-1m').cpuMs <= TARGETS.seekScale,
    detail: `${fmt(s('e2e-10m').wallMs)} / ${fmt(s('e2e-1m').wallMs)} ms`,
  });
  if (row('original-1m').samples.length > 0) {
    const speedup = s('original-1m').wallMs / s('e2e-1m').wallMs;
    targets.push({
      name: 'original / ipanalyse (1M, end to end)',
      value: speedup,
      cpuValue: s('original-1m').cpuMs / s('e2e-1m').cpuMs,
      target: `>= ${TARGETS.originalSpeedup}`,
      pass: speedup >= TARGETS.originalSpeedup,
      cpuPass: s('original-1m').cpuMs / s('e2e-1m').cpuMs >= TARGETS.originalSpeedup,
      detail: `${fmt(s('original-1m').wallMs)} / ${fmt(s('e2e-1m').wallMs)} ms`,
    });
  } else {
    targets.push({ name: 'original / ipanalyse (1M, end to end)', value: NaN, target: `>= ${TARGETS.originalSpeedup}`, pass: undefined, detail: pythonSkipped ?? 'not run' });
  }
  const share = s('base-inproc-1m').wallMs / s('reader-1m').wallMs;
  targets.push({
    name: 'parse throughput, % of the baseline (in process)',
    value: share * 100,
    cpuValue: (s('base-inproc-1m').cpuMs / s('reader-1m').cpuMs) * 100,
    target: `>= ${TARGETS.parseShareOfBaseline * 100}`,
    pass: share >= TARGETS.parseShareOfBaseline,
    cpuPass: s('base-inproc-1m').cpuMs / s('reader-1m').cpuMs >= TARGETS.parseShareOfBaseline,
    detail: `${((s('reader-1m').linesPerSecond ?? 0) / 1e6).toFixed(2)}M vs ${((s('base-inproc-1m').linesPerSecond ?? 0) / 1e6).toFixed(2)}M lines/s`,
  });
  const floodRss = s('e2e-flood').peakRssMB;
  targets.push({
    name: `peak RSS, ${floodProbe.clients} distinct clients (MB)`,
    value: floodRss ?? NaN,
    target: `<= ${TARGETS.floodRssMB}`,
    pass: floodRss === undefined ? undefined : floodRss <= TARGETS.floodRssMB,
    detail: `baseline on the same bytes: ${fmt(s('base-child-flood').peakRssMB)} MB`,
  });
  console.log('\ntargets, judged on the wall-clock medians [and on the CPU-time medians]');
  for (const t of targets) {
    const verdict = t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'FAIL';
    const cpu = t.cpuValue === undefined ? '' : ` [CPU ${t.cpuValue.toFixed(2)} ${t.cpuPass ? 'PASS' : 'FAIL'}]`;
    console.log(`  ${verdict}  ${pad(t.name, 50)} ${pad(Number.isFinite(t.value) ? t.value.toFixed(2) : '-', 7, true)}${cpu}  target ${t.target}  (${t.detail})`);
  }
  const loadAfter = os.loadavg();
  console.log(`\nload average after: ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (other processes share these ${os.cpus().length} CPUs; CPU times are less sensitive to them than wall times)`);
  console.log(`measuring took ${(measureMs / 1000).toFixed(0)} s${logs.generated ? `, generating the logs ${(logs.generateMs / 1000).toFixed(0)} s` : ''}`);

  const resultsFile = path.join(CACHE_DIR, 'results.json');
  fs.writeFileSync(
    resultsFile,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim(), node: process.version, loadBefore, loadAfter, gnuTime: hasGnuTime },
        runs: RUNS,
        pythonRuns: PYTHON_RUNS,
        window: { startDate: STARTDATE, tz: 'UTC', start: window.start, end: window.end },
        logs: { small: { ...logs.small, probe: smallProbe }, big: { ...logs.big, probe: bigProbe }, flood: { ...logs.flood, probe: floodProbe } },
        rows: rows.map((r) => ({ ...r, median: s(r.id) })),
        targets,
        checks,
      },
      null,
      1,
    ),
  );
  console.log(`results: ${resultsFile}`);
  fs.rmSync(path.join(CACHE_DIR, `usage-${process.pid}.txt`), { force: true });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
