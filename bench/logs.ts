/**
 * The bench's logs, seeded and cached in CACHE_DIR while their clients,
 * segments and GENERATOR_VERSION are unchanged: a ~1M-line log that is one
 * hour of traffic plus three minutes; a 10M-line log whose last 63 minutes
 * are the very same bytes; and a log whose last hour adds a spoofed flood of
 * over a million distinct client addresses; and the realistic hour, at the
 * same rate as the first but from a public API's population (Zipf
 * popularity), some 150k distinct clients. Every log ends one second before
 * the window's end.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DISORDER_SECONDS } from '../src/read/read-window.js';
import {
  AddressBook,
  type ClientProfile,
  GENERATOR_VERSION,
  type LogSpec,
  type Rng,
  type Segment,
  formatStartDate,
  mulberry32,
  normalClients,
  scriptUserAgent,
  writeLog,
  zipfClients,
} from '../test/support/log-generator.js';
import { CACHE_DIR, mb } from './harness.js';

const WINDOW_SECONDS = 3600;
/** The window's end: the last line of every log is one second before it. */
export const WINDOW_END = Date.UTC(2024, 2, 14, 12, 0, 0) / 1000;
export const WINDOW_START = WINDOW_END - WINDOW_SECONDS;
export const STARTDATE = formatStartDate(WINDOW_START);
/** The window, the 120 s ipanalyse reads before it, and a minute more that only the seek sees. */
const TAIL_SECONDS = WINDOW_SECONDS + DISORDER_SECONDS + 60;
const RATE = 290;
const BIG_LINES = 10_000_000;
const PREFIX_SECONDS = Math.round(BIG_LINES / RATE) - TAIL_SECONDS;
const FLOOD_RATE = 300;
const NORMAL_CLIENTS = 3000;
/** Potential clients of the realistic hour: about 150k of them send a request in it. */
const ZIPF_CLIENTS = 400_000;

const tail: Segment = { from: WINDOW_END - TAIL_SECONDS, until: WINDOW_END, seed: 0x7a11 };
const prefix: Segment = { from: tail.from - PREFIX_SECONDS, until: tail.from, seed: 0x9e1f };
const floodTail: Segment = { from: tail.from, until: WINDOW_END, seed: 0xf100d, floodRate: FLOOD_RATE };
const realisticTail: Segment = { from: tail.from, until: WINDOW_END, seed: 0x2ea1 };

/**
 * The scripts a busy public API always has, from `from` to the window's end:
 * API scripts over the bulk limit, one over the block limit, one bulk script
 * without user agent.
 */
function heavyScripts(rng: Rng, book: AddressBook, from: number): ClientProfile[] {
  const apiScript = (label: string, address: string, userAgent: string | undefined, apiShare: number, rate: number): ClientProfile => ({
    label,
    address,
    phases: [{ from, until: WINDOW_END, rate }],
    apiShare,
    mix: 'api',
    nonApi: 'assorted',
    userAgent,
    missingUserAgentShare: 0,
    arrivals: 'steady',
  });
  return [
    ...Array.from({ length: 12 }, (_, i) => apiScript(`bulk-${i}`, i % 4 === 3 ? book.ipv6() : book.ipv4(), scriptUserAgent(rng), 0.97, 3.5)),
    apiScript('block', book.ipv4(), scriptUserAgent(rng), 0.98, 7),
    apiScript('bulk-without-user-agent', book.ipv4(), undefined, 0.97, 3.5),
  ];
}

function rateOf(clients: ClientProfile[]): number {
  return clients.reduce((sum, c) => sum + c.phases[0].rate, 0);
}

/**
 * The clients of the 1M-, 10M-line and flood logs, from the start of the
 * 10M-line log to the window's end: the heavy scripts and 3000 ordinary
 * clients far below every limit.
 */
