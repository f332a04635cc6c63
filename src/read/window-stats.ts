/**
 * Per-client statistics over the long and the short window, built while the
 * log's bytes go by. Pure: it is fed buffers and never reads a file itself.
 */
import { AddressTable, type AddressTableSnapshot, MAX_KEY_BYTES, MISSING, hashBytes } from './address-table.js';
import { canonicalizeIp, parseIpv4Bytes } from '../address/ip-address.js';
import type { ClientResolver } from './client-address.js';
import { type LineFormat, formatsOrDefault, lineTimeOf } from './log-format.js';
import {
  NEWLINE,
  type LogEntry,
  type RequestClassifier,
  completeUserAgent,
  newLogEntry,
  newRequestClassifier,
  uaPrefixesNeedEnd,
  userAgentIsMissing,
  userAgentStartsWithAny,
  userAgentStartsWithAnyBefore,
} from './log-line.js';
import { REQUEST_LINE } from './line-fields.js';
import { classifyRequest, isApiRequest } from './request-path.js';

/** Instants in epoch seconds. Long window: start <= t <= end. Short window: shortStart < t <= end. */
export interface AnalysisWindow {
  start: number;
  shortStart: number;
  end: number;
  /** The run's clock (epoch seconds): a line later than now plus the disorder allowance is a future line. Default: end. */
  now?: number;
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
  /** Lines stamped later than now plus the disorder allowance: skipped (a clock that ran ahead), never a reason to stop reading. */
  futureLines: number;
  /** The latest time (epoch seconds) of a line read that is not a future line; NaN when none was readable. Far older than now: logging stopped, or the wrong file. */
  newestLineTime: number;
}

/**
 * The statistics of several logs read into one shared ClientTable, as one:
 * counts are summed, so the database load and the window's lines are those
 * of every server; the newest line is the newest of any.
 */
export function mergeWindowStats(parts: readonly WindowStats[]): WindowStats {
  if (parts.length === 1) return parts[0];
  const sum = (pick: (stats: WindowStats) => number) => parts.reduce((total, stats) => total + pick(stats), 0);
  const newest = parts.map((stats) => stats.newestLineTime).filter((time) => time === time);
  return {
    clients: parts[0].clients,
    total200: sum((stats) => stats.total200),
    linesRead: sum((stats) => stats.linesRead),
    garbageLines: sum((stats) => stats.garbageLines),
    garbageSamples: parts.flatMap((stats) => stats.garbageSamples).slice(0, MAX_GARBAGE_SAMPLES),
    linesInWindow: sum((stats) => stats.linesInWindow),
    listedLines: sum((stats) => stats.listedLines),
    reachedEnd: parts.every((stats) => stats.reachedEnd),
    futureLines: sum((stats) => stats.futureLines),
    newestLineTime: newest.length > 0 ? Math.max(...newest) : NaN,
  };
}

/** Statistics before the first line is counted, into `clients`. */
export function emptyWindowStats(clients: ClientTable): WindowStats {
  return { clients, total200: 0, linesRead: 0, garbageLines: 0, garbageSamples: [], linesInWindow: 0, listedLines: 0, reachedEnd: false, futureLines: 0, newestLineTime: NaN };
}

/** Client indices that are no client: the line's address is none, or it is whitelisted or blacklisted. */
export const NOT_AN_ADDRESS = -1;
export const LISTED = -2;

/** A client's row: its counts side by side, so that counting a line touches one cache line, and where its address is. */
const LONG_TOTAL = 0;
const LONG_API = 1;
const SHORT_TOTAL = 2;
const SHORT_API = 3;
const BAD_UA = 4;
const KEY_OFFSET = 5;
const ROW_INTS = 6;
/** The counts of a row: all but its key's offset. */
const COUNTS = KEY_OFFSET;
/**
 * Rows live in pages of 32,768 clients (768 KiB) that never move: a table
 * that grows to a million clients copies nothing, and never holds an old and
 * a new copy at once. Pages are zero-filled; the kernel commits their memory
 * only as rows are written, so a typical hour's few thousand clients cost a
 * fraction of the first one.
 */
