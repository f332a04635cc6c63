/**
 * A block's lines as an incremental run needs them again: for each line its
 * time and what it adds to a client's row (the row's index, whether it is an
 * API request, a 200, a bad user agent). When a window boundary moves over
 * a block, the next run takes the old window's counts back and adds the new
 * window's from these twelve bytes a line, instead of reading and parsing
 * the block's lines from the log again, which was half of a one-minute step.
 *
 * Only a block whose lines can be counted again from the digest alone has
 * one: no unreadable line, no line without an address (their samples need
 * the text), no line stamped after the window it was read for (its client
 * was not looked up). Pure: the digest file is read and written in
 * incremental.ts.
 */
import { createHash } from 'node:crypto';
import type { AnalysisWindow, ClientTable } from './window-stats.js';

/** A line's float64 time and uint32 code. */
export const DIGEST_LINE_BYTES = 12;
const INDEX_MASK = 0x0fffffff;
/** A row dropped when the table was made again: its lines are all before the window, and never count again. */
const DROPPED = INDEX_MASK;
const LISTED_BIT = 1 << 28;
const API_BIT = 1 << 29;
const BAD_UA_BIT = 1 << 30;
const STATUS_200_BIT = 2 ** 31;

export interface LineDigest {
  times: Float64Array;
  codes: Uint32Array;
  /** The block's listed addresses: a listed line's index is its address's place here. */
  listed: string[];
}

/** What a digest's lines add to a block's figures in a window. */
export interface DigestFigures {
  linesInWindow: number;
  listedLines: number;
  futureLines: number;
  total200: number;
  newestLineTime: number | null;
}

/** Thrown when a digest names a row that cannot be its line's: the state does not describe the log. */
export class DigestMismatch extends Error {}

/** Collects one block's digest as its lines are counted; given up for a block with a line it cannot keep. */
export class DigestBuilder {
  private times = new Float64Array(4096);
  private codes = new Uint32Array(4096);
  private count = 0;
  private listed: string[] = [];
  private usable = true;

  begin(): void {
    this.count = 0;
    this.listed = [];
    this.usable = true;
  }

  /** The block cannot be counted from a digest: it is read from the log whenever it counts otherwise. */
  giveUp(): void {
    this.usable = false;
  }

  add(time: number, index: number, isApi: boolean, is200: boolean, badUa: boolean): void {
    if (!this.usable) return;
    if (index < 0 || index >= DROPPED) return this.giveUp();
    this.push(time, index | (isApi ? API_BIT : 0) | (badUa ? BAD_UA_BIT : 0), is200);
  }

  addListed(time: number, address: string, isApi: boolean, is200: boolean): void {
    if (!this.usable) return;
    let at = this.listed.indexOf(address);
    if (at < 0) at = this.listed.push(address) - 1;
    this.push(time, at | LISTED_BIT | (isApi ? API_BIT : 0), is200);
  }

  private push(time: number, code: number, is200: boolean): void {
    if (this.count === this.times.length) {
      const times = new Float64Array(this.count * 2);
      times.set(this.times);
      this.times = times;
      const codes = new Uint32Array(this.count * 2);
      codes.set(this.codes);
      this.codes = codes;
    }
    this.times[this.count] = time;
    this.codes[this.count] = (code + (is200 ? STATUS_200_BIT : 0)) >>> 0;
    this.count++;
  }

  /** The block's digest, or undefined when it was given up: views of the builder's own arrays, until the next begin(). */
  finish(): LineDigest | undefined {
    if (!this.usable) return undefined;
    return { times: this.times.subarray(0, this.count), codes: this.codes.subarray(0, this.count), listed: this.listed };
  }
}

/** The digest's bytes as the state file holds them: the times, then the codes. */
export function digestParts(digest: LineDigest): Uint8Array[] {
  return [new Uint8Array(digest.times.buffer, digest.times.byteOffset, digest.times.byteLength), new Uint8Array(digest.codes.buffer, digest.codes.byteOffset, digest.codes.byteLength)];
}