function population(): ClientProfile[] {
  const rng = mulberry32(0x1b0a5e);
  const book = new AddressBook(rng);
  const heavy = heavyScripts(rng, book, prefix.from);
  const normalRate = (RATE - rateOf(heavy)) / NORMAL_CLIENTS;
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

/**
 * The realistic hour's clients: the same heavy scripts, and the rest of the
 * same rate spread over a Zipf population, whose first few ranks are over the
 * bulk and block limits too and whose tail sends a request every few hours.
 */
function realisticPopulation(from = realisticTail.from): ClientProfile[] {
  const rng = mulberry32(0x2ea115);
  const book = new AddressBook(rng);
  const heavy = heavyScripts(rng, book, from);
  const zipf = zipfClients(rng, book, {
    count: ZIPF_CLIENTS,
    totalRate: RATE - rateOf(heavy),
    exponent: 1,
    from,
    until: WINDOW_END,
    ipv6Share: 0.15,
    noUserAgentShare: 0.03,
  });
  return [...heavy, ...zipf];
}

export interface LogFile {
  name: string;
  file: string;
  lines: number;
  bytes: number;
}

export interface LogSet {
  small: LogFile;
  big: LogFile;
  flood: LogFile;
  realistic: LogFile;
  /** Undefined when the cached logs were reused. */
  generateMs?: number;
}

interface Manifest {
  key: string;
  logs: Omit<LogSet, 'generateMs'>;
}

export function ensureLogs(): LogSet {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const clients = population();
  const specs = {
    small: { clients, segments: [tail] },
    head: { clients, segments: [prefix] },
    flood: { clients, segments: [floodTail] },
    realistic: { clients: realisticPopulation(), segments: [realisticTail] },
  } satisfies Record<string, LogSpec>;
  const key = cacheKey(specs);
  const manifestFile = path.join(CACHE_DIR, 'manifest.json');
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
    const intact = Object.values(manifest.logs).every((log) => fs.statSync(log.file, { throwIfNoEntry: false })?.size === log.bytes);
    if (manifest.key === key && intact) {
      console.log(`logs: reusing ${CACHE_DIR} (same parameters)`);
      return manifest.logs;
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
  const realistic = make('realistic', specs.realistic);
  const logs = { small, big, flood, realistic };
  fs.writeFileSync(manifestFile, JSON.stringify({ key, logs } satisfies Manifest, null, 1));
  return { ...logs, generateMs: performance.now() - started };
}

/** A few hundred /64s behind the flood: what counting per network saves. */
const FLOOD_NETWORKS = 300;

/**
 * The flood log again, its spoofed addresses all IPv6 in FLOOD_NETWORKS /64s:
 * cached apart from the other logs (its own key), so that adding it leaves
 * their cache alone.
 */
export function ensureNetworkFlood(): LogFile {
  return ensureCachedLog('flood64', { clients: population(), segments: [{ ...floodTail, floodNetworks: FLOOD_NETWORKS }] });
}

/** Hours the simulated period spans: cron's job every minute over them (bench/scenarios/simulate.ts). */
export const SIMULATED_HOURS = 6;
const simulationSegment: Segment = { from: WINDOW_END - SIMULATED_HOURS * 3600 - TAIL_SECONDS, until: WINDOW_END, seed: 0x51a7 };

/**
 * The realistic population (the same Zipf clients and heavy scripts, at the
 * same rate) over SIMULATED_HOURS and the hour and the disorder allowance
 * before them: 7.3M lines, some 150k distinct clients in every hour.
 */
export function ensureSimulationLog(): LogFile {
  return ensureCachedLog('simulate', { clients: realisticPopulation(simulationSegment.from), segments: [simulationSegment] });
}

/** A log cached apart from the manifest's (its own key file), so that adding one leaves their cache alone. */
function ensureCachedLog(name: string, spec: LogSpec): LogFile {
  const key = cacheKey({ [name]: spec });
  const file = path.join(CACHE_DIR, `${name}.log`);
  const keyFile = path.join(CACHE_DIR, `${name}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { key: string; log: LogFile };
    if (cached.key === key && fs.statSync(file, { throwIfNoEntry: false })?.size === cached.log.bytes) return cached.log;
  } catch {
    // not cached yet
  }
  const written = writeLog(file, spec);
  console.log(`  ${name}.log: ${written.lines} lines, ${mb(written.bytes)} MB in ${(written.ms / 1000).toFixed(1)} s`);
  const log: LogFile = { name, file, lines: written.lines, bytes: written.bytes };
  fs.writeFileSync(keyFile, JSON.stringify({ key, log }));
  return log;
}

function cacheKey(specs: Record<string, LogSpec>): string {
  const hash = createHash('sha256').update(JSON.stringify({ GENERATOR_VERSION }));
  for (const [name, spec] of Object.entries(specs)) {
    hash.update(JSON.stringify({ name, segments: spec.segments }));
    // Client by client: the realistic population in one string would take over 100 MB.
    for (const client of spec.clients) hash.update(JSON.stringify(client));
  }
  return hash.digest('hex');
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

/** Reads every byte of the logs once, so that every timed run finds them in the page cache; returns how long that took. */
export function warmPageCache(logs: LogFile[]): number {
  const started = performance.now();
  const buffer = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (const log of logs) {
    const fd = fs.openSync(log.file, 'r');
    try {
      while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
  return performance.now() - started;
}