const PAGE_SHIFT = 15;
const PAGE_MASK = (1 << PAGE_SHIFT) - 1;
const PAGE_INTS = ROW_INTS << PAGE_SHIFT;

/**
 * Clients in rows of int32 counts, found by the bytes of their address as
 * the log spells it (address-table.ts), so that a line costs neither a string
 * nor a Map lookup, and a window with a million distinct (spoofed) addresses
 * costs a few tens of bytes per client rather than objects and strings.
 *
 * Every spelling seen is a key: a client's canonical address maps to its
 * index, another spelling of it (upper case, uncompressed IPv6) to the same
 * index, and a spelling that is no address, or a listed one, to
 * NOT_AN_ADDRESS or LISTED. Only a spelling never seen before makes a string,
 * to canonicalise it. Canonical addresses are made again, on demand, from the
 * key bytes.
 */
export class ClientTable {
  private keys = new AddressTable();
  /** Whitelisted or blacklisted addresses seen in the window: a banned network's clients are banned one by one. */
  readonly listedAddresses = new Set<string>();
  private clientCount = 0;
  /** Client i is row i & PAGE_MASK of page i >>> PAGE_SHIFT. Page 0 exists from the start: lines outside the window count 0 against row 0. */
  private pages: Int32Array[] = [new Int32Array(PAGE_INTS)];
  private readonly scratch = Buffer.alloc(MAX_KEY_BYTES);
  /**
   * Set once rows come from elsewhere (an incremental state), whose lines may
   * since have been taken back: a row without lines is then no client, as a
   * full read, which makes none, would have it.
   */
  private linesTakenBack = false;
  /**
   * Kept once lines are taken back: the rows without lines, and whether a
   * count went where no log could take it. A count taken back only from a
   * row it was added to leaves every row as a log makes it after each line
   * (no count below zero, none without lines), so a row is judged when it
   * changes, not the whole table at every run.
   */
  private emptyRows = 0;
  private rowsBroken = false;

  /**
   * `keyOf` gives the key a canonical address is counted under: the address
   * itself, or its network (client-key.ts). Lists are matched by address.
   * `isListedIpv4`, isListed for an IPv4 address as its number, is given when
   * keyOf keeps every IPv4 address as it is: a new client written as a
   * canonical dotted quad, most of them, is then added without a string.
   */
  constructor(
    private readonly isListed: (address: string) => boolean,
    private readonly keyOf: (address: string) => string = (address) => address,
    private readonly isListedIpv4?: (value: number) => boolean,
  ) {}

  /** Clients with a line in the window. */
  get size(): number {
    return this.clientCount - this.emptyRows;
  }

  /** Index of the client written as bytes [start, end) of `buf` (hashBytes `hash`), NOT_AN_ADDRESS, LISTED, or MISSING for a spelling not seen yet. */
  lookUp(buf: Buffer, start: number, end: number, hash: number): number {
    return this.keys.get(buf, start, end, hash);
  }

  /** As lookUp, but a spelling not seen yet is looked into, and remembered. */
  indexOf(buf: Buffer, start: number, end: number, hash: number): number {
    const known = this.keys.get(buf, start, end, hash);
    return known !== MISSING ? known : this.resolve(buf, start, end, hash);
  }

