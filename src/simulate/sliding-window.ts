/**
 * The window of a cron run at each step of a simulated period, slid over the
 * period's lines: a step adds the lines that entered the window and takes
 * away those that left it, and hands planRun statistics equal to the ones a
 * run at that time reads. Pure.
 */
import { ClientTable, type ClientStats, type WindowStats } from '../read/window-stats.js';
import { FLAG_API, FLAG_API_200, FLAG_BAD_UA, KIND_CLIENT, KIND_LISTED, KIND_NO_ADDRESS, KIND_UNREADABLE, type PeriodLines } from './period-lines.js';

/** A client's row: its counts side by side, so that a line entering or leaving touches one cache line, not five arrays. */
const LONG_TOTAL = 0;
const LONG_API = 1;
const SHORT_TOTAL = 2;
const SHORT_API = 3;
/** Lines without a user agent (or a blocked one) in the long window: a count, since they leave it again. */
const BAD_UA = 4;
/** 1 while the client is in the list of those over the thresholds. */
const LISTED_OVER = 5;
const ROW_INTS = 8;

/**
 * The counts of the clients in the window, in the shape planRun reads a
 * ClientTable through. A client whose lines all left the window is no
 * client of it, as it would not be in a run's table.
 */
export class SlidingClients extends ClientTable {
  private readonly rows: Int32Array;
  private live = 0;
  /**
   * Address to index: of the clients entriesOver yielded, which are nearly
   * every address a map or a step names; of every client only once one is
   * named that was never yielded (a map given with --map, a ban).
   */
  private readonly byAddress = new Map<string, number>();
  private everyAddress = false;
  /**
   * Every client over the last entriesOver's thresholds (and some that were
   * and no longer are): a client gets over them only as a line of it enters,
   * which adds it here, so a step tests these and no other.
   */
  private over: number[] = [];
  private overLong = NaN;
  private overShort = NaN;
  private overKnown = false;

  constructor(readonly addresses: readonly string[]) {
    super(() => false);
    this.rows = new Int32Array(addresses.length * ROW_INTS);
  }

  override get size(): number {
    return this.live;
  }

  index(address: string): number {
    const known = this.byAddress.get(address);
    if (known !== undefined || this.everyAddress) return known ?? -1;
    this.everyAddress = true;
    this.addresses.forEach((every, i) => this.byAddress.set(every, i));
    return this.byAddress.get(address) ?? -1;
  }

  longApi(i: number): number {
    return this.rows[i * ROW_INTS + LONG_API];
  }

  shortApi(i: number): number {
    return this.rows[i * ROW_INTS + SHORT_API];
  }

  /** A line of client i enters the window (both parts of it). */
  enter(i: number, isApi: boolean, badUa: boolean): void {
    const row = i * ROW_INTS;
    const rows = this.rows;
    if (rows[row + LONG_TOTAL]++ === 0) this.live++;
    rows[row + SHORT_TOTAL]++;
    if (isApi) {
      rows[row + LONG_API]++;
      rows[row + SHORT_API]++;
    }
    if (badUa) rows[row + BAD_UA]++;
    if (this.overKnown && rows[row + LISTED_OVER] === 0 && this.isOver(row, this.overLong, this.overShort)) {
      rows[row + LISTED_OVER] = 1;
      this.over.push(i);
    }
  }

  /** A line of client i leaves the short window. */
  leaveShort(i: number, isApi: boolean): void {
    const row = i * ROW_INTS;
    this.rows[row + SHORT_TOTAL]--;
    if (isApi) this.rows[row + SHORT_API]--;
  }

  /** A line of client i leaves the long window, having left the short one. */
  leaveLong(i: number, isApi: boolean, badUa: boolean): void {
    const row = i * ROW_INTS;
    const rows = this.rows;
    if (--rows[row + LONG_TOTAL] === 0) this.live--;
    if (isApi) rows[row + LONG_API]--;
    if (badUa) rows[row + BAD_UA]--;
  }

