/**
 * The lines of a whole simulated period, kept as a few numbers each rather
 * than counted into one window, so that the window can slide over them.
 * Pure: fed by the reader's per-line hook (WindowReader's onLine).
 */
import { canonicalizeIp } from '../address/ip-address.js';
import { LISTED, type LineListener, NOT_AN_ADDRESS } from '../read/window-stats.js';

export const KIND_CLIENT = 0;
export const KIND_LISTED = 1;
/** Read as a line of the format, but its address is none: unreadable when inside the window, as in a run. */
export const KIND_NO_ADDRESS = 2;
/** Not a line of the format at all. */
export const KIND_UNREADABLE = 3;

export const FLAG_API = 1;
export const FLAG_API_200 = 2;
export const FLAG_BAD_UA = 4;

export class PeriodLines {
  count = 0;
  /** The line's time, rounded up to a whole second: every window bound is a whole second, so t <= T exactly when ceil(t) <= T. */
  times = new Float64Array(1 << 16);
  /** Client index (KIND_CLIENT) or listed address index (KIND_LISTED). */
  clients = new Int32Array(1 << 16);
  kinds = new Uint8Array(1 << 16);
  flags = new Uint8Array(1 << 16);
  /** Whitelisted or blacklisted addresses seen, canonical, by index. */
  readonly listed: string[] = [];
  private readonly listedIndex = new Map<string, number>();
  private readonly listedSpelling = new Map<string, number>();
  /** Unreadable lines have no time: they take the previous line's (the next one's at the start of the log). */
  private lastTime = NaN;
  private undatedFrom = -1;
  /** Set by sortByTime, after the last line was added. */
  private sorted = false;

  readonly listener: LineListener = (time, client, isApi, status, badUa, buf, ipStart, ipEnd) => {
    const i = this.count;
    if (i === this.times.length) this.grow();
    this.count = i + 1;
    if (time !== time) {
      this.kinds[i] = KIND_UNREADABLE;
      this.times[i] = this.lastTime;
      if (this.lastTime !== this.lastTime && this.undatedFrom < 0) this.undatedFrom = i;
      return;
    }
    const second = Math.ceil(time);
    this.times[i] = second;
    this.lastTime = second;
    if (this.undatedFrom >= 0) {
      this.times.fill(second, this.undatedFrom, i);
      this.undatedFrom = -1;
    }
    this.flags[i] = (isApi ? FLAG_API : 0) | (isApi && status === 200 ? FLAG_API_200 : 0) | (badUa ? FLAG_BAD_UA : 0);
    if (client === NOT_AN_ADDRESS) this.kinds[i] = KIND_NO_ADDRESS;
    else if (client === LISTED) {
      this.kinds[i] = KIND_LISTED;
      this.clients[i] = this.listedOf(buf.toString('latin1', ipStart, ipEnd));
    } else {
      this.kinds[i] = KIND_CLIENT;
      this.clients[i] = client;
    }
  };

  /** A listed address by its spelling in the log, canonicalised once per spelling as the client table does. */
  private listedOf(spelling: string): number {
    const known = this.listedSpelling.get(spelling);
    if (known !== undefined) return known;
    const address = canonicalizeIp(spelling) ?? spelling;
    let index = this.listedIndex.get(address);
    if (index === undefined) {
      index = this.listed.length;
      this.listed.push(address);
      this.listedIndex.set(address, index);
    }
    this.listedSpelling.set(spelling, index);
    return index;
  }

  private grow(): void {
    const size = this.times.length * 2;
    this.times = grown(this.times, new Float64Array(size));
    this.clients = grown(this.clients, new Int32Array(size));
    this.kinds = grown(this.kinds, new Uint8Array(size));
    this.flags = grown(this.flags, new Uint8Array(size));
  }

  /**
   * Puts the lines in time order, in place (a stable counting sort by
   * second: lines are nearly in order, seconds few), undated lines last.
   * Line numbers are then positions in time order; a second call does nothing.
   */
  sortByTime(): void {
    if (this.sorted) return;
    this.sorted = true;
    let first = Infinity;
    let last = -Infinity;
    for (let i = 0; i < this.count; i++) {
      const t = this.times[i];
      if (t < first) first = t;
      if (t > last) last = t;
    }
    if (first > last) return;
    const buckets = new Uint32Array(last - first + 3);
    for (let i = 0; i < this.count; i++) {
      const t = this.times[i];
      buckets[t === t ? t - first + 1 : buckets.length - 1]++;
    }
    for (let b = 1; b < buckets.length; b++) buckets[b] += buckets[b - 1];
    const { times, clients, kinds, flags } = this;
    const sortedTimes = new Float64Array(this.count);
    const sortedClients = new Int32Array(this.count);
    const sortedKinds = new Uint8Array(this.count);
    const sortedFlags = new Uint8Array(this.count);
    // Each line straight to its place, its four columns at once.
    for (let i = 0; i < this.count; i++) {
      const t = times[i];
      const p = buckets[t === t ? t - first : buckets.length - 2]++;
      sortedTimes[p] = t;
      sortedClients[p] = clients[i];
      sortedKinds[p] = kinds[i];
      sortedFlags[p] = flags[i];
    }
    this.times = sortedTimes;
    this.clients = sortedClients;
    this.kinds = sortedKinds;
    this.flags = sortedFlags;
  }
}

/** `larger` with `column`'s values at its start. */
function grown<T extends Float64Array | Int32Array | Uint8Array>(column: T, larger: T): T {
  larger.set(column);
  return larger;
}