  /** A spelling not seen before: canonicalised, and remembered. */
  resolve(buf: Buffer, start: number, end: number, hash: number): number {
    if (this.isListedIpv4 !== undefined) {
      // A canonical dotted quad is its own canonical address and key; a listed one takes the way below, which keeps it.
      const value = parseIpv4Bytes(buf, start, end);
      if (value >= 0 && !this.isListedIpv4(value)) return this.add(buf, start, end, hash);
    }
    const raw = buf.toString('latin1', start, end);
    const address = canonicalizeIp(raw);
    let index: number;
    let key: string;
    if (address === undefined) index = NOT_AN_ADDRESS;
    else if (this.isListed(address)) {
      index = LISTED;
      this.listedAddresses.add(address);
    } else if ((key = this.keyOf(address)) === raw) {
      index = this.add(buf, start, end, hash);
      return index; // the raw spelling is the canonical key just added
    } else {
      const length = this.encode(key); // canonical keys are short ASCII
      const canonicalHash = hashBytes(this.scratch, 0, length);
      const known = this.keys.get(this.scratch, 0, length, canonicalHash);
      index = known !== MISSING ? known : this.add(this.scratch, 0, length, canonicalHash);
    }
    // Remembered, unless too long to be any address (and a key).
    if (end - start <= MAX_KEY_BYTES) this.keys.insert(buf, start, end, hash, index);
    return index;
  }

  /** Adds a client whose canonical address, not yet a key, is bytes [start, end) of `buf`. */
  private add(buf: Buffer, start: number, end: number, hash: number): number {
    const index = this.clientCount;
    if (index >>> PAGE_SHIFT === this.pages.length) this.pages.push(new Int32Array(PAGE_INTS));
    this.pages[index >>> PAGE_SHIFT][(index & PAGE_MASK) * ROW_INTS + KEY_OFFSET] = this.keys.insert(buf, start, end, hash, index);
    this.clientCount = index + 1;
    // Without lines until counted: judgeRow then sees it gain them.
    if (this.linesTakenBack) this.emptyRows++;
    return index;
  }