  /** ClientTable's test, so that a NaN threshold keeps a client as it does there. */
  private isOver(row: number, longApi: number, shortApi: number): boolean {
    const rows = this.rows;
    return rows[row + LONG_TOTAL] > 0 && !(rows[row + LONG_API] <= longApi && rows[row + SHORT_API] <= shortApi);
  }

  override get(address: string): ClientStats | undefined {
    const i = this.index(address);
    return i < 0 || this.rows[i * ROW_INTS + LONG_TOTAL] === 0 ? undefined : this.clientStats(i);
  }

  private clientStats(i: number): ClientStats {
    const rows = this.rows;
    const row = i * ROW_INTS;
    return { longTotal: rows[row + LONG_TOTAL], longApi: rows[row + LONG_API], shortTotal: rows[row + SHORT_TOTAL], shortApi: rows[row + SHORT_API], badUa: rows[row + BAD_UA] > 0 };
  }

  override *entries(): IterableIterator<[string, ClientStats]> {
    for (let i = 0; i < this.addresses.length; i++) if (this.rows[i * ROW_INTS + LONG_TOTAL] > 0) yield [this.addresses[i], this.clientStats(i)];
  }

  /**
   * The clients ClientTable's entriesOver yields from the same counts, in the
   * same (index) order, without looking at every client at every step: only
   * those over the thresholds at the last call or whose lines entered since
   * can be over them now. Only when the thresholds differ from the last
   * call's (the load moved the bulk limit) is every client tested again.
   */
  override *entriesOver(longApi: number, shortApi: number, addresses: Iterable<string>): IterableIterator<[string, ClientStats]> {
    const over = this.clientsOver(longApi, shortApi);
    const named: number[] = [];
    for (const address of addresses) {
      const i = this.index(address);
      if (i >= 0 && this.rows[i * ROW_INTS + LONG_TOTAL] > 0) named.push(i);
    }
    named.sort((a, b) => a - b);
    // Both lists in index order, merged without repeating a client that is in both.
    let o = 0;
    let n = 0;
    while (o < over.length || n < named.length) {
      let i: number;
      if (n === named.length || (o < over.length && over[o] < named[n])) i = over[o++];
      else {
        i = named[n];
        if (o < over.length && over[o] === i) o++;
        while (n < named.length && named[n] === i) n++;
      }
      this.byAddress.set(this.addresses[i], i);
      yield [this.addresses[i], this.clientStats(i)];
    }
  }

  /** Indices of the clients in the window over the thresholds, ascending. */
  private clientsOver(longApi: number, shortApi: number): number[] {
    const rows = this.rows;
    const over: number[] = [];
    if (this.overKnown && Object.is(this.overLong, longApi) && Object.is(this.overShort, shortApi)) {
      for (const i of this.over) {
        if (this.isOver(i * ROW_INTS, longApi, shortApi)) over.push(i);
        else rows[i * ROW_INTS + LISTED_OVER] = 0;
      }
      over.sort((a, b) => a - b);
    } else {
      for (let i = 0; i < this.addresses.length; i++) {
        const listed = this.isOver(i * ROW_INTS, longApi, shortApi);
        rows[i * ROW_INTS + LISTED_OVER] = listed ? 1 : 0;
        if (listed) over.push(i);
      }
    }
    this.over = over;
    this.overLong = longApi;
    this.overShort = shortApi;
    this.overKnown = true;
    return over;
  }
}

export interface WindowLengths {
  /** BLOCKCOOLOFF_SECONDS */
  long: number;
  /** BULKCOOLOFF_SECONDS */
  short: number;
  /** DISORDER_SECONDS: how far around the window a run reads, and when a line is a future one. */
  disorder: number;
}

/**
 * The window over a period's lines. Its bounds only move forward; every line
 * enters and leaves each count once, so a day of steps costs about one pass
 * over the day's lines.
 */
