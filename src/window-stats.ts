/**
 * Per-client statistics over the long and the short window, built while the
 * log's bytes go by. Pure: it is fed buffers and never reads a file itself.
 */
import { canonicalizeIp } from './ip-address.js';
import { type LogEntry, type RequestClassifier, newLogEntry, parseLine, userAgentStartsWithAny } from './log-line.js';

/** Instants in epoch seconds. Long window: start <= t <= end. Short window: shortStart < t <= end. */
export interface AnalysisWindow {
  start: number;
  shortStart: number;
  end: number;
}

export interface ClientStats {
  longTotal: number;
  longApi: number;
  shortTotal: number;
  shortApi: number;
  /** Sent no user agent, or one starting with a UA_BLOCKLIST prefix, at least once in the long window. */
  badUa: boolean;
}

export interface WindowStats {
  /** Canonical address to statistics, for every client that is neither whitelisted nor blacklisted. */
  clients: ClientTable;
  /** API requests answered 200 in the short window, by every client (the database load). */
  total200: number;
  linesRead: number;
  garbageLines: number;
  /** The first few garbage lines, for the verbose summary. */
  garbageSamples: string[];
  linesInWindow: number;
  /** Lines of a whitelisted or blacklisted client inside the window. */
  listedLines: number;
  /** True when reading stopped at a line well past the window end (a replay of an old hour). */
  reachedEnd: boolean;
}

const NOT_AN_ADDRESS = -1;
const LISTED = -2;
const INITIAL_CAPACITY = 1024;

/**
 * Clients in columns of typed arrays, indexed through one Map, so that a
 * window with a million distinct (spoofed) addresses costs tens of bytes per
 * client rather than an object each.
 */
export class ClientTable {
  private readonly indexByRawAddress = new Map<string, number>();
  private readonly indexByAddress = new Map<string, number>();
  private readonly addresses: string[] = [];
  /** Whitelisted or blacklisted addresses seen in the window: a banned network's clients are banned one by one. */
  readonly listedAddresses = new Set<string>();
  private longTotal = new Int32Array(INITIAL_CAPACITY);
  private longApi = new Int32Array(INITIAL_CAPACITY);
  private shortTotal = new Int32Array(INITIAL_CAPACITY);
  private shortApi = new Int32Array(INITIAL_CAPACITY);
  private badUa = new Uint8Array(INITIAL_CAPACITY);

  constructor(private readonly isListed: (address: string) => boolean) {}

  get size(): number {
    return this.addresses.length;
  }

  /** Index of the client written as `raw` in the log, NOT_AN_ADDRESS, or LISTED. */
  indexOfRaw(raw: string): number {
    const known = this.indexByRawAddress.get(raw);
    if (known !== undefined) return known;
    const address = canonicalizeIp(raw);
    let index: number;
    if (address === undefined) index = NOT_AN_ADDRESS;
    else if (this.isListed(address)) {
      index = LISTED;
      this.listedAddresses.add(address);
    } else index = this.indexByAddress.get(address) ?? this.add(address);
    this.indexByRawAddress.set(raw, index);
    return index;
  }

  private add(address: string): number {
    const index = this.addresses.length;
    if (index === this.longTotal.length) this.grow();
    this.addresses.push(address);
    this.indexByAddress.set(address, index);
    return index;
  }

  private grow(): void {
    const capacity = this.longTotal.length * 2;
    const grown = <T extends Int32Array | Uint8Array>(column: T): T => {
      const next = new (column.constructor as new (n: number) => T)(capacity);
      next.set(column);
      return next;
    };
    this.longTotal = grown(this.longTotal);
    this.longApi = grown(this.longApi);
    this.shortTotal = grown(this.shortTotal);
    this.shortApi = grown(this.shortApi);
    this.badUa = grown(this.badUa);
  }

  count(index: number, isApi: boolean, isShort: boolean, badUa: boolean): void {
    this.longTotal[index]++;
    if (isApi) this.longApi[index]++;
    if (isShort) {
      this.shortTotal[index]++;
      if (isApi) this.shortApi[index]++;
    }
    if (badUa) this.badUa[index] = 1;
  }

  hasBadUa(index: number): boolean {
    return this.badUa[index] === 1;
  }

  get(address: string): ClientStats | undefined {
    const index = this.indexByAddress.get(address);
    return index === undefined ? undefined : this.statsAt(index);
  }

  private statsAt(index: number): ClientStats {
    return {
      longTotal: this.longTotal[index],
      longApi: this.longApi[index],
      shortTotal: this.shortTotal[index],
      shortApi: this.shortApi[index],
      badUa: this.badUa[index] === 1,
    };
  }

  *entries(): IterableIterator<[string, ClientStats]> {
    for (let i = 0; i < this.addresses.length; i++) yield [this.addresses[i], this.statsAt(i)];
  }
}

export interface WindowReaderOptions {
  window: AnalysisWindow;
  classifier: RequestClassifier;
  uaBlocklist: readonly string[];
  /** Whitelisted or blacklisted: such clients get no statistics. */
  isListed: (address: string) => boolean;
  /**
   * How far past the window end a line's time must be before reading stops:
   * servers log when a request ends, so lines are only roughly in order.
   */
  disorderSeconds: number;
}

const NEWLINE = 0x0a;
const MAX_LINE_BYTES = 64 * 1024;
const MAX_GARBAGE_SAMPLES = 5;