  /** Writes an ASCII string into the scratch buffer; returns its length, or -1 if it cannot be a key. */
  private encode(text: string): number {
    if (text.length > MAX_KEY_BYTES) return -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return -1;
      this.scratch[i] = c;
    }
    return text.length;
  }

  /**
   * Adds `weight` (1, or 0 to change nothing; -1 takes a line back, for an
   * incremental run) lines to the client's counts; with the same code for
   * either. Bad user agents are counted, not flagged: a flag cannot be taken back.
   */
  count(index: number, weight: number, isApi: boolean, isShort: boolean, badUa: boolean): void {
    const page = this.pages[index >>> PAGE_SHIFT];
    const row = (index & PAGE_MASK) * ROW_INTS;
    const linesBefore = page[row + LONG_TOTAL];
    page[row + LONG_TOTAL] = linesBefore + weight;
    page[row + LONG_API] += isApi ? weight : 0;
    page[row + SHORT_TOTAL] += isShort ? weight : 0;
    page[row + SHORT_API] += isApi && isShort ? weight : 0;
    page[row + BAD_UA] += badUa ? weight : 0;
    if (this.linesTakenBack) this.judgeRow(page, row, linesBefore);
  }

  private judgeRow(page: Int32Array, row: number, linesBefore: number): void {
    const lines = page[row + LONG_TOTAL];
    if ((lines === 0) !== (linesBefore === 0)) this.emptyRows += lines === 0 ? 1 : -1;
    let negative = false;
    let any = false;
    for (let k = 0; k < COUNTS; k++) {
      negative ||= page[row + k] < 0;
      any ||= page[row + k] !== 0;
    }
    if (negative || (lines === 0 && any)) this.rowsBroken = true;
  }

  hasBadUa(index: number): boolean {
    return this.pages[index >>> PAGE_SHIFT][(index & PAGE_MASK) * ROW_INTS + BAD_UA] > 0;
  }

  private keyOffsetOf(index: number): number {
    return this.pages[index >>> PAGE_SHIFT][(index & PAGE_MASK) * ROW_INTS + KEY_OFFSET];
  }

  /** The statistics of the client whose canonical address is `address`. */
  get(address: string): ClientStats | undefined {
    const index = this.indexOfAddress(address);
    return index < 0 || this.isEmpty(index) ? undefined : this.statsAt(index);
  }

  /** Index of the client whose canonical address is `address`, or -1. */
  private indexOfAddress(address: string): number {
    const length = this.encode(address);
    if (length <= 0) return -1;
    const slot = this.keys.findSlot(this.scratch, 0, length, hashBytes(this.scratch, 0, length));
    if (slot < 0) return -1;
    const index = this.keys.valueAt(slot);
    // Another spelling of a client's address is a key too, but not its address.
    return index < 0 || this.keyOffsetOf(index) !== this.keys.keyOffsetAt(slot) ? -1 : index;
  }

  private statsAt(index: number): ClientStats {
    const page = this.pages[index >>> PAGE_SHIFT];
    const row = (index & PAGE_MASK) * ROW_INTS;
    return {
      longTotal: page[row + LONG_TOTAL],
      longApi: page[row + LONG_API],
      shortTotal: page[row + SHORT_TOTAL],
      shortApi: page[row + SHORT_API],
      badUa: page[row + BAD_UA] > 0,
    };
  }

  /** Every client, in the order first seen, with its canonical address. */
  *entries(): IterableIterator<[string, ClientStats]> {
    for (let i = 0; i < this.clientCount; i++) if (!this.isEmpty(i)) yield [this.keys.keyString(this.keyOffsetOf(i)), this.statsAt(i)];
  }

  private isEmpty(index: number): boolean {
    return this.pages[index >>> PAGE_SHIFT][(index & PAGE_MASK) * ROW_INTS + LONG_TOTAL] === 0;
  }

  /**
   * Adds counts made elsewhere (ClickHouse's per-address aggregates) to the
   * client's row: the same sums, and the same bad-UA flag, that counting
   * their lines one by one would leave.
   */
  addCounts(index: number, counts: ClientStats): void {
    const page = this.pages[index >>> PAGE_SHIFT];
    const row = (index & PAGE_MASK) * ROW_INTS;
    page[row + LONG_TOTAL] += counts.longTotal;
    page[row + LONG_API] += counts.longApi;
    page[row + SHORT_TOTAL] += counts.shortTotal;
    page[row + SHORT_API] += counts.shortApi;
    page[row + BAD_UA] += counts.badUa ? 1 : 0;
  }

  /**
   * Whether every row is one a log could have made: no count below zero, no
   * counts without lines. Counts taken out that were never in break this
   * (an incremental state that did not describe the log).
   */
  rowsAreCounts(): boolean {
    return !this.rowsBroken;
  }

  /**
   * Adds this table's clients with a line in the window, their keys and
   * counts, to `target`: a table without the rows whose lines all left.
   * Other spellings of their addresses are not carried over; a later line
   * spelt so is canonicalised again. Returns each row's index in `target`,
   * -1 for a row left out.
   */
  copyClientsWithLinesTo(target: ClientTable): Int32Array {
    const newIndex = new Int32Array(this.clientCount).fill(-1);
    target.keys.reserve(target.keys.size + this.clientCount);
    // The key's length byte first, as copyKey writes it.
    const key = Buffer.allocUnsafe(1 + MAX_KEY_BYTES);
    for (let i = 0; i < this.clientCount; i++) {
      const page = this.pages[i >>> PAGE_SHIFT];
      const row = (i & PAGE_MASK) * ROW_INTS;
      if (page[row + LONG_TOTAL] === 0) continue;
      const end = this.keys.copyKey(page[row + KEY_OFFSET], key, 0);
      const hash = hashBytes(key, 1, end);
      const known = target.keys.get(key, 1, end, hash);
      const index = known !== MISSING ? known : target.add(key, 1, end, hash);
      newIndex[i] = index;
      const targetRow = (index & PAGE_MASK) * ROW_INTS;
      for (let k = 0; k < COUNTS; k++) target.pages[index >>> PAGE_SHIFT][targetRow + k] += page[row + k];
    }
    return newIndex;
  }

  /** The table's parts as they are (views, not copies): its keys and its rows, for adopt(). */
  snapshot(): ClientTableSnapshot {
    return { keys: this.keys.snapshot(), clients: this.clientCount, emptyRows: this.emptyRows, rowPages: this.pages };
  }

  /**
   * Takes the keys and rows of a snapshot (another process's table) in
   * place of its own, which must be empty: a state's clients without a key
   * hashed or a row copied. False when the parts do not fit together.
   */
  adopt(snapshot: ClientTableSnapshot): boolean {
    if (this.clientCount !== 0 || this.keys.size !== 0) throw new RangeError('adopt() replaces an empty table');
    const keys = AddressTable.restore(snapshot.keys);
    const { clients, emptyRows, rowPages } = snapshot;
    if (keys === undefined || !(clients >= 0) || !(emptyRows >= 0 && emptyRows <= clients) || rowPages.length !== Math.max(1, Math.ceil(clients / (1 << PAGE_SHIFT)))) return false;
    if (rowPages.some((page) => page.length !== PAGE_INTS)) return false;
    this.keys = keys;
    this.pages = rowPages;
    this.clientCount = clients;
    this.emptyRows = emptyRows;
    this.linesTakenBack = true;
    return true;
  }

  /** Rows, with lines or without: an incremental run's table keeps those whose lines all left until there are too many. */
  get rowCount(): number {
    return this.clientCount;
  }

  /**
   * As entries(), but only the clients with more than `longApi` API requests
   * in the long window or more than `shortApi` in the short one, and those
   * whose canonical address is one of `addresses`: the few a decision can
   * concern, read from their rows without a string for any other.
   */
  *entriesOver(longApi: number, shortApi: number, addresses: Iterable<string>): IterableIterator<[string, ClientStats]> {
    const named = new Set<number>();
    for (const address of addresses) {
      const index = this.indexOfAddress(address);
      if (index >= 0) named.add(index);
    }
    for (const i of this.indicesOver(longApi, shortApi, named)) yield [this.keys.keyString(this.keyOffsetOf(i)), this.statsAt(i)];
  }

  /**
   * The scan of entriesOver, outside the generator: a cron run makes it once, cold, and a plain function's loop runs it
   * in two thirds of a generator's time. The few rows `named` are merged in after it, in row order, rather than looked
   * up in the set for each of the rows below the thresholds, nearly all of them.
   */
  private indicesOver(longApi: number, shortApi: number, named: ReadonlySet<number>): number[] {
    const indices: number[] = [];
    for (let i = 0; i < this.clientCount; i++) {
      const page = this.pages[i >>> PAGE_SHIFT];
      const row = (i & PAGE_MASK) * ROW_INTS;
      if (page[row + LONG_TOTAL] === 0) continue;
      // Written as decideAll's test, so that a NaN threshold keeps a client as it does there.
      if (!(page[row + LONG_API] <= longApi && page[row + SHORT_API] <= shortApi)) indices.push(i);
    }
    if (named.size === 0) return indices;
    const over = new Set(indices);
    for (const i of named) if (!over.has(i) && !this.isEmpty(i)) indices.push(i);
    return indices.sort((a, b) => a - b);
  }
}