export class SlidingWindow {
  readonly clients: SlidingClients;
  private readonly listedLines: Int32Array;
  private readonly listedAddresses = new Set<string>();
  /** Next line (in time order) to enter the window, to leave the short window, to leave the long one. */
  private enter = 0;
  private leaveShort = 0;
  private leaveLong = 0;
  /** The lines a run reads around its window, for the share of unreadable lines: next to enter, next to leave. */
  private readEnter = 0;
  private readLeave = 0;
  private linesRead = 0;
  private unreadableRead = 0;
  private noAddressInWindow = 0;
  private linesInWindow = 0;
  private total200 = 0;
  /** The lines that entered at the last step: [enteredFrom, enteredTo) of the lines, which are in time order. */
  enteredFrom = 0;
  enteredTo = 0;

  constructor(
    private readonly lines: PeriodLines,
    addresses: readonly string[],
    private readonly lengths: WindowLengths,
    private readonly garbageSamples: string[],
  ) {
    this.clients = new SlidingClients(addresses);
    // In time order, every bound moves over consecutive lines: no indirection, no random access.
    lines.sortByTime();
    this.listedLines = new Int32Array(lines.listed.length);
  }

  /** Moves the window to end at `end` (epoch seconds, not before the last end) and returns the statistics a run then reads. */
  moveTo(end: number): WindowStats {
    const { times, kinds, clients: index, flags, listed, count: lineCount } = this.lines;
    const c = this.clients;
    const { long, short, disorder } = this.lengths;
    this.enteredFrom = this.enter;
    while (this.enter < lineCount && times[this.enter] <= end) {
      const i = this.enter++;
      const kind = kinds[i];
      const flag = flags[i];
      if (kind === KIND_CLIENT) {
        c.enter(index[i], (flag & FLAG_API) !== 0, (flag & FLAG_BAD_UA) !== 0);
        this.linesInWindow++;
      } else if (kind === KIND_LISTED) {
        this.listedLines[index[i]]++;
        this.linesInWindow++;
      } else if (kind === KIND_NO_ADDRESS) this.noAddressInWindow++;
      if (flag & FLAG_API_200 && kind !== KIND_NO_ADDRESS) this.total200++;
    }
    this.enteredTo = this.enter;
    while (this.leaveShort < this.enter && times[this.leaveShort] <= end - short) {
      const i = this.leaveShort++;
      const flag = flags[i];
      if (kinds[i] === KIND_CLIENT) c.leaveShort(index[i], (flag & FLAG_API) !== 0);
      if (flag & FLAG_API_200 && kinds[i] !== KIND_NO_ADDRESS) this.total200--;
    }
    while (this.leaveLong < this.enter && times[this.leaveLong] < end - long) {
      const i = this.leaveLong++;
      const kind = kinds[i];
      const flag = flags[i];
      if (kind === KIND_CLIENT) {
        c.leaveLong(index[i], (flag & FLAG_API) !== 0, (flag & FLAG_BAD_UA) !== 0);
        this.linesInWindow--;
      } else if (kind === KIND_LISTED) {
        this.listedLines[index[i]]--;
        this.linesInWindow--;
      } else if (kind === KIND_NO_ADDRESS) this.noAddressInWindow--;
    }
    while (this.readEnter < lineCount && times[this.readEnter] <= end + disorder) {
      this.linesRead++;
      if (kinds[this.readEnter++] === KIND_UNREADABLE) this.unreadableRead++;
    }
    while (this.readLeave < this.readEnter && times[this.readLeave] < end - long - disorder) {
      this.linesRead--;
      if (kinds[this.readLeave++] === KIND_UNREADABLE) this.unreadableRead--;
    }
    this.listedAddresses.clear();
    for (let l = 0; l < this.listedLines.length; l++) if (this.listedLines[l] > 0) this.listedAddresses.add(listed[l]);
    c.listedAddresses.clear();
    for (const address of this.listedAddresses) c.listedAddresses.add(address);
    // A run's newest line is the latest it read that is not a future one.
    const newest = this.readEnter > 0 ? times[this.readEnter - 1] : NaN;
    return {
      clients: c,
      total200: this.total200,
      linesRead: this.linesRead,
      garbageLines: this.unreadableRead + this.noAddressInWindow,
      garbageSamples: this.garbageSamples,
      linesInWindow: this.linesInWindow,
      listedLines: 0,
      reachedEnd: true,
      futureLines: 0,
      newestLineTime: newest,
    };
  }

}