/** A digest of `lines` lines from its bytes, as digestParts wrote them: views on `bytes`, which start its own buffer (a float64 is aligned to 8). */
export function digestFromBytes(bytes: Uint8Array, lines: number, listed: string[]): LineDigest {
  return { times: new Float64Array(bytes.buffer, bytes.byteOffset, lines), codes: new Uint32Array(bytes.buffer, bytes.byteOffset + lines * 8, lines), listed };
}

export function hashDigest(digest: LineDigest): string {
  const hash = createHash('sha256');
  for (const part of digestParts(digest)) hash.update(part);
  return hash.digest('base64').slice(0, 22);
}

/** The digest with rows renumbered as `newIndex` (a table made again); rows it maps below 0 were dropped. */
export function renumberDigest(digest: LineDigest, newIndex: Int32Array): LineDigest {
  const codes = new Uint32Array(digest.codes.length);
  for (let i = 0; i < codes.length; i++) {
    const code = digest.codes[i];
    if ((code & LISTED_BIT) !== 0) {
      codes[i] = code;
      continue;
    }
    const index = code & INDEX_MASK;
    const renumbered = index < newIndex.length && newIndex[index] >= 0 ? newIndex[index] : DROPPED;
    codes[i] = ((code & ~INDEX_MASK) | renumbered) >>> 0;
  }
  return { times: digest.times, codes, listed: digest.listed };
}

/**
 * Counts the digest's lines as reading them again would: takes back their
 * counts in `previous` (when given) and adds those in `next` (when given),
 * line by line in the order the log has them, to `clients` and to `listed`;
 * returns the block's figures in `next` (futureAfter: its now plus the
 * disorder allowed).
 */
export function countDigest(
  digest: LineDigest,
  clients: ClientTable,
  listed: Map<string, number>,
  next: Required<AnalysisWindow> | undefined,
  previous: Required<AnalysisWindow> | undefined,
  futureAfter: number,
): DigestFigures {
  const { times, codes } = digest;
  const figures: DigestFigures = { linesInWindow: 0, listedLines: 0, futureLines: 0, total200: 0, newestLineTime: null };
  // A window not given holds no line: NaN bounds compare false.
  const nextStart = next?.start ?? NaN;
  const nextEnd = next?.end ?? NaN;
  const nextShort = next?.shortStart ?? NaN;
  const previousStart = previous?.start ?? NaN;
  const previousEnd = previous?.end ?? NaN;
  const previousShort = previous?.shortStart ?? NaN;
  const rows = clients.rowCount;
  let newest = -Infinity;
  for (let i = 0; i < times.length; i++) {
    const time = times[i];
    const code = codes[i];
    const inNext = time >= nextStart && time <= nextEnd;
    const inPrevious = time >= previousStart && time <= previousEnd;
    const isApi = (code & API_BIT) !== 0;
    if (next !== undefined) {
      if (time > futureAfter) figures.futureLines++;
      else if (time > newest) newest = time;
      if (inNext) {
        figures.linesInWindow++;
        if (isApi && code >= STATUS_200_BIT && time > nextShort) figures.total200++;
      }
    }
    if (!inNext && !inPrevious) continue;
    if ((code & LISTED_BIT) !== 0) {
      const address = digest.listed[code & INDEX_MASK];
      if (address === undefined) throw new DigestMismatch('a listed line of no address');
      if (inNext) figures.listedLines++;
      const lines = (inNext ? 1 : 0) - (inPrevious ? 1 : 0);
      if (lines !== 0) listed.set(address, (listed.get(address) ?? 0) + lines);
      continue;
    }
    const index = code & INDEX_MASK;
    if (index === DROPPED || index >= rows) throw new DigestMismatch('a line of a client the table does not have');
    const isShort = time > nextShort;
    // Counted in both windows alike, most lines of a block a boundary moved over: added and taken back, its row would end as it was.
    if (inNext && inPrevious && isShort === time > previousShort) continue;
    const badUa = (code & BAD_UA_BIT) !== 0;
    if (inNext) clients.count(index, 1, isApi, isShort, badUa);
    if (inPrevious) clients.count(index, -1, isApi, time > previousShort, badUa);
  }
  if (newest > -Infinity) figures.newestLineTime = newest;
  return figures;
}