export interface ClientTableSnapshot {
  keys: AddressTableSnapshot;
  clients: number;
  /** Of the clients, those whose lines have all left the window. */
  emptyRows: number;
  /** Rows of ROW_INTS int32s, in pages of ROW_PAGE_INTS. */
  rowPages: Int32Array[];
}

/** The int32s in a page of rows. */
export const ROW_PAGE_INTS = PAGE_INTS;

export interface WindowReaderOptions {
  window: AnalysisWindow;
  classifier: RequestClassifier;
  uaBlocklist: readonly string[];
  /** Whitelisted or blacklisted: such clients get no statistics. */
  isListed: (address: string) => boolean;
  /** isListed for an IPv4 address as its number, when clientKey keeps IPv4 addresses as they are (ClientTable). */
  isListedIpv4?: (value: number) => boolean;
  /**
   * How far past the window end a line's time must be before reading stops:
   * servers log when a request ends, so lines are only roughly in order.
   */
  disorderSeconds: number;
  /**
   * A replay reads on this much past the window end (plus disorderSeconds)
   * before it stops, so that after a clock stepped back the window's lines
   * that follow later-stamped ones are still counted. Default 0.
   */
  clockStepSeconds?: number;
  /** The log's formats, tried in order: the first that reads a line wins. Default: combined. */
  formats?: readonly LineFormat[];
  /** Picks the client from a forwarded-for chain, for formats whose client is a header (CLIENT_ADDRESS). */
  clientResolver?: ClientResolver;
  /** The key a canonical address is counted under (its network, client-key.ts); default: the address. */
  clientKey?: (address: string) => string;
  /**
   * The table to count into, shared by the readers of several servers' logs
   * so that a client's requests are summed over all of them; default: a
   * table of this reader's own (from isListed and clientKey).
   */
  clients?: ClientTable;
  /**
   * Told of every line read, for a caller that keeps lines rather than counts
   * (simulate). `client` is the table's index, NOT_AN_ADDRESS or LISTED, and
   * is only meaningful inside the window; an unreadable line has a NaN time.
   * `badUa` is the line's own, not the client's so far.
   */
  onLine?: LineListener;
  /** -1 takes the window's lines back out of `clients` (an incremental run's lines that left the window); default 1. */
  sign?: 1 | -1;
  /**
   * A window whose counts of the same lines are taken back out of `clients`
   * as the lines are counted in `window` (sign 1 only): an incremental run's
   * slice that a moved boundary makes count otherwise, read once instead of
   * once out and once in. Only the table's counts change by the difference;
   * the reader's own statistics are `window`'s.
   */
  takeBack?: AnalysisWindow;
}

