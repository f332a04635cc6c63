/**
 * The window of a cron run at each step of a simulated period, slid over the
 * period's lines: a step adds the lines that entered the window and takes
 * away those that left it, and hands planRun statistics equal to the ones a
 * run at that time reads. Pure.
 */
import { ClientTable, type ClientStats, type WindowStats } from '../read/window-stats.js';
import { FLAG_API, FLAG_API_200, FLAG_BAD_UA, KIND_CLIENT, KIND_LISTED, KIND_NO_ADDRESS, KIND_UNREADABLE, type PeriodLines } from './period-lines.js';

/**
 * The counts of the clients in the window, in the shape planRun reads a
 * ClientTable through. A client whose lines all left the window is no
 * client of it, as it would not be in a run's table.
 */
export class SlidingClients extends ClientTable {
  readonly longTotal: Int32Array;
  readonly longApi: Int32Array;
  readonly shortTotal: Int32Array;
  readonly shortApi: Int32Array;
  /** Lines without a user agent (or a blocked one) in the long window: a count, since they leave it again. */
  readonly badUa: Int32Array;
  live = 0;
  private readonly byAddress = new Map<string, number>();
  /**
   * The clients whose counts changed since the last entriesOver (touchedIn
   * holds the call they changed before), and those over its thresholds then,
   * in index order: a step asks only these again.
   */
  private touched: number[] = [];
  private readonly touchedIn: Int32Array;
  private call = 1;
  private over: number[] = [];
  private overThresholds: [number, number] | undefined;

  constructor(readonly addresses: readonly string[]) {
    super(() => false);
    const n = addresses.length;
    this.longTotal = new Int32Array(n);
    this.longApi = new Int32Array(n);
    this.shortTotal = new Int32Array(n);
    this.shortApi = new Int32Array(n);
    this.badUa = new Int32Array(n);
    this.touchedIn = new Int32Array(n);
    addresses.forEach((address, i) => this.byAddress.set(address, i));
  }

  override get size(): number {
    return this.live;
  }

  index(address: string): number {
    return this.byAddress.get(address) ?? -1;
  }

  /** Notes that client i's counts change: entriesOver looks at it again. */
  touch(i: number): void {
    if (this.touchedIn[i] === this.call) return;
    this.touchedIn[i] = this.call;
    this.touched.push(i);
  }

  override get(address: string): ClientStats | undefined {
    const i = this.index(address);
    return i < 0 || this.longTotal[i] === 0 ? undefined : this.clientStats(i);
  }

  clientStats(i: number): ClientStats {
    return { longTotal: this.longTotal[i], longApi: this.longApi[i], shortTotal: this.shortTotal[i], shortApi: this.shortApi[i], badUa: this.badUa[i] > 0 };
  }

  override *entries(): IterableIterator<[string, ClientStats]> {
    for (let i = 0; i < this.addresses.length; i++) if (this.longTotal[i] > 0) yield [this.addresses[i], this.clientStats(i)];
  }

  /**
   * The clients ClientTable's entriesOver yields from the same counts, in the
   * same (index) order, without looking at every client at every step: a
   * client over the thresholds now was over them at the last call, or its
   * counts changed since (it was touched). Only when the thresholds differ
   * from the last call's (the load moved the bulk limit) is every client
   * tested again.
   */
  override *entriesOver(longApi: number, shortApi: number, addresses: Iterable<string>): IterableIterator<[string, ClientStats]> {
    const over = this.clientsOver(longApi, shortApi);
    const named: number[] = [];
    for (const address of addresses) {
      const i = this.index(address);
      if (i >= 0 && this.longTotal[i] > 0) named.push(i);
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
      yield [this.addresses[i], this.clientStats(i)];
    }
  }

  /** Indices of the clients in the window over the thresholds (ClientTable's test), ascending. */
  private clientsOver(longApi: number, shortApi: number): number[] {
    // The same test as ClientTable's, so that a NaN threshold keeps a client as it does there.
    const isOver = (i: number) => this.longTotal[i] > 0 && !(this.longApi[i] <= longApi && this.shortApi[i] <= shortApi);
    const same = this.overThresholds !== undefined && Object.is(this.overThresholds[0], longApi) && Object.is(this.overThresholds[1], shortApi);
    let over: number[];
    if (!same) {
      over = [];
      for (let i = 0; i < this.addresses.length; i++) if (isOver(i)) over.push(i);
    } else {
      // Untouched, a client's counts are those it was tested on.
      over = this.over.filter((i) => this.touchedIn[i] !== this.call);
      for (const i of this.touched) if (isOver(i)) over.push(i);
      over.sort((a, b) => a - b);
    }
    this.over = over;
    this.overThresholds = [longApi, shortApi];
    this.touched = [];
    this.call++;
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
  /** The lines that entered at the last step: [from, to) of the lines, which are in time order. */
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
      this.count(1, kinds[i], index[i], flags[i]);
    }
    this.enteredTo = this.enter;
    while (this.leaveShort < this.enter && times[this.leaveShort] <= end - short) {
      const i = this.leaveShort++;
      const flag = flags[i];
      if (kinds[i] === KIND_CLIENT) {
        c.touch(index[i]);
        c.shortTotal[index[i]]--;
        if (flag & FLAG_API) c.shortApi[index[i]]--;
      }
      if (flag & FLAG_API_200 && kinds[i] !== KIND_NO_ADDRESS) this.total200--;
    }
    while (this.leaveLong < this.enter && times[this.leaveLong] < end - long) {
      const i = this.leaveLong++;
      this.count(-1, kinds[i], index[i], flags[i]);
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

  /** Adds (weight 1) or takes away (-1) one line entering or leaving the long window; entering, it enters the short one too. */
  private count(weight: number, kind: number, index: number, flag: number): void {
    const c = this.clients;
    if (kind === KIND_CLIENT) {
      c.touch(index);
      if (weight === 1 && c.longTotal[index] === 0) c.live++;
      c.longTotal[index] += weight;
      if (weight === -1 && c.longTotal[index] === 0) c.live--;
      if (flag & FLAG_API) c.longApi[index] += weight;
      if (flag & FLAG_BAD_UA) c.badUa[index] += weight;
      if (weight === 1) {
        c.shortTotal[index]++;
        if (flag & FLAG_API) c.shortApi[index]++;
      }
      this.linesInWindow += weight;
    } else if (kind === KIND_LISTED) {
      this.listedLines[index] += weight;
      this.linesInWindow += weight;
    } else if (kind === KIND_NO_ADDRESS) this.noAddressInWindow += weight;
    if (weight === 1 && flag & FLAG_API_200 && kind !== KIND_NO_ADDRESS) this.total200++;
  }

  /** The line numbers (of the lines in time order) that entered at the last step. */
  *entered(): IterableIterator<number> {
    for (let p = this.enteredFrom; p < this.enteredTo; p++) yield p;
  }
}
