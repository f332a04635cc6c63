/**
 * Seeded access-log traffic for differential tests and benchmarks.
 *
 * A scenario is a list of clients, each with a request rate over time, a
 * request mix and a user agent. Two renderers turn clients into Apache
 * combined lines in the order a server writes them (a line is written when
 * its request ends, so it can be a few seconds older than the line before it):
 *  - `generateLog` follows each client's arrivals and keeps every line, with
 *    what the differential tests need to know of it; about 175k lines/s.
 *  - `writeLog` writes a file for the benchmarks at millions of lines a
 *    second: each second's lines are drawn from the clients in proportion to
 *    their rates and assembled from pre-encoded byte pieces, and nothing is
 *    kept. It serves steady traffic only.
 * Both are deterministic for a given seed.
 *
 * Everything generated is plain ASCII: the original reads the log in text
 * mode and seeks to arbitrary byte offsets, which would split a multi-byte
 * character (real servers escape such bytes as \xhh anyway).
 */

import fs from 'node:fs';

export type Rng = () => number;

/** mulberry32: tiny, fast, and the same sequence on every platform. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

export function randomInt(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng() * (high - low + 1));
}

// ---------------------------------------------------------------------------
// Scenario description

/** Requests per second between two instants (epoch seconds, `until` excluded). */
export interface Phase {
  from: number;
  until: number;
  rate: number;
}

/**
 * What a client asks for: `api` the API endpoints directly, `ui` the bundled
 * web UI pages (/ui/search.html and friends, which the original counts as API
 * requests because their path contains "/search"), `browse` mostly pages that
 * are not API requests.
 */
export type RequestMix = 'api' | 'ui' | 'browse';

/**
 * What a client's other requests are: `assorted` pages, CORS preflights on
 * /search (`preflight`: an API path, but never an API request), or
 * connections closed before a request line (`no-request`: logged as "-").
 */
export type NonApiMix = 'assorted' | 'preflight' | 'no-request';

export interface ClientProfile {
  /** Shown in diagnostics: what this client is meant to exercise. */
  label: string;
  /** Canonical form (the original matches addresses as strings). */
  address: string;
  /** Sorted, non-overlapping. */
  phases: Phase[];
  /** Fraction of requests that go to an API-looking path. */
  apiShare: number;
  mix: RequestMix;
  nonApi: NonApiMix;
  /** undefined: the client never sends a user agent (logged as "-"). */
  userAgent: string | undefined;
  /** Fraction of requests sent without a user agent by a client that normally has one. */
  missingUserAgentShare: number;
  /** `steady`: evenly spaced with jitter (scripts); `random`: exponential gaps (people). */
  arrivals: 'steady' | 'random';
  /** Single requests at these instants (sorted), on top of the phases. */
  scheduled?: number[];
}

export interface ScenarioConfig {
  seed: number;
  /** Lines are generated for requests arriving in [from, until), epoch seconds. */
  from: number;
  until: number;
  /** How much older than the line before it a line may be, in seconds. */
  maxLatenessSeconds: number;
  clients: ClientProfile[];
}

// ---------------------------------------------------------------------------
// Populations

const PUBLIC_IPV4_FIRST_OCTETS = [
  2, 5, 23, 31, 37, 45, 46, 51, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 93, 94, 95, 104, 109, 134,
  141, 145, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
];
const PUBLIC_IPV6_PREFIXES = ['2a01', '2a02', '2a03', '2a0a', '2001:67c', '2600', '2604', '2a00', '2c0f', '2803'];

/**
 * Hands out distinct global unicast addresses, already in the form a server
 * logs them (lower case, RFC 5952), so the map compares as plain strings.
 * Documentation and private ranges are avoided on purpose: an implementation
 * may legitimately treat them apart.
 */
export class AddressBook {
  private readonly used = new Set<string>();
  constructor(private readonly rng: Rng) {}

  ipv4(): string {
    for (;;) {
      const address = `${pick(this.rng, PUBLIC_IPV4_FIRST_OCTETS)}.${randomInt(this.rng, 0, 255)}.${randomInt(this.rng, 0, 255)}.${randomInt(this.rng, 1, 254)}`;
      if (this.claim(address)) return address;
    }
  }

  ipv6(): string {
    for (;;) {
      // Non-zero groups around one run of three zero groups: exactly one canonical spelling.
      const group = () => randomInt(this.rng, 1, 0xffff).toString(16);
      const prefix = pick(this.rng, PUBLIC_IPV6_PREFIXES);
      const groupsBefore = prefix.includes(':') ? 2 : 3;
      const middle = Array.from({ length: groupsBefore }, group).join(':');
      const address = `${prefix}:${middle}::${group()}`;
      if (this.claim(address)) return address;
    }
  }

