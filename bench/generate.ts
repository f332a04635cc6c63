/**
 * Benchmark logs: millions of seeded, realistic combined-format lines,
 * written fast (lines are assembled from pre-encoded byte pieces straight
 * into a 16 MiB buffer, one write per buffer).
 *
 * test/support/log-generator.ts models each client's arrivals and renders a
 * string per line: right for the differential tests, but about 175k
 * lines/s, a minute for the 10M-line log. Here the same kind of traffic
 * (the same address book, user agents and request mix: API, web UI,
 * assorted pages, CORS preflights, lines without a request, 3 % of clients
 * without user agent, heavy API scripts) is drawn per second from a weighted
 * client table, at several million lines per second. A few percent of lines
 * carry a timestamp 1-4 s older than their neighbours, as a server writes a
 * slow request when it ends.
 *
 * Logs are cached in a directory and reused while their parameters (and
 * GENERATOR_VERSION) are unchanged.
 */
import fs from 'node:fs';
import {
  AddressBook,
  type RequestAndStatus,
  REFERER_URL,
  type Rng,
  apiPath,
  apiStatus,
  browserUserAgent,
  formatLogTimestamp,
  mulberry32,
  nonApiRequest,
  randomInt,
  requestLine,
  responseBytes,
  scriptUserAgent,
  uiPath,
} from '../test/support/log-generator.js';

/** Bump when the bytes a given set of parameters produces change. */
export const GENERATOR_VERSION = 4;

const BUFFER_BYTES = 16 * 1024 * 1024;
const MAX_LINE_BYTES = 2048;

// ---------------------------------------------------------------------------
// Population

type Kind = 'api' | 'ui' | 'browse';

interface Client {
  kind: Kind;
  apiShare: number;
  /** `ADDRESS - - [` */
  prefix: Buffer;
  /** `"-" "UA"\n` and, for browsers, `"https://…/ui/search.html" "UA"\n` */
  suffixPlain: Buffer;
  suffixReferer: Buffer;
  refererShare: number;
  /** Requests per second. */
  rate: number;
}

export interface TrafficOptions {
  /** Seed of the client population (addresses, user agents, rates). */
  populationSeed: number;
  /** Lines per second, all clients together. */
  rate: number;
  normalClients: number;
}

const REFERER = Buffer.from(`"${REFERER_URL}" "`);

function makeClient(kind: Kind, address: string, userAgent: string | undefined, apiShare: number, rate: number): Client {
  const ua = userAgent ?? '-';
  return {
    kind,
    apiShare,
    prefix: Buffer.from(`${address} - - [`, 'latin1'),
    suffixPlain: Buffer.from(`"-" "${ua}"\n`, 'latin1'),
    suffixReferer: Buffer.concat([REFERER, Buffer.from(`${ua}"\n`, 'latin1')]),
    refererShare: kind === 'api' ? 0 : 0.4,
    rate,
  };
}

/**
 * Ordinary clients far below every limit (rates skewed: most send a request
 * every minute or so, a few one every few seconds), plus the ones a busy
 * public API always has: API scripts over the bulk limit, one over the block
 * limit, one bulk script without user agent.
 */
function population(options: TrafficOptions): Client[] {
  const rng = mulberry32(options.populationSeed);
  const book = new AddressBook(rng);
  const heavy: Client[] = [];
  for (let i = 0; i < 12; i++) heavy.push(makeClient('api', i % 4 === 3 ? book.ipv6() : book.ipv4(), scriptUserAgent(rng), 0.97, 3.5));
  heavy.push(makeClient('api', book.ipv4(), scriptUserAgent(rng), 0.98, 7));
  heavy.push(makeClient('api', book.ipv4(), undefined, 0.97, 3.5));
  const heavyRate = heavy.reduce((sum, c) => sum + c.rate, 0);
  const normal: Client[] = [];
  let weightSum = 0;
  for (let i = 0; i < options.normalClients; i++) {
    const isBrowser = rng() < 0.6;
    const address = rng() < 0.15 ? book.ipv6() : book.ipv4();
    const userAgent = rng() < 0.03 ? undefined : isBrowser ? browserUserAgent(rng) : scriptUserAgent(rng);
    const kind: Kind = isBrowser ? (rng() < 0.5 ? 'ui' : 'browse') : 'api';
    const apiShare = isBrowser ? 0.55 + rng() * 0.3 : 0.9 + rng() * 0.1;
    const weight = 0.1 + rng() ** 3 * 3;
    weightSum += weight;
    normal.push(makeClient(kind, address, userAgent, apiShare, weight));
  }
  const normalRate = Math.max(0, options.rate - heavyRate);
  for (const c of normal) c.rate = (c.rate / weightSum) * normalRate;
  return [...heavy, ...normal];
}

