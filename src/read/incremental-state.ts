/**
 * What an incremental run keeps next to the map (MAP.state) to continue
 * exactly where the previous run stopped, and the pure rules on it: its
 * format, its validation, and which slices of the log a window's move makes
 * count differently. Pure: no file is read here (incremental.ts does that).
 *
 * The log from the seek offset on is cut into blocks of whole lines. For each
 * block the state keeps the range of its lines' own times and what the block
 * added to the run's statistics. A line counts by its own time alone, so a
 * block whose time range meets none of the instants that moved counts the
 * same in the new window, whatever disorder its lines have: only the blocks
 * that meet a moved boundary are counted again (the old window's counts
 * taken back, the new one's added: from the block's digest of its lines
 * where it has one, else from the log), and only the bytes appended since
 * are read for the first time.
 */
import { createHash } from 'node:crypto';
import type { AnalysisWindow } from './window-stats.js';

/** Bumped whenever the format or the meaning of a field changes: an older state is discarded. */
export const STATE_VERSION = 9;

/** One block of whole lines (or, last in a file, the line the server was still writing). */
export interface BlockState {
  from: number;
  to: number;
  /** The earliest and latest time of a readable line in the block; null when none has one. */
  minTime: number | null;
  maxTime: number | null;
  /** Ends without a newline at the end of the file: read again by every run, as its line may have grown. */
  partial: boolean;
  linesRead: number;
  garbageLines: number;
  linesInWindow: number;
  listedLines: number;
  futureLines: number;
  total200: number;
  /** null when no line of the block was readable and not a future line. */
  newestLineTime: number | null;
  garbageSamples: string[];
  /** The block's first unreadable lines as read, base64. */
  rawSamples: string[];
  /**
   * Where the block's lines can be counted again without the log: its
   * LineDigest (line-digest.ts), in the digest file beside the state.
   * Absent when the block has a line a digest cannot hold; the block is
   * then read from the log.
   */
  digest?: DigestState;
}

export interface DigestState {
  /** Its offset in the digest file. */
  at: number;
  lines: number;
  /** hashDigest of its bytes: a digest is checked when it is used, not each time it is copied on. */
  hash: string;
  listed: string[];
}

export interface FileState {
  dev: number;
  ino: number;
  /** Where the blocks start (the window's seek offset) and end (the size read to). */
  from: number;
  size: number;
  /** Fingerprints of the file's first and last bytes read, to tell a file rewritten in place. */
  head: string;
  tail: string;
  blocks: BlockState[];
}

export interface LogState {
  path: string;
  formats: string[];
  files: FileState[];
}

/** The state as the header's second line holds it; the first holds its version (STATE_VERSION). */
export interface IncrementalState {
  /** Of the settings and logs the counts were made with: any other setting makes other counts. */
  settingsHash: string;
  window: Required<AnalysisWindow>;
  logs: LogState[];
  /**
   * SHA-256 (base64) of the client table, which follows the header's two
   * lines as the table's own memory: its slots, its arena pages, its row
   * pages (ClientTable.snapshot), as the machine's int32s. A JSON array of 150k
   * clients costs a run more than reading what changed, and rebuilding the
   * table, hashing each key again, a third of a step: the next run reads
   * the parts into place and uses them as they are.
   */
  clientsHash: string;
  table: TableLayout;
  /** Whitelisted or blacklisted addresses and their lines in the window. */
  listed: [string, number][];
}

/** What the bytes after the header hold, in this order; all of it is needed to read them back. */
export interface TableLayout {
  /** Int32s were written little-endian: a state moved to another machine is refused. */
  littleEndian: boolean;
  /** The seed of the hash the slots were placed by. */
  seed: number;
  keys: number;
  slots: number;
  arenaPageFill: number[];
  clients: number;
  emptyRows: number;
  rowPages: number;
}

/**
 * A block as the header writes it: an array, its start left out (the end of
 * the block before it, or the file's `from`). The window's 1,500 blocks as
 * objects made a header of 500 KB that a run parsed and wrote again in
 * 15 ms; as arrays, a third of it in a third of the time.
 */
type PackedBlock = [
  to: number,
  minTime: number | null,
  maxTime: number | null,
  partial: 0 | 1,
  linesRead: number,
  garbageLines: number,
  linesInWindow: number,
  listedLines: number,
  futureLines: number,
  total200: number,
  newestLineTime: number | null,
  garbageSamples: string[],
  rawSamples: string[],
  digest: [at: number, lines: number, hash: string, listed: string[]] | 0,
];

function packBlock(block: BlockState): PackedBlock {
  const { digest } = block;
  return [
    block.to,
    block.minTime,
    block.maxTime,
    block.partial ? 1 : 0,
    block.linesRead,
    block.garbageLines,
    block.linesInWindow,
    block.listedLines,
    block.futureLines,
    block.total200,
    block.newestLineTime,
    block.garbageSamples,
    block.rawSamples,
    digest === undefined ? 0 : [digest.at, digest.lines, digest.hash, digest.listed],
  ];
}

/** The block `packed` starting at `from`, as packBlock wrote it (its header's hash checked). */
function unpackBlock(packed: PackedBlock, from: number): BlockState {
  // Fields read by index: destructuring steps an iterator through each, and every run unpacks every block (1,500 in an
  // hour of a busy log) before V8 has compiled this.
  const block: BlockState = {
    from,
    to: packed[0],
    minTime: packed[1],
    maxTime: packed[2],
    partial: packed[3] === 1,
    linesRead: packed[4],
    garbageLines: packed[5],
    linesInWindow: packed[6],
    listedLines: packed[7],
    futureLines: packed[8],
    total200: packed[9],
    newestLineTime: packed[10],
    garbageSamples: packed[11],
    rawSamples: packed[12],
  };
  const digest = packed[13];
  if (digest !== 0) block.digest = { at: digest[0], lines: digest[1], hash: digest[2], listed: digest[3] };
  return block;
}