  private claim(address: string): boolean {
    if (this.used.has(address)) return false;
    this.used.add(address);
    return true;
  }
}

const BROWSER_USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
];
const SCRIPT_USER_AGENTS = [
  'python-requests/2.31.0',
  'curl/8.5.0',
  'Java/17.0.9',
  'okhttp/4.12.0',
  'GeoSync/2.4 (ops@geosync.example.com)',
  'osmand~/4.6.8 (Android)',
  'Go-http-client/2.0',
  'QGIS/33400/Windows 10 Version 2009',
  'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
];

export function browserUserAgent(rng: Rng): string {
  return pick(rng, BROWSER_USER_AGENTS);
}

export function scriptUserAgent(rng: Rng): string {
  return pick(rng, SCRIPT_USER_AGENTS);
}

/** What every ordinary client is drawn with. */
interface OrdinaryOptions {
  from: number;
  until: number;
  ipv6Share: number;
  /** Clients that never send a user agent. */
  noUserAgentShare: number;
  /** Clients that come and go in sessions instead of staying all along. */
  sessionShare: number;
}

export interface NormalPopulationOptions extends OrdinaryOptions {
  count: number;
  /** Requests per second per client, any kind; API requests are a share of these. */
  minRate: number;
  maxRate: number;
}

/**
 * A browser (60%) or a script. `drawRate` is called between the other draws,
 * where normalClients has always drawn its rate, so that its populations stay
 * the same for a given seed.
 */
function ordinaryClient(rng: Rng, book: AddressBook, label: string, drawRate: () => number, options: OrdinaryOptions): ClientProfile {
  const address = rng() < options.ipv6Share ? book.ipv6() : book.ipv4();
  const isBrowser = rng() < 0.6;
  const rate = drawRate();
  const phases: Phase[] = [];
  if (rng() < options.sessionShare) {
    // Sessions of 5-40 minutes with pauses between them.
    let at = options.from + rng() * 1800;
    while (at < options.until) {
      const until = Math.min(options.until, at + 300 + rng() * 2100);
      phases.push({ from: at, until, rate: rate * 2 });
      at = until + 300 + rng() * 2400;
    }
  } else {
    phases.push({ from: options.from, until: options.until, rate });
  }
  return {
    label,
    address,
    phases,
    apiShare: isBrowser ? 0.55 + rng() * 0.3 : 0.9 + rng() * 0.1,
    mix: isBrowser ? (rng() < 0.5 ? 'ui' : 'browse') : 'api',
    nonApi: 'assorted',
    userAgent: rng() < options.noUserAgentShare ? undefined : isBrowser ? browserUserAgent(rng) : scriptUserAgent(rng),
    missingUserAgentShare: 0,
    arrivals: 'random',
  };
}

/** Ordinary clients: browsers and small scripts, each far below every limit. */
export function normalClients(rng: Rng, book: AddressBook, options: NormalPopulationOptions): ClientProfile[] {
  const drawRate = () => options.minRate + rng() * (options.maxRate - options.minRate);
  return Array.from({ length: options.count }, (_, i) => ordinaryClient(rng, book, `normal-${i}`, drawRate, options));
}

export interface ZipfPopulationOptions extends Omit<OrdinaryOptions, 'sessionShare'> {
  /** Potential clients: the rarest ones send a request every few hours, so only some show up in an hour. */
  count: number;
  /** Requests per second of all of them together. */
  totalRate: number;
  /** The client of rank k sends in proportion to k^-exponent. */
  exponent: number;
}

/**
 * A public API's population: a few clients with a large share of the traffic
 * (over the bulk and block limits at a few hundred requests a second), a long
 * tail seen once or twice an hour. Every client stays all along, as writeLog
 * needs.
 */
export function zipfClients(rng: Rng, book: AddressBook, options: ZipfPopulationOptions): ClientProfile[] {
  let harmonic = 0;
  for (let rank = 1; rank <= options.count; rank++) harmonic += rank ** -options.exponent;
  const ordinary = { ...options, sessionShare: 0 };
  return Array.from({ length: options.count }, (_, i) => {
    const rate = (options.totalRate * (i + 1) ** -options.exponent) / harmonic;
    return ordinaryClient(rng, book, `zipf-${i + 1}`, () => rate, ordinary);
  });
}