export type LineListener = (time: number, client: number, isApi: boolean, status: number, badUa: boolean, buf: Buffer, ipStart: number, ipEnd: number) => void;

const MAX_LINE_BYTES = 64 * 1024;
/** Garbage lines a read keeps to show, however many readers (log blocks, servers, a query) it is made of. */
export const MAX_GARBAGE_SAMPLES = 5;
/** Unreadable lines kept as they are, long enough for a JSON line, to find a format that reads them. */
export const MAX_RAW_SAMPLES = 3;
const MAX_RAW_SAMPLE_BYTES = 16 * 1024;

/**
 * Consumes the log's bytes from the seek position on and counts every line by
 * its own timestamp. Lines may be split across `push` calls at any byte.
 */
export class WindowReader {
  private readonly window: AnalysisWindow;
  private readonly classifier: RequestClassifier;
  private readonly uaPrefixes: Buffer[];
  private readonly uaPrefixesNeedEnd: boolean;
  private readonly stopAfter: number;
  private readonly futureAfter: number;
  private newest = -Infinity;
  private readonly scan: (buf: Buffer, start: number, end: number, out: LogEntry) => boolean;
  /** The line's time by the first format that reads it, or NaN: for seeking and for finding a file's first line. */
  readonly lineTime: (buf: Buffer, start: number, end: number) => number;
  /** The first unreadable lines, as read. */
  readonly unreadableSamples: Buffer[] = [];
  private readonly clientResolver: ClientResolver | undefined;
  private readonly onLine: LineListener | undefined;
  private readonly sign: number;
  private readonly takeBack: AnalysisWindow | undefined;
  private readonly entry: LogEntry = newLogEntry();
  private readonly stats: WindowStats;
  private carry: Buffer = Buffer.alloc(0);
  private skippingOverlongLine = false;