/**
 * The state file's header, two lines: its version with the hash (SHA-256,
 * base64) of the second line, then the state as JSON, its blocks packed.
 * The client table follows them. A second line that matches its hash is
 * the one this version wrote, so its blocks (1,500 for an hour of a busy
 * log) are taken as they stand, not each of their fields checked again by
 * every run; and a field changed on disk that still looked like a block is
 * no longer taken for one.
 */
export function stateHeader(state: IncrementalState): Uint8Array[] {
  const logs = state.logs.map((log) => ({ ...log, files: log.files.map((file) => ({ ...file, blocks: file.blocks.map(packBlock) })) }));
  const body = new TextEncoder().encode(JSON.stringify({ ...state, logs }));
  const head = new TextEncoder().encode(`${JSON.stringify({ version: STATE_VERSION, headerHash: headerHashOf(body) })}\n`);
  return [head, body, NEWLINE];
}

const NEWLINE = Uint8Array.of(0x0a);

function headerHashOf(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('base64');
}

/** The hash the header's first line vouches for its second with, or why the state cannot be used. */
export function parseVersionLine(text: string): { headerHash: string } | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'corrupt (not JSON)';
  }
  const line = value as { version?: unknown; headerHash?: unknown } | null;
  if (typeof line !== 'object' || line === null) return 'corrupt';
  if (line.version !== STATE_VERSION) return `of another version (${String(line.version)})`;
  return typeof line.headerHash === 'string' ? { headerHash: line.headerHash } : 'corrupt';
}

/** The state in the header's second line (`body`, without its newline), or why it cannot be used. */
export function parseState(body: Uint8Array, headerHash: string): IncrementalState | string {
  if (headerHashOf(body) !== headerHash) return 'corrupt (header)';
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return 'corrupt (not JSON)';
  }
  // The hash vouches for the bytes, not for what wrote them: the checks that cost little stay, against a mistake of the
  // writer's own; each block's fields are left to the hash.
  const state = value as IncrementalState;
  if (typeof state !== 'object' || state === null) return 'corrupt';
  if (!isWindow(state.window) || !Array.isArray(state.logs) || typeof state.clientsHash !== 'string' || !isLayout(state.table) || !Array.isArray(state.listed) || typeof state.settingsHash !== 'string') return 'corrupt';
  for (const log of state.logs) if (!isLog(log)) return 'corrupt';
  for (const entry of state.listed) if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !isCount(entry[1])) return 'corrupt';
  return state;
}

function isLayout(layout: TableLayout): boolean {
  if (typeof layout !== 'object' || layout === null || typeof layout.littleEndian !== 'boolean' || !Number.isSafeInteger(layout.seed)) return false;
  return [layout.keys, layout.slots, layout.clients, layout.emptyRows, layout.rowPages].every(isCount) && Array.isArray(layout.arenaPageFill) && layout.arenaPageFill.every(isCount);
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isWindow(window: unknown): window is Required<AnalysisWindow> {
  const w = window as Record<string, unknown> | null;
  return typeof w === 'object' && w !== null && ['start', 'shortStart', 'end', 'now'].every((key) => Number.isFinite(w[key]));
}

/** Whether `log` is a log of a header, its blocks unpacked in place. */
function isLog(log: LogState): boolean {
  return typeof log === 'object' && log !== null && typeof log.path === 'string' && Array.isArray(log.formats) && Array.isArray(log.files) && log.files.every(isFile);
}

function isFile(file: FileState): boolean {
  if (typeof file !== 'object' || file === null || !isCount(file.from) || !isCount(file.size) || file.from > file.size) return false;
  if (!Number.isFinite(file.dev) || !Number.isFinite(file.ino) || typeof file.head !== 'string' || typeof file.tail !== 'string' || !Array.isArray(file.blocks)) return false;
  // The blocks cover [from, size) without a gap, and only the last may be partial.
  const packed = file.blocks as unknown as PackedBlock[];
  let at = file.from;
  for (let i = 0; i < packed.length; i++) {
    const block = unpackBlock(packed[i], at);
    if (!(block.to > at) || (block.partial && i !== packed.length - 1)) return false;
    file.blocks[i] = block;
    at = block.to;
  }
  return at === file.size;
}

/**
 * Whether a block's lines may count otherwise in `next` than in `previous`
 * (a later window): whether its time range meets an instant where a line's
 * membership of the long window, the short window or the future changed.
 * Closed intervals, so that a line on a boundary is always read again.
 */
export function blockMoved(block: BlockState, previous: Required<AnalysisWindow>, next: Required<AnalysisWindow>, disorderSeconds: number): boolean {
  const { minTime, maxTime } = block;
  if (minTime === null || maxTime === null) return false; // no readable line: counts the same in any window
  // Asked of every block of the window by every run: without a closure for each.
  return (
    (minTime <= next.start && maxTime >= previous.start) ||
    (minTime <= next.shortStart && maxTime >= previous.shortStart) ||
    // Into the window at its end, and out of the future (which also moves the newest line's time).
    (minTime <= Math.max(next.end, next.now + disorderSeconds) && maxTime >= previous.end)
  );
}