/** Client indices laid out by rate, so that a uniform draw picks a client in proportion to its rate. */
function pickTable(clients: Client[], bits: number): Int32Array {
  const size = 1 << bits;
  const table = new Int32Array(size);
  const total = clients.reduce((sum, c) => sum + c.rate, 0);
  let cumulative = 0;
  let slot = 0;
  for (let i = 0; i < clients.length; i++) {
    cumulative += clients[i].rate;
    const until = i === clients.length - 1 ? size : Math.round((cumulative / total) * size);
    while (slot < until) table[slot++] = i;
  }
  return table;
}

// ---------------------------------------------------------------------------
// Requests, pre-rendered

interface Pool {
  /** `REQUEST" ` */
  requests: Buffer[];
  /** 0: draw an API status. */
  statuses: Int32Array;
}

const POOL_SIZE = 4096;

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

// ---------------------------------------------------------------------------
// Writing

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

export interface Segment {
  /** Seconds [from, until), epoch. */
  from: number;
  until: number;
  /** Seed of this segment's draws. */
  seed: number;
  /** Spoofed flood: this many extra lines per second, each from an address never seen before. */
  floodRate?: number;
}

const STAMP_RING = 8;
const MAX_LATE_SECONDS = 4;

/**
 * Appends the traffic of [from, until) to `out`. Deterministic for given
 * options and segment.
 */
function writeSegment(out: BufferedFile, clients: Client[], table: Int32Array, tableBits: number, options: TrafficOptions, segment: Segment): void {
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
  const tableShift = 32 - tableBits;
  const floodSeparator = Buffer.from(' - - [', 'latin1');
  const floodRate = segment.floodRate ?? 0;
  let floodCounter = 0;
  const buf = out.buf;

  for (let second = segment.from; second < segment.until; second++) {
    const normalLines = Math.floor(options.rate * (0.9 + 0.2 * rng()) + rng());
    const floodLines = floodRate > 0 ? Math.floor(floodRate * (0.9 + 0.2 * rng()) + rng()) : 0;
    const lines = normalLines + floodLines;
    for (let n = 0; n < lines; n++) {
      out.reserve();
      let pos = out.pos;
      // Requests that took long are logged when they end, with the second they arrived in.
      const late = rng() < 0.03 ? 1 + Math.floor(rng() * MAX_LATE_SECONDS) : 0;
      // Flood lines are spread evenly among the normal ones.
      const isFlood = floodLines > 0 && rng() * lines < floodLines;
      let statusDraw = 0;
      let request: Buffer;
      let suffix: Buffer;
      if (isFlood) {
        const c = floodCounter++;
        if ((c & 7) < 2) {
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
        const client = clients[table[(rng() * 4294967296) >>> tableShift]];
        buf.set(client.prefix, pos);
        pos += client.prefix.length;
        if (rng() < client.apiShare) {
          request = (client.kind === 'ui' ? uiPool : apiPool).requests[(rng() * POOL_SIZE) | 0];
        } else {
          const i = (rng() * POOL_SIZE) | 0;
          request = otherPool.requests[i];
          statusDraw = otherPool.statuses[i];
        }
        suffix = client.refererShare > 0 && rng() < client.refererShare ? client.suffixReferer : client.suffixPlain;
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

export interface LogSpec {
  traffic: TrafficOptions;
  segments: Segment[];
}

export interface WrittenLog {
  lines: number;
  bytes: number;
  ms: number;
}

const TABLE_BITS = 20;

/** Writes a whole log file; returns its size and line count. */
export function writeLog(file: string, spec: LogSpec): WrittenLog {
  const started = performance.now();
  const clients = population(spec.traffic);
  const table = pickTable(clients, TABLE_BITS);
  const fd = fs.openSync(file, 'w');
  const out = new BufferedFile(fd);
  try {
    for (const segment of spec.segments) writeSegment(out, clients, table, TABLE_BITS, spec.traffic, segment);
    out.flush();
  } finally {
    fs.closeSync(fd);
  }
  return { lines: out.lines, bytes: out.bytes, ms: performance.now() - started };
}