  constructor(options: WindowReaderOptions) {
    this.window = options.window;
    this.classifier = options.classifier;
    this.uaPrefixes = options.uaBlocklist.map((prefix) => Buffer.from(prefix, 'utf8'));
    this.uaPrefixesNeedEnd = uaPrefixesNeedEnd(this.uaPrefixes);
    const now = options.window.now ?? options.window.end;
    this.futureAfter = now + options.disorderSeconds;
    // A window that ends now is read to the end of the log; a replay stops once lines are well past it.
    const stopAt = options.window.end + options.disorderSeconds + (options.clockStepSeconds ?? 0);
    this.stopAfter = stopAt < this.futureAfter ? stopAt : Infinity;
    const formats = formatsOrDefault(options.formats);
    this.clientResolver = formats.some((f) => f.forwarded) ? options.clientResolver : undefined;
    this.onLine = options.onLine;
    this.sign = options.sign ?? 1;
    if (options.takeBack !== undefined && this.sign !== 1) throw new RangeError('takeBack counts a window in, with sign 1');
    this.takeBack = options.takeBack;
    this.lineTime = lineTimeOf(formats);
    if (formats.length === 1) {
      this.scan = formats[0].scanOwn;
      formats[0].prime(this.entry);
    } else {
      this.scan = (buf, start, end, out) => {
        for (let i = 0; i < formats.length; i++) if (formats[i].scan(buf, start, end, out)) return true;
        return false;
      };
    }
    this.stats = emptyWindowStats(options.clients ?? new ClientTable(options.isListed, options.clientKey, options.isListedIpv4));
  }

  /** True once a line far enough past the window end was seen: the caller may stop reading. */
  get done(): boolean {
    return this.stats.reachedEnd;
  }