// ---------------------------------------------------------------------------
// Requests

const PLACES = [
  'berlin', 'hamburg+altona', 'M%C3%BCnchen', 'K%C3%B6ln+Ehrenfeld', 'paris+11e', 'lyon', 'london+SW1A+1AA', 'leeds',
  'madrid', 'sevilla', 'roma+trastevere', 'milano', 'wien', 'graz', 'z%C3%BCrich', 'bern', 'amsterdam', 'utrecht',
  'brussel', 'gent', 'praha', 'brno', 'warszawa', 'krak%C3%B3w', 'oslo', 'bergen', 'stockholm', 'helsinki', 'dublin',
  'lisboa', 'porto', 'athens', 'istanbul', 'tokyo', 'osaka', 'seattle', 'portland+oregon', 'boston', 'toronto',
  'sydney', 'auckland', 'nairobi', 'cape+town', 'santiago', 'lima', 'bogot%C3%A1', 'mexico+city', 'main+street+12',
];
const FORMATS = ['json', 'jsonv2', 'geojson', 'xml', 'geocodejson'];
const OSM_TYPES = ['N', 'W', 'R'];

export function apiPath(rng: Rng): string {
  const roll = rng();
  const php = rng() < 0.2 ? '.php' : '';
  if (roll < 0.6) {
    const limit = rng() < 0.3 ? `&limit=${randomInt(rng, 1, 50)}` : '';
    return `/search${php}?q=${pick(rng, PLACES)}&format=${pick(rng, FORMATS)}${limit}`;
  }
  if (roll < 0.9) {
    const lat = (rng() * 140 - 70).toFixed(5);
    const lon = (rng() * 360 - 180).toFixed(5);
    return `/reverse${php}?lat=${lat}&lon=${lon}&format=${pick(rng, FORMATS)}&zoom=${randomInt(rng, 3, 18)}`;
  }
  return rng() < 0.5
    ? `/details${php}?osmtype=${pick(rng, OSM_TYPES)}&osmid=${randomInt(rng, 1, 999999999)}&format=json`
    : `/details${php}?place_id=${randomInt(rng, 1, 300000000)}`;
}

export function uiPath(rng: Rng): string {
  const roll = rng();
  if (roll < 0.6) return `/ui/search.html?q=${pick(rng, PLACES)}`;
  if (roll < 0.85) return `/ui/reverse.html?lat=${(rng() * 140 - 70).toFixed(4)}&lon=${(rng() * 360 - 180).toFixed(4)}&zoom=10`;
  return `/ui/details.html?osmtype=${pick(rng, OSM_TYPES)}&osmid=${randomInt(rng, 1, 999999999)}`;
}

export interface RequestAndStatus {
  request: string;
  status: number;
}

const PREFLIGHT_SHARE = 0.15;
const NO_REQUEST_SHARE = 0.07;

export function nonApiRequest(rng: Rng, mix: NonApiMix): RequestAndStatus {
  const roll = mix === 'assorted' ? rng() : mix === 'preflight' ? 0.7 : 0.93;
  if (roll < 0.2) return { request: 'GET / HTTP/1.1', status: rng() < 0.5 ? 200 : 301 };
  if (roll < 0.3) return { request: 'GET /favicon.ico HTTP/1.1', status: rng() < 0.7 ? 200 : 404 };
  if (roll < 0.42) return { request: `GET /status${rng() < 0.5 ? '.php' : ''}?format=json HTTP/1.1`, status: 200 };
  if (roll < 0.58) {
    const ids = Array.from({ length: randomInt(rng, 1, 4) }, () => `${pick(rng, OSM_TYPES)}${randomInt(rng, 1, 99999999)}`);
    return { request: `GET /lookup?osm_ids=${ids.join(',')}&format=json HTTP/1.1`, status: 200 };
  }
  if (roll < 0.7) return { request: `GET /ui/${pick(rng, ['about.html', 'assets/main.js', 'assets/main.css', 'config.defaults.js'])} HTTP/1.1`, status: 200 };
  // CORS preflights name an API path but are never API requests.
  if (roll < 0.7 + PREFLIGHT_SHARE) return { request: `OPTIONS /search?q=${pick(rng, PLACES)}&format=json HTTP/1.1`, status: 204 };
  if (roll < 1 - NO_REQUEST_SHARE) return { request: `GET /polygons${rng() < 0.5 ? '.php' : ''} HTTP/1.1`, status: 200 };
  // A connection closed before a request line: "fewer than two words", no request at all.
  return { request: '-', status: 408 };
}