/**
 * Consumes the log's bytes from the seek position on and counts every line by
 * its own timestamp. Lines may be split across `push` calls at any byte.
 */
export class WindowReader {
  private readonly window: AnalysisWindow;
  private readonly classifier: RequestClassifier;
  private readonly uaPrefixes: Buffer[];
  private readonly stopAfter: number;
  private readonly entry: LogEntry = newLogEntry();
  private readonly stats: WindowStats;
  private carry: Buffer = Buffer.alloc(0);
  private skippingOverlongLine = false;

  constructor(options: WindowReaderOptions) {
    this.window = options.window;
    this.classifier = options.classifier;
    this.uaPrefixes = options.uaBlocklist.map((prefix) => Buffer.from(prefix, 'utf8'));
    this.stopAfter = options.window.end + options.disorderSeconds;
    this.stats = {
      clients: new ClientTable(options.isListed),
      total200: 0,
      linesRead: 0,
      garbageLines: 0,
      garbageSamples: [],
      linesInWindow: 0,
      listedLines: 0,
      reachedEnd: false,
    };
  }

  /** True once a line far enough past the window end was seen: the caller may stop reading. */
  get done(): boolean {
    return this.stats.reachedEnd;
  }

  /** Feeds bytes [from, to) of `chunk`. The chunk may be reused by the caller afterwards. */
  push(chunk: Buffer, from = 0, to = chunk.length): void {
    let at = from;
    if (this.carry.length > 0 || this.skippingOverlongLine) {
      const newline = chunk.indexOf(NEWLINE, at);
      if (newline < 0 || newline >= to) {
        this.keepPartialLine(chunk, at, to);
        return;
      }
      if (this.skippingOverlongLine) this.skippingOverlongLine = false;
      else {
        const line = Buffer.concat([this.carry, chunk.subarray(at, newline)]);
        this.processLine(line, 0, line.length);
      }
      this.carry = Buffer.alloc(0);
      at = newline + 1;
    }
    while (at < to && !this.stats.reachedEnd) {
      const newline = chunk.indexOf(NEWLINE, at);
      if (newline < 0 || newline >= to) {
        this.keepPartialLine(chunk, at, to);
        return;
      }
      this.processLine(chunk, at, newline);
      at = newline + 1;
    }
  }

  /**
   * Ends one file: a last line without a newline must not be joined with the
   * first line of the next file. It is counted only if it parses: on a live
   * log it is usually one the server is still writing.
   */
  endOfFile(): void {
    if (this.carry.length > 0 && !this.skippingOverlongLine) {
      if (parseLine(this.carry, 0, this.carry.length, this.classifier, this.entry)) {
        this.processLine(this.carry, 0, this.carry.length);
      }
    }
    this.carry = Buffer.alloc(0);
    this.skippingOverlongLine = false;
  }

  /** Ends the input and returns the statistics. */
  finish(): WindowStats {
    this.endOfFile();
    return this.stats;
  }

  private keepPartialLine(chunk: Buffer, from: number, to: number): void {
    if (this.skippingOverlongLine) return;
    if (this.carry.length + (to - from) > MAX_LINE_BYTES) {
      // Nothing legitimate is that long; skip to the next newline instead of buffering it.
      this.stats.linesRead++;
      this.countGarbage(Buffer.concat([this.carry, chunk.subarray(from, Math.min(to, from + 200))]), 0, 200);
      this.carry = Buffer.alloc(0);
      this.skippingOverlongLine = true;
      return;
    }
    this.carry = Buffer.concat([this.carry, chunk.subarray(from, to)]);
  }

  private countGarbage(buf: Buffer, start: number, end: number): void {
    const stats = this.stats;
    stats.garbageLines++;
    if (stats.garbageSamples.length < MAX_GARBAGE_SAMPLES) {
      const sample = buf.toString('latin1', start, Math.min(end, start + 200, buf.length));
      stats.garbageSamples.push(sample.replace(/[^\x20-\x7e]/g, '?'));
    }
  }

  private processLine(buf: Buffer, start: number, end: number): void {
    const stats = this.stats;
    const entry = this.entry;
    stats.linesRead++;
    if (end - start > MAX_LINE_BYTES || !parseLine(buf, start, end, this.classifier, entry)) {
      this.countGarbage(buf, start, end);
      return;
    }
    const time = entry.time;
    const window = this.window;
    if (time < window.start) return;
    if (time > window.end) {
      if (time > this.stopAfter) stats.reachedEnd = true;
      return;
    }
    const clients = stats.clients;
    const index = clients.indexOfRaw(buf.toString('latin1', entry.ipStart, entry.ipEnd));
    if (index === NOT_AN_ADDRESS) {
      this.countGarbage(buf, start, end);
      return;
    }
    stats.linesInWindow++;
    const isShort = time > window.shortStart;
    if (isShort && entry.isApi && entry.status === 200) stats.total200++;
    if (index === LISTED) {
      stats.listedLines++;
      return;
    }
    const badUa =
      !clients.hasBadUa(index) &&
      (!entry.hasUserAgent || (this.uaPrefixes.length > 0 && userAgentStartsWithAny(buf, entry, this.uaPrefixes)));
    clients.count(index, entry.isApi, isShort, badUa);
  }
}