  /** Feeds bytes [from, to) of `chunk`. The chunk may be reused by the caller afterwards. */
  push(chunk: Buffer, from = 0, to = chunk.length): void {
    let at = from;
    if (this.skippingOverlongLine || this.carry.length > 0) {
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
    // keepPartialLine keeps the carry within MAX_LINE_BYTES.
    if (this.carry.length > 0 && !this.skippingOverlongLine && this.scanClient(this.carry, 0, this.carry.length)) {
      this.stats.linesRead++;
      this.countLine(this.carry, 0, this.carry.length);
    }
    this.carry = Buffer.alloc(0);
    this.skippingOverlongLine = false;
  }

  /** Ends the input and returns the statistics. */
  finish(): WindowStats {
    this.endOfFile();
    if (this.newest > -Infinity) this.stats.newestLineTime = this.newest;
    return this.stats;
  }

  /** Scans the line and, behind proxies, finds its client: false when it is not a line of the log's formats. */
  private scanClient(buf: Buffer, start: number, end: number): boolean {
    if (!this.scan(buf, start, end, this.entry)) return false;
    return this.clientResolver === undefined || this.clientResolver.resolve(buf, this.entry);
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
    if (this.unreadableSamples.length < MAX_RAW_SAMPLES) this.unreadableSamples.push(Buffer.from(buf.subarray(start, Math.min(end, start + MAX_RAW_SAMPLE_BYTES))));
    if (stats.garbageSamples.length < MAX_GARBAGE_SAMPLES) {
      const sample = buf.toString('latin1', start, Math.min(end, start + 200, buf.length));
      stats.garbageSamples.push(sample.replace(/[^\x20-\x7e]/g, '?'));
    }
  }

  private processLine(buf: Buffer, start: number, end: number): void {
    this.stats.linesRead++;
    if (end - start > MAX_LINE_BYTES || !this.scanClient(buf, start, end)) {
      this.countGarbage(buf, start, end);
      if (this.onLine !== undefined) this.onLine(NaN, NOT_AN_ADDRESS, false, 0, false, buf, start, start);
      return;
    }
    this.countLine(buf, start, end);
  }

  /**
   * Counts a line scanLine has read into this.entry. Every such line runs the
   * same code, counted with a weight of 0 when outside the window (against
   * row 0 when its client is not known: adding 0 changes nothing; no client
   * is made for it), so that the code the JIT compiles from the lines read
   * before the window still fits the lines inside it, and those of its short part.
   */
  private countLine(buf: Buffer, lineStart: number, end: number): void {
    const stats = this.stats;
    const entry = this.entry;
    const window = this.window;
    const time = entry.time;
    const afterEnd = time > window.end;
    const future = time > this.futureAfter;
    if (afterEnd && time > this.stopAfter && !future) stats.reachedEnd = true;
    stats.futureLines += future ? 1 : 0;
    if (time > this.newest && !future) this.newest = time;
    const weight = time >= window.start && !afterEnd ? this.sign : 0;
    const clients = stats.clients;
    const start = entry.ipStart;
    const ipEnd = entry.ipEnd;
    const ipHash = entry.ipHash;
    const status = entry.status;
    const takeBack = this.takeBack;
    const takenBack = takeBack !== undefined && time >= takeBack.start && time <= takeBack.end;
    let index = clients.lookUp(buf, start, ipEnd, ipHash);
    if (index === MISSING) index = weight === 0 && !takenBack ? 0 : clients.resolve(buf, start, ipEnd, ipHash);
    if (index === NOT_AN_ADDRESS) {
      if (weight !== 0) this.countGarbage(buf, lineStart, end);
      if (this.onLine !== undefined) this.onLine(time, NOT_AN_ADDRESS, false, status, false, buf, start, ipEnd);
      return;
    }
    const isShort = time > window.shortStart;
    // The request line (combined) without the dispatch: the hot path, kept as short as it was.
    const isApi = entry.requestForm === REQUEST_LINE ? isApiRequest(buf, entry.requestStart, entry.requestEnd, this.classifier) : classifyRequest(buf, entry, this.classifier);
    stats.linesInWindow += weight;
    stats.total200 += isApi && status === 200 && isShort ? weight : 0;
    // Looked at once a line, for a listener and for the counts alike.
    const badUa = index >= 0 && (weight !== 0 || takenBack || this.onLine !== undefined) && this.userAgentIsBad(buf, end);
    if (this.onLine !== undefined) this.onLine(time, index, isApi, status, badUa, buf, start, ipEnd);
    if (index === LISTED) {
      stats.listedLines += weight;
      return;
    }
    clients.count(index, weight, isApi, isShort, weight !== 0 && badUa);
    if (takenBack) clients.count(index, -1, isApi, time > (takeBack as AnalysisWindow).shortStart, badUa);
  }

  /** No user agent, or one starting with a UA_BLOCKLIST prefix. */
  private userAgentIsBad(buf: Buffer, end: number): boolean {
    return userAgentIsMissing(buf, this.entry, end) || (this.uaPrefixes.length > 0 && this.userAgentBlocked(buf, end));
  }

  private userAgentBlocked(buf: Buffer, end: number): boolean {
    const entry = this.entry;
    if (!this.uaPrefixesNeedEnd && entry.uaEnd < 0) return userAgentStartsWithAnyBefore(buf, entry, end, this.uaPrefixes);
    completeUserAgent(buf, entry, end);
    return userAgentStartsWithAny(buf, entry, this.uaPrefixes);
  }

  /**
   * A reader kept for the life of the class. V8 compiles the hot path against
   * the hidden classes of WindowReader, ClientTable, AddressTable and of the
   * objects they hold, and drops that code, to compile it again, once no
   * object of them has survived a garbage collection: between two readers in
   * one process, as in the tests or `npm run bench`, which collects garbage
   * between its cases. It has read a line, so that its objects have the
   * shapes a reader's take once used. A cron run has one reader: nothing
   * changes for it.
   */
  static readonly #keptForItsHiddenClasses: WindowReader = WindowReader.#used();

  static #used(): WindowReader {
    const reader = new WindowReader({
      window: { start: 1_700_000_000, shortStart: 1_700_002_700, end: 1_700_003_600 },
      classifier: newRequestClassifier(['/search']),
      uaBlocklist: [],
      isListed: () => false,
      disorderSeconds: 120,
    });
    reader.push(Buffer.from('192.0.2.1 - - [14/Nov/2023:22:40:00 +0000] "GET /search HTTP/1.1" 200 1 "-" "-"\n', 'latin1'));
    reader.finish();
    return reader;
  }
}