/** The request line of an API or UI call to `path`: mostly GET, now and then HEAD or POST, and HTTP/1.0. */
export function requestLine(rng: Rng, path: string): string {
  const method = rng() < 0.03 ? 'HEAD' : rng() < 0.01 ? 'POST' : 'GET';
  return `${method} ${path} HTTP/${rng() < 0.1 ? '1.0' : '1.1'}`;
}

export function apiStatus(rng: Rng): number {
  const roll = rng();
  if (roll < 0.93) return 200;
  if (roll < 0.96) return 400;
  if (roll < 0.99) return 404;
  return 500;
}

/** Always a number: the original cannot read "-" as a byte count. */
export function responseBytes(rng: Rng, status: number): number {
  return status === 200 ? 300 + Math.floor(rng() * 24000) : status === 408 ? 0 : 150 + Math.floor(rng() * 500);
}

export const REFERER_URL = 'https://nominatim.openstreetmap.org/ui/search.html';

/** The original's classification (its lines 78-94): second word contains an endpoint, OPTIONS never counts. */
export function countsAsApiRequest(request: string): boolean {
  const methodEnd = request.indexOf(' ');
  if (methodEnd < 0) return false;
  const pathEnd = request.indexOf(' ', methodEnd + 1);
  const path = request.slice(methodEnd + 1, pathEnd < 0 ? undefined : pathEnd);
  if (request.slice(0, methodEnd) === 'OPTIONS') return false;
  return path.includes('/search') || path.includes('/reverse') || path.includes('/details');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `dd/Mon/yyyy:HH:MM:SS +zzzz` for an epoch second, written in a zone `zoneMinutes` minutes east of UTC. */
export function formatLogTimestamp(epochSeconds: number, zoneMinutes = 0): string {
  const d = new Date((epochSeconds + zoneMinutes * 60) * 1000);
  const z = Math.abs(zoneMinutes);
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${zoneMinutes < 0 ? '-' : '+'}${two(Math.trunc(z / 60))}${two(z % 60)}`;
}

/** `YYYY-mm-dd HH:MM:SS` in UTC, the original's STARTDATE argument. */
export function formatStartDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

// ---------------------------------------------------------------------------
// The log

/** Bits of GeneratedLog.flags: the original's view of a line. */
export const API_FLAG = 1;
export const STATUS_200_FLAG = 2;
export const NO_USER_AGENT_FLAG = 4;

/**
 * Lines in file order, with what the tests need to know about each: the
 * second it carries, when the server wrote it, whose it is, and the
 * original's view of it (`flags`).
 */
export interface GeneratedLog {
  count: number;
  /** Without the newline. */
  lines: string[];
  loggedAt: Int32Array;
  writtenAt: Float64Array;
  client: Int32Array;
  flags: Uint8Array;
  /** File size once this line and its newline are written. */
  endOffset: Float64Array;
}

/** Receives the lines in file order. */
type LineSink = (line: string, loggedAt: number, writtenAt: number, client: number, flags: number) => void;

class LogBuilder {
  count = 0;
  lines: string[] = [];
  loggedAt = new Int32Array(1024);
  writtenAt = new Float64Array(1024);
  client = new Int32Array(1024);
  flags = new Uint8Array(1024);
  endOffset = new Float64Array(1024);
  private size = 0;

  push(line: string, loggedAt: number, writtenAt: number, client: number, flags: number): void {
    if (this.count === this.loggedAt.length) this.grow();
    const i = this.count++;
    this.lines.push(line);
    this.loggedAt[i] = loggedAt;
    this.writtenAt[i] = writtenAt;
    this.client[i] = client;
    this.flags[i] = flags;
    this.size += line.length + 1; // ASCII only: characters are bytes
    this.endOffset[i] = this.size;
  }

  private grow(): void {
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(old.length * 2);
      next.set(old);
      return next;
    };
    this.loggedAt = grown(this.loggedAt, (n) => new Int32Array(n));
    this.writtenAt = grown(this.writtenAt, (n) => new Float64Array(n));
    this.client = grown(this.client, (n) => new Int32Array(n));
    this.flags = grown(this.flags, (n) => new Uint8Array(n));
    this.endOffset = grown(this.endOffset, (n) => new Float64Array(n));
  }

  finish(): GeneratedLog {
    const n = this.count;
    return {
      count: n,
      lines: this.lines,
      loggedAt: this.loggedAt.subarray(0, n),
      writtenAt: this.writtenAt.subarray(0, n),
      client: this.client.subarray(0, n),
      flags: this.flags.subarray(0, n),
      endOffset: this.endOffset.subarray(0, n),
    };
  }
}

interface PendingLine {
  line: string;
  loggedAt: number;
  writtenAt: number;
  client: number;
  flags: number;
}

/**
 * Generates the log of every request arriving in [config.from, config.until),
 * keeping every line and what is known about it. Lines come out in write
 * order, so lines of the last seconds may carry later write times than
 * `until`. Deterministic for a given config.
 */
export function generateLog(config: ScenarioConfig): GeneratedLog {
  const builder = new LogBuilder();
  streamLog(config, (line, loggedAt, writtenAt, client, flags) => builder.push(line, loggedAt, writtenAt, client, flags));
  return builder.finish();
}

/** The generator itself: hands every line, in file order, to `sink`. */
function streamLog(config: ScenarioConfig, sink: LineSink): void {
  const rng = mulberry32(config.seed);
  const clients = config.clients;
  const lateness = config.maxLatenessSeconds;
  const phaseIndex = new Int32Array(clients.length);
  const nextArrival = new Float64Array(clients.length);
  const gap = (client: ClientProfile, rate: number) =>
    client.arrivals === 'steady' ? (0.5 + rng()) / rate : -Math.log(1 - rng()) / rate;

  // Finds the first arrival at or after `t`, moving through the client's phases.
  const scheduleFrom = (i: number, t: number): void => {
    const client = clients[i];
    let p = phaseIndex[i];
    while (p < client.phases.length) {
      const phase = client.phases[p];
      const start = Math.max(t, phase.from, config.from);
      if (phase.rate > 0) {
        // Entering a phase starts at a random point of one gap, not on its edge.
        const next = start + (t >= phase.from ? gap(client, phase.rate) : rng() * gap(client, phase.rate));
        if (next < phase.until) {
          phaseIndex[i] = p;
          nextArrival[i] = next;
          return;
        }
      }
      p++;
      t = Math.max(t, phase.until);
    }
    phaseIndex[i] = p;
    nextArrival[i] = Infinity;
  };
  for (let i = 0; i < clients.length; i++) scheduleFrom(i, -Infinity);
  const nextScheduled = new Int32Array(clients.length);

  // Lines wait in per-second buckets until the second they are written in.
  const bucketCount = Math.ceil(lateness) + 2;
  const buckets: PendingLine[][] = Array.from({ length: bucketCount }, () => []);
  const stampCache = new Map<number, string>();
  const stamp = (second: number): string => {
    let s = stampCache.get(second);
    if (s === undefined) {
      s = formatLogTimestamp(second);
      stampCache.set(second, s);
      if (stampCache.size > 4 * bucketCount) stampCache.delete(stampCache.keys().next().value as number);
    }
    return s;
  };
  const flush = (second: number): void => {
    const bucket = buckets[second % bucketCount];
    bucket.sort((a, b) => a.writtenAt - b.writtenAt);
    for (const p of bucket) sink(p.line, p.loggedAt, p.writtenAt, p.client, p.flags);
    bucket.length = 0;
  };

  const emit = (i: number, arrival: number): void => {
    // Most requests are quick; a few take seconds, and are logged late.
    const written = arrival + lateness * rng() ** 4;
    const loggedAt = Math.floor(arrival);
    buckets[Math.floor(written) % bucketCount].push(renderRequest(rng, clients[i], i, loggedAt, stamp(loggedAt), written));
  };

  const firstSecond = Math.floor(config.from);
  const lastSecond = Math.ceil(config.until) - 1;
  for (let second = firstSecond; second <= lastSecond; second++) {
    const secondEnd = second + 1;
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i];
      while (nextArrival[i] < secondEnd && nextArrival[i] < config.until) {
        emit(i, nextArrival[i]);
        nextArrival[i] += gap(client, client.phases[phaseIndex[i]].rate);
        if (nextArrival[i] >= client.phases[phaseIndex[i]].until) scheduleFrom(i, client.phases[phaseIndex[i]].until);
      }
      const scheduled = client.scheduled;
      if (scheduled === undefined) continue;
      while (nextScheduled[i] < scheduled.length && scheduled[nextScheduled[i]] < secondEnd) {
        const arrival = scheduled[nextScheduled[i]++];
        if (arrival >= config.from && arrival < config.until) emit(i, arrival);
      }
    }
    flush(second);
  }
  for (let second = lastSecond + 1; second <= lastSecond + bucketCount; second++) flush(second);
}

function renderRequest(rng: Rng, client: ClientProfile, index: number, loggedAt: number, stamp: string, writtenAt: number): PendingLine {
  let request: string;
  let status: number;
  let referer = '-';
  if (rng() < client.apiShare) {
    request = requestLine(rng, client.mix === 'ui' ? uiPath(rng) : apiPath(rng));
    status = apiStatus(rng);
  } else {
    ({ request, status } = nonApiRequest(rng, client.nonApi));
  }
  if (client.mix !== 'api' && rng() < 0.4) referer = REFERER_URL;
  const userAgent =
    client.userAgent === undefined || (client.missingUserAgentShare > 0 && rng() < client.missingUserAgentShare) ? '-' : client.userAgent;
  const bytes = responseBytes(rng, status);
  const line = `${client.address} - - [${stamp}] "${request}" ${status} ${bytes} "${referer}" "${userAgent}"`;
  const flags =
    (countsAsApiRequest(request) ? API_FLAG : 0) | (status === 200 ? STATUS_200_FLAG : 0) | (userAgent === '-' ? NO_USER_AGENT_FLAG : 0);
  return { line, loggedAt, writtenAt, client: index, flags };
}

/** Number of lines the server has written by instant `at` (they form a prefix of the log). */
export function linesWrittenBy(log: GeneratedLog, at: number): number {
  let low = 0;
  let high = log.count;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (log.writtenAt[mid] <= at) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** File size, in bytes, of the first `lineCount` lines. */
export function sizeOfLines(log: GeneratedLog, lineCount: number): number {
  return lineCount === 0 ? 0 : log.endOffset[lineCount - 1];
}

/** Lines [from, to) as file content, each with its newline. */
export function renderLines(log: GeneratedLog, from: number, to: number): string {
  if (to <= from) return '';
  return log.lines.slice(from, to).join('\n') + '\n';
}

// ---------------------------------------------------------------------------
// Big logs, fast

/** Bump when the bytes writeLog produces for a given spec change: benchmarks cache its logs. */
export const GENERATOR_VERSION = 6;

export interface Segment {
  /** Seconds [from, until), epoch. */
  from: number;
  until: number;
  /** Seed of this segment's draws. */
  seed: number;
  /** Spoofed flood: this many extra lines per second, each from an address never seen before. */
  floodRate?: number;
  /** With floodRate: every flood address is IPv6 and inside one of this many /64s (a client rotating through its networks). */
  floodNetworks?: number;
}

export interface LogSpec {
  clients: ClientProfile[];
  segments: Segment[];
}

export interface WrittenLog {
  lines: number;
  bytes: number;
  ms: number;
}

const BUFFER_BYTES = 16 * 1024 * 1024;
const MAX_LINE_BYTES = 2048;
const POOL_SIZE = 4096;
const STAMP_RING = 8;
const MAX_LATE_SECONDS = 4;

/** `"-" "UA"\n`, and `"REFERER" "UA"\n` for the share of lines with a referer. */
interface Suffixes {
  plain: Buffer;
  referer: Buffer;
}

/** A client's fixed bytes, encoded once. */
interface EncodedClient extends Suffixes {
  /** `ADDRESS - - [` */
  prefix: Buffer;
  refererShare: number;
  apiShare: number;
  mix: RequestMix;
  rate: number;
}

const REFERER_PIECE = Buffer.from(`"${REFERER_URL}" "`);

/**
 * Per-second draws keep each client's share of the traffic, not the timing of
 * its phases or the per-request variations, so only clients without them are
 * taken.
 */
function encodeClient(client: ClientProfile, segments: Segment[], suffixesByUserAgent: Map<string, Suffixes>): EncodedClient {
  const [phase, ...later] = client.phases;
  const steady =
    later.length === 0 &&
    segments.every((segment) => phase.from <= segment.from && segment.until <= phase.until) &&
    client.scheduled === undefined &&
    client.missingUserAgentShare === 0 &&
    client.nonApi === 'assorted';
  if (!steady) throw new Error(`writeLog renders steady traffic only: one phase over every segment, assorted non-API requests; not ${client.label}`);
  const userAgent = client.userAgent ?? '-';
  // Shared: a few user agents among hundreds of thousands of clients.
  let suffixes = suffixesByUserAgent.get(userAgent);
  if (suffixes === undefined) {
    suffixes = { plain: Buffer.from(`"-" "${userAgent}"\n`, 'latin1'), referer: Buffer.concat([REFERER_PIECE, Buffer.from(`${userAgent}"\n`, 'latin1')]) };
    suffixesByUserAgent.set(userAgent, suffixes);
  }
  return {
    prefix: Buffer.from(`${client.address} - - [`, 'latin1'),
    ...suffixes,
    refererShare: client.mix === 'api' ? 0 : 0.4,
    apiShare: client.apiShare,
    mix: client.mix,
    rate: phase.rate,
  };
}

/**
 * Walker's alias table: slot i holds client i with probability threshold[i],
 * else client alias[i], and every slot is drawn alike, so that each client is
 * drawn exactly in proportion to its rate in two draws, however small its
 * share (a table of slots laid out by rate would round a share of 1e-7 to
 * nothing or to a whole slot).
 */
interface AliasTable {
  threshold: Float64Array;
  alias: Int32Array;
}

function aliasTable(clients: EncodedClient[], totalRate: number): AliasTable {
  const n = clients.length;
  const threshold = new Float64Array(n);
  const alias = new Int32Array(n);
  // Slots below their mass and slots above it, as stacks.
  const under = new Int32Array(n);
  const over = new Int32Array(n);
  let unders = 0;
  let overs = 0;
  for (let i = 0; i < n; i++) {
    alias[i] = i;
    threshold[i] = (clients[i].rate * n) / totalRate;
    if (threshold[i] < 1) under[unders++] = i;
    else over[overs++] = i;
  }
  while (unders > 0 && overs > 0) {
    const small = under[--unders];
    const large = over[overs - 1];
    // The large client fills the rest of the small one's slot.
    alias[small] = large;
    threshold[large] -= 1 - threshold[small];
    if (threshold[large] < 1) {
      overs--;
      under[unders++] = large;
    }
  }
  // What is left is a whole slot, but for rounding.
  while (overs > 0) threshold[over[--overs]] = 1;
  while (unders > 0) threshold[under[--unders]] = 1;
  return { threshold, alias };
}

/** Requests rendered in advance, each as `REQUEST" `. */
interface Pool {
  requests: Buffer[];
  /** 0: draw an API status. */
  statuses: Int32Array;
}

function makePool(rng: Rng, make: (rng: Rng) => RequestAndStatus): Pool {
  const requests: Buffer[] = [];
  const statuses = new Int32Array(POOL_SIZE);
  for (let i = 0; i < POOL_SIZE; i++) {
    const { request, status } = make(rng);
    requests.push(Buffer.from(`${request}" `, 'latin1'));
    statuses[i] = status;
  }
  return { requests, statuses };
}

/** Writes ASCII digits of a non-negative integer; returns the new position. */
function putInt(buf: Buffer, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 0x30 + n;
    return pos + 1;
  }
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    buf[pos + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return pos + digits;
}

/** One write per 16 MiB. */
class BufferedFile {
  readonly buf = Buffer.allocUnsafe(BUFFER_BYTES);
  pos = 0;
  bytes = 0;
  lines = 0;
  constructor(readonly fd: number) {}

  /** Makes room for one more line. */
  reserve(): void {
    if (this.pos + MAX_LINE_BYTES > this.buf.length) this.flush();
  }

  flush(): void {
    let done = 0;
    while (done < this.pos) done += fs.writeSync(this.fd, this.buf, done, this.pos - done);
    this.bytes += this.pos;
    this.pos = 0;
  }
}

/**
 * Appends the traffic of [from, until) to `out`. A few percent of lines
 * carry a timestamp 1-4 s older than their neighbours, as a server writes a
 * slow request when it ends.
 */
function writeSegment(out: BufferedFile, clients: EncodedClient[], table: AliasTable, totalRate: number, segment: Segment): void {
  const rng = mulberry32(segment.seed);
  const poolRng = mulberry32(segment.seed ^ 0x5bd1e995);
  const apiPool = makePool(poolRng, (r) => ({ request: requestLine(r, apiPath(r)), status: 0 }));
  const uiPool = makePool(poolRng, (r) => ({ request: requestLine(r, uiPath(r)), status: 0 }));
  const otherPool = makePool(poolRng, (r) => nonApiRequest(r, 'assorted'));
  const floodPool = makePool(poolRng, (r) => ({ request: `GET /search?q=${randomInt(r, 0, 0xffffff).toString(36)}&format=json HTTP/1.1`, status: 0 }));
  const floodSuffixes = Array.from({ length: 8 }, () => Buffer.from(`"-" "${browserUserAgent(poolRng)}"\n`, 'latin1'));
  const middle = Buffer.from('] "', 'latin1');
  const stamps: Buffer[] = new Array(STAMP_RING);
  const stampSecond = new Float64Array(STAMP_RING).fill(NaN);
  const stamp = (second: number): Buffer => {
    const slot = second % STAMP_RING;
    if (stampSecond[slot] !== second) {
      stamps[slot] = Buffer.from(formatLogTimestamp(second), 'latin1');
      stampSecond[slot] = second;
    }
    return stamps[slot];
  };
  const { threshold, alias } = table;
  const clientCount = clients.length;
  const floodSeparator = Buffer.from(' - - [', 'latin1');
  const floodRate = segment.floodRate ?? 0;
  const floodNetworks = segment.floodNetworks ?? 0;
  let floodCounter = 0;
  const buf = out.buf;

  for (let second = segment.from; second < segment.until; second++) {
    const normalLines = Math.floor(totalRate * (0.9 + 0.2 * rng()) + rng());
    const floodLines = floodRate > 0 ? Math.floor(floodRate * (0.9 + 0.2 * rng()) + rng()) : 0;
    const lines = normalLines + floodLines;
    for (let n = 0; n < lines; n++) {
      out.reserve();
      let pos = out.pos;
      const late = rng() < 0.03 ? 1 + Math.floor(rng() * MAX_LATE_SECONDS) : 0;
      // Flood lines are spread evenly among the normal ones.
      const isFlood = floodLines > 0 && rng() * lines < floodLines;
      let statusDraw = 0;
      let request: Buffer;
      let suffix: Buffer;
      if (isFlood) {
        const c = floodCounter++;
        if (floodNetworks > 0) {
          pos += buf.write(`2a0c:db8:${(c % floodNetworks).toString(16)}:1:${(c >>> 16).toString(16)}:${(c & 0xffff).toString(16)}::1`, pos, 'latin1');
        } else if ((c & 7) < 2) {
          pos += buf.write(`2a0c:${((c >>> 12) + 1).toString(16)}:${((c & 0xfff) + 1).toString(16)}::${((c % 0xfffe) + 1).toString(16)}`, pos, 'latin1');
        } else {
          // An odd multiplier permutes 32-bit values: every counter gives another address.
          const v = (Math.imul(c, 0x9e3779b1) + 0x01000000) >>> 0;
          pos += buf.write(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`, pos, 'latin1');
        }
        buf.set(floodSeparator, pos);
        pos += 6;
        request = floodPool.requests[(rng() * POOL_SIZE) | 0];
        suffix = floodSuffixes[(rng() * 8) | 0];
      } else {
        const slot = (rng() * clientCount) | 0;
        const client = clients[rng() < threshold[slot] ? slot : alias[slot]];
        buf.set(client.prefix, pos);
        pos += client.prefix.length;
        if (rng() < client.apiShare) {
          request = (client.mix === 'ui' ? uiPool : apiPool).requests[(rng() * POOL_SIZE) | 0];
        } else {
          const i = (rng() * POOL_SIZE) | 0;
          request = otherPool.requests[i];
          statusDraw = otherPool.statuses[i];
        }
        suffix = client.refererShare > 0 && rng() < client.refererShare ? client.referer : client.plain;
      }
      const s = stamp(second - late);
      buf.set(s, pos);
      pos += s.length;
      buf.set(middle, pos);
      pos += 3;
      buf.set(request, pos);
      pos += request.length;
      const status = statusDraw === 0 ? apiStatus(rng) : statusDraw;
      pos = putInt(buf, pos, status);
      buf[pos++] = 0x20;
      pos = putInt(buf, pos, responseBytes(rng, status));
      buf[pos++] = 0x20;
      buf.set(suffix, pos);
      pos += suffix.length;
      out.pos = pos;
      out.lines++;
    }
  }
}

/** Writes a whole log file, segment after segment, about `Σ client rates` lines a second; returns its size and line count. */
export function writeLog(file: string, spec: LogSpec): WrittenLog {
  const started = performance.now();
  const suffixesByUserAgent = new Map<string, Suffixes>();
  const clients = spec.clients.map((client) => encodeClient(client, spec.segments, suffixesByUserAgent));
  const totalRate = clients.reduce((sum, c) => sum + c.rate, 0);
  const table = aliasTable(clients, totalRate);
  const fd = fs.openSync(file, 'w');
  const out = new BufferedFile(fd);
  try {
    for (const segment of spec.segments) writeSegment(out, clients, table, totalRate, segment);
    out.flush();
  } finally {
    fs.closeSync(fd);
  }
  return { lines: out.lines, bytes: out.bytes, ms: performance.now() - started };
}
