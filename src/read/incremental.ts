/**
 * The incremental read: the window's statistics from the previous run's
 * state (MAP.state, incremental-state.ts) plus the bytes appended since and
 * the slices of the log whose lines count otherwise in the new window. The
 * result is the one readWindows gives for the same files; whenever that is
 * in doubt (another file, a rotation it cannot follow, truncation, other
 * settings, a corrupt or old state, a clock that went backwards), the state
 * is dropped and the window read whole, as readWindows does, from which a
 * new state is kept. The state is never a reason for a run to fail.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, rmSync } from 'node:fs';
import { canonicalizeIp } from '../address/ip-address.js';
import type { Settings } from '../settings/settings.js';
import { writeAll, writeFileAtomic } from '../write/atomic-write.js';
import { readInto } from './bounded-file.js';
import { type BlockState, type FileState, type IncrementalState, type LogState, STATE_VERSION, blockMoved, parseState, parseVersionLine, stateHeader } from './incremental-state.js';
import { DIGEST_LINE_BYTES, DigestBuilder, DigestMismatch, type LineDigest, countDigest, digestFromBytes, digestParts, hashDigest, renumberDigest } from './line-digest.js';
import { type Generation, type LogFileRead, closeGenerations, fdOf, findGenerations, generationsToRead, isReplaced, lastLineTime, seekInGeneration } from './log-source.js';
import { DISORDER_SECONDS, type LogRead, type LogToRead, type WindowsRead, newClientTable, readWindows, windowReaderOptions } from './read-window.js';
import { ARENA_PAGE_BYTES } from './address-table.js';
import { formatsOrDefault, lineTimeOf } from './log-format.js';
import { type AnalysisWindow, ClientTable, LISTED, MAX_GARBAGE_SAMPLES, MAX_RAW_SAMPLES, NOT_AN_ADDRESS, ROW_PAGE_INTS, type WindowReaderOptions, type WindowStats, WindowReader, emptyWindowStats, mergeWindowStats } from './window-stats.js';

/** Blocks of about this size: what a moved boundary makes a run read again. */
const BLOCK_BYTES = 128 * 1024;
const FINGERPRINT_BYTES = 4096;

export interface IncrementalRead extends WindowsRead {
  /** What became of the state, for --verbose. */
  note: string;
}

export interface IncrementalOptions {
  stateFile: string;
  /** Keep the new state (false for a dry run, which writes nothing). */
  write: boolean;
}

/** A state whose header fits the run; its client table is read from `fd` at `tableFrom`. */
type Loaded = IncrementalState & { fd: number; tableFrom: number };

/** The largest read of the state file's header: a few for a big window. */
const STATE_READ_BYTES = 1 << 20;
/** A header lists a block per 128 KiB of the window: 64 MiB of it would describe terabytes. */
const MAX_HEADER_BYTES = 64 << 20;

/** Thrown where the state cannot be followed: the window is read whole instead. */
class Untrusted extends Error {}

/** The window's statistics as readWindows gives them, from the state where it can be trusted; keeps the new state. */
export async function readWindowsIncremental(logs: readonly LogToRead[], settings: Settings, window: AnalysisWindow, warnings: string[], options: IncrementalOptions): Promise<IncrementalRead> {
  const now = { ...window, now: window.now ?? window.end };
  const hash = settingsHash(settings, logs);
  const loaded = loadState(options.stateFile, hash, now);
  const ownWarnings: string[] = [];
  const previous = typeof loaded === 'string' ? undefined : loaded;
  const digests = new Digests(digestFileOf(options.stateFile), options.write, previous !== undefined);
  try {
    const result = await readWithState(logs, settings, now, ownWarnings, previous, hash, digests).finally(() => {
      if (previous) closeSync(previous.fd);
    });
    const windowBytes = result.read.logs.reduce((sum, log) => sum + log.files.reduce((bytes, file) => bytes + file.bytesRead, 0), 0);
    const again = result.linesCounted ? `; counted ${result.linesCounted} lines again from the state` : '';
    const read = `read ${result.bytesRead ?? windowBytes} of the window's ${windowBytes} bytes${again}${result.dropped ? `; dropped ${result.dropped} clients whose lines all left` : ''}`;
    warnings.push(...ownWarnings);
    if (result.state === undefined) {
      if (options.write) removeState(options.stateFile);
      return { ...result.read, note: `state: not kept (${result.why})` };
    }
    if (options.write) {
      try {
        // Every client's address, as the log has them: made for the run's user alone, where the map is for the web
        // server (a state an older version made keeps its mode, as every file writeFileAtomic replaces does).
        // Not synced: after a crash of the machine a state cut short or empty fails its hash, and the window is read whole.
        digests.settle(result.state.logs.flatMap((log) => log.files.flatMap((file) => file.blocks)), result.newIndex);
        writeFileAtomic(options.stateFile, stateBytes(result.state, result.clients as ClientTable), { firstMode: 0o600, durable: false });
      } catch (error) {
        // The run has what it read; only the next one reads more.
        return { ...result.read, note: `state: could not be kept (${(error as Error).message})` };
      }
    }
    return { ...result.read, note: typeof loaded === 'string' ? `state: ${loaded}; the window was read whole` : `state: continued from the run at ${new Date(loaded.window.now * 1000).toISOString()}; ${read}` };
  } catch (error) {
    if (!(error instanceof Untrusted || error instanceof DigestMismatch)) throw error;
    if (options.write) removeState(options.stateFile);
    const read = await readWindows(logs, settings, window, warnings);
    return { ...read, note: `state: discarded (${error.message}); the window was read whole` };
  } finally {
    digests.close();
  }
}

/**
 * The line of the state file that starts at `position`, without its
 * newline; undefined when no line ends there. Read in chunks that double
 * from 4 KiB: the first line is a few dozen bytes, the second a few hundred
 * KiB, and a chunk is memory the kernel maps in page by page.
 */
function readLineAt(fd: number, position: number): Buffer | undefined {
  const chunks: Buffer[] = [];
  let length = 0;
  for (let size = 4096; ; size = Math.min(2 * size, STATE_READ_BYTES)) {
    // No header ends that far: not a state, however long it goes on.
    if (length > MAX_HEADER_BYTES) return undefined;
    const chunk = Buffer.allocUnsafe(size);
    const got = readSync(fd, chunk, 0, chunk.length, position + length);
    if (got === 0) return undefined;
    const at = chunk.subarray(0, got).indexOf(0x0a);
    chunks.push(chunk.subarray(0, at < 0 ? got : at));
    if (at >= 0) return Buffer.concat(chunks);
    length += got;
  }
}

/** The state in the file if its header fits this run, or why not. The file stays open for its client table (readTable). */
function loadState(file: string, hash: string, window: Required<AnalysisWindow>): Loaded | string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'none yet' : `unreadable (${(error as Error).message})`;
  }
  let kept = false;
  try {
    // The first line tells the version: a state of another version may have no second.
    const first = readLineAt(fd, 0);
    if (first === undefined) return 'corrupt (no header)';
    const versionLine = parseVersionLine(first.toString('utf8'));
    if (typeof versionLine === 'string') return versionLine;
    const second = readLineAt(fd, first.length + 1);
    if (second === undefined) return 'corrupt (no header)';
    const parsed = parseState(second, versionLine.headerHash);
    if (typeof parsed === 'string') return parsed;
    if (parsed.settingsHash !== hash) return 'made with other settings or logs';
    if (window.now < parsed.window.now) return 'from a later time: the clock went backwards';
    if (window.start - parsed.window.start > window.end - window.start) return 'older than the window';
    kept = true;
    return Object.assign(parsed, { fd, tableFrom: first.length + 1 + second.length + 1 });
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  } finally {
    if (!kept) closeSync(fd);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Int32Array([1]).buffer)[0] === 1;

/** Puts the state's client table in place of the empty `clients`; throws Untrusted unless it is the table its header vouches for. */
function readTable(state: Loaded, clients: ClientTable): void {
  const layout = state.table;
  if (layout.littleEndian !== LITTLE_ENDIAN) throw new Untrusted('made on a machine of another byte order');
  const size = fstatSync(state.fd).size;
  const slotBytes = layout.slots * 4;
  const arenaBytes = layout.arenaPageFill.length * ARENA_PAGE_BYTES;
  const rowBytes = layout.rowPages * ROW_PAGE_INTS * 4;
  // Sized from the header, so checked against the file before anything is allocated.
  if (state.tableFrom + slotBytes + arenaBytes + rowBytes !== size) throw new Untrusted('a client table of another size than its header says');
  const digest = createHash('sha256');
  let position = state.tableFrom;
  const fill = (view: Uint8Array) => {
    if (readInto(state.fd, view, position) < view.length) throw new Untrusted('a client table cut short');
    position += view.length;
    digest.update(view);
  };
  const slots = new Int32Array(layout.slots);
  fill(new Uint8Array(slots.buffer));
  const arenaPages = layout.arenaPageFill.map(() => {
    const page = new Uint8Array(ARENA_PAGE_BYTES);
    fill(page);
    return page;
  });
  const rowPages = Array.from({ length: layout.rowPages }, () => {
    const page = new Int32Array(ROW_PAGE_INTS);
    fill(new Uint8Array(page.buffer));
    return page;
  });
  if (digest.digest('base64') !== state.clientsHash) throw new Untrusted('corrupt client table');
  const snapshot = { keys: { seed: layout.seed, count: layout.keys, arenaPageFill: layout.arenaPageFill, slots, arenaPages }, clients: layout.clients, emptyRows: layout.emptyRows, rowPages };
  if (!clients.adopt(snapshot)) throw new Untrusted('a client table whose parts do not fit');
}

/** The state file's bytes: its header, with the hash of the client table, then the table's own memory (views, not copies). */
function* stateBytes(state: Omit<IncrementalState, 'clientsHash' | 'table'>, clients: ClientTable): Generator<Uint8Array> {
  const { keys, clients: clientCount, emptyRows, rowPages } = clients.snapshot();
  const parts = [keys.slots, ...keys.arenaPages, ...rowPages].map((part) => new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
  const digest = createHash('sha256');
  for (const part of parts) digest.update(part);
  const table = { littleEndian: LITTLE_ENDIAN, seed: keys.seed, keys: keys.count, slots: keys.slots.length, arenaPageFill: keys.arenaPageFill, clients: clientCount, emptyRows, rowPages: rowPages.length };
  yield* stateHeader({ ...state, clientsHash: digest.digest('base64'), table });
  yield* parts;
}

/**
 * A table of the clients that have lines, when more rows have none: an
 * adopted table keeps the rows of clients whose lines all left, and would
 * grow with every client seen since the last whole read. Made again when
 * they outnumber the others, its cost (about 0.5 µs a row) is spread over
 * the many runs that added them.
 */
function compacted(clients: ClientTable, settings: Settings): { clients: ClientTable; newIndex?: Int32Array } {
  const live = clients.size;
  if (clients.rowCount - live <= live) return { clients };
  const fresh = newClientTable(settings);
  const newIndex = clients.copyClientsWithLinesTo(fresh);
  return { clients: fresh, newIndex };
}

/**
 * The whole read, in place of this one: it opens the logs again and says
 * again what it skipped, so `warnings` (the attempt's own) keeps its words
 * alone, not both.
 */
async function wholeRead(logs: readonly LogToRead[], settings: Settings, window: Required<AnalysisWindow>, warnings: string[]): Promise<WindowsRead> {
  warnings.length = 0;
  return readWindows(logs, settings, window, warnings);
}

function settingsHash(settings: Settings, logs: readonly LogToRead[]): string {
  return createHash('sha256').update(JSON.stringify({ settings, logs, disorder: DISORDER_SECONDS, version: STATE_VERSION })).digest('hex');
}

/** What the run counts into, shared by every reader of every log. */
interface Counting {
  clients: ClientTable;
  /** Listed addresses and their lines in the window: ClientTable keeps only whether one was seen. */
  listed: Map<string, number>;
  digests: Digests;
}

async function readWithState(
  logs: readonly LogToRead[],
  settings: Settings,
  window: Required<AnalysisWindow>,
  /** This read's own: a whole read that takes its place replaces them. */
  warnings: string[],
  state: Loaded | undefined,
  hash: string,
  digests: Digests,
): Promise<{ read: WindowsRead; state?: Omit<IncrementalState, 'clientsHash' | 'table'>; clients?: ClientTable; newIndex?: Int32Array; why?: string; bytesRead?: number; linesCounted?: number; dropped?: number }> {
  const opened: Generation[][] = [];
  try {
    for (const log of logs) opened.push(findGenerations(log.path, settings.ROTATED_LOGS, warnings));
    const sizes = opened.map((generations) => generations.reduce((sum, generation) => sum + generation.size, 0));
    const logBytes = sizes.reduce((sum, size) => sum + size, 0);
    // Too small to decide on, or a window in a compressed generation: the whole read is as cheap, and no state is kept.
    if (logBytes < settings.MIN_LOG_SIZE) return { read: await wholeRead(logs, settings, window, warnings), why: 'the logs are smaller than MIN_LOG_SIZE' };
    const counting: Counting = { clients: newClientTable(settings), listed: new Map(), digests };
    if (state) readTable(state, counting.clients);
    if (state) for (const [address, lines] of state.listed) counting.listed.set(address, lines);
    const reads: LogRead[] = [];
    const logStates: LogState[] = [];
    let bytesRead = 0;
    let linesCounted = 0;
    for (const [i, log] of logs.entries()) {
      const previous = state?.logs[i];
      const read = await readLog(log, opened[i], settings, window, counting, previous, state?.window, warnings);
      if (read === undefined) return { read: await wholeRead(logs, settings, window, warnings), why: 'the window reaches into a compressed generation' };
      reads.push({ ...read.read, logBytes: sizes[i] });
      logStates.push(read.state);
      bytesRead += read.bytesRead;
      linesCounted += read.linesCounted;
    }
    if (!counting.clients.rowsAreCounts()) throw new Untrusted('counts below zero, or without lines');
    const { clients, newIndex } = compacted(counting.clients, settings);
    const dropped = counting.clients.rowCount - clients.rowCount;
    // As a full read leaves them: the listed addresses with a line in the window, not those only read in a slice that left it.
    clients.listedAddresses.clear();
    for (const [address, lines] of counting.listed) {
      if (lines < 0) throw new Untrusted(`a count of ${address} below zero`);
      if (lines > 0) clients.listedAddresses.add(address);
    }
    for (const read of reads) (read.stats as WindowStats).clients = clients;
    const stats = mergeWindowStats(reads.map((read) => read.stats as WindowStats));
    const newState = {
      settingsHash: hash,
      window,
      logs: logStates,
      listed: [...counting.listed].filter(([, lines]) => lines > 0),
    };
    return { read: { logs: reads, stats, logBytes }, state: newState, clients, newIndex, bytesRead, linesCounted, dropped };
  } finally {
    for (const generations of opened) closeGenerations(generations);
  }
}

/** One log, file by file, as readGenerations reads it; undefined when it cannot be read in blocks. */
async function readLog(
  log: LogToRead,
  generations: Generation[],
  settings: Settings,
  window: Required<AnalysisWindow>,
  counting: Counting,
  previous: LogState | undefined,
  previousWindow: Required<AnalysisWindow> | undefined,
  warnings: string[],
): Promise<{ read: Omit<LogRead, 'logBytes'>; state: LogState; bytesRead: number; linesCounted: number } | undefined> {
  if (previous && (previous.path !== log.path || JSON.stringify(previous.formats) !== JSON.stringify(log.formats))) throw new Untrusted('of other logs');
  const slicer = new Slicer(windowReaderOptions(settings, log.formats), counting);
  const seekTarget = window.start - DISORDER_SECONDS;
  const chosen = await generationsToRead(generations, seekTarget, slicer.lineTime, warnings);
  if (chosen.some((generation) => generation.compressed)) return undefined;
  const files: LogFileRead[] = [];
  const fileStates: FileState[] = [];
  const used = new Set<FileState>();
  for (const generation of chosen) {
    const before = previous?.files.find((file) => file.dev === generation.dev && file.ino === generation.ino);
    if (before) used.add(before);
    const seek = seekInGeneration(generation, seekTarget, slicer.lineTime);
    const blocks = before && previousWindow ? slicer.follow(generation, before, seek.offset, previousWindow, window) : slicer.readNew(generation, seek.offset, generation.size, window);
    const truncated = fstatSync(fdOf(generation)).size < generation.size;
    if (truncated) throw new Untrusted(`${generation.path} shrank while it was read`);
    files.push({ path: generation.path, offset: seek.offset, seekReads: seek.reads, bytesRead: generation.size - seek.offset, truncated, replaced: isReplaced(generation) });
    fileStates.push({ dev: generation.dev, ino: generation.ino, from: seek.offset, size: generation.size, ...fingerprints(generation, generation.size), blocks });
  }
  // A file the previous run counted that this one would not read: its lines are in the counts, and cannot be taken back.
  if (previous && previous.files.some((file) => !used.has(file))) throw new Untrusted('a file of the previous run is gone from the window (rotated?)');
  const stats = sumBlocks(fileStates.flatMap((file) => file.blocks), counting.clients);
  const newestLineTime = stats.newestLineTime === stats.newestLineTime ? stats.newestLineTime : lastLineTime(generations, slicer.lineTime);
  const unreadableSamples = fileStates.flatMap((file) => file.blocks.flatMap((block) => block.rawSamples)).slice(0, MAX_RAW_SAMPLES).map((sample) => Buffer.from(sample, 'base64'));
  return { read: { logFile: log.path, formats: log.formats, stats, files, newestLineTime, unreadableSamples }, state: { path: log.path, formats: [...log.formats], files: fileStates }, bytesRead: slicer.bytesRead, linesCounted: slicer.linesCounted };
}

/** A log's statistics from its blocks, as one reader of all its lines would have them. */
function sumBlocks(blocks: BlockState[], clients: ClientTable): WindowStats {
  const stats = emptyWindowStats(clients);
  let newest = -Infinity;
  for (const block of blocks) {
    stats.linesRead += block.linesRead;
    stats.garbageLines += block.garbageLines;
    stats.linesInWindow += block.linesInWindow;
    stats.listedLines += block.listedLines;
    stats.futureLines += block.futureLines;
    stats.total200 += block.total200;
    if (block.newestLineTime !== null && block.newestLineTime > newest) newest = block.newestLineTime;
    if (stats.garbageSamples.length < MAX_GARBAGE_SAMPLES) stats.garbageSamples.push(...block.garbageSamples.slice(0, MAX_GARBAGE_SAMPLES - stats.garbageSamples.length));
  }
  if (newest > -Infinity) stats.newestLineTime = newest;
  return stats;
}

/** Where the blocks' digests are kept: beside the state, appended to by every run that keeps one. */
export function digestFileOf(stateFile: string): string {
  return `${stateFile}.lines`;
}

/** Removes the state and its digests: for a run that keeps none, or one whose state describes another window. */
export function removeState(stateFile: string): void {
  rmSync(stateFile, { force: true });
  rmSync(digestFileOf(stateFile), { force: true });
}

/** The digest file is made again when more than half of it is digests no block names any more, and it is larger than this. */
const DIGEST_FILE_SLACK = 4 << 20;

/**
 * The blocks' digests, in the file beside the state (digestFileOf): each
 * run appends those of the blocks it reads, and a block's digest is read
 * back, and checked against its hash, only when a boundary moves over it.
 * Nothing is copied from run to run: a step writes the digests of its
 * minute, where a state holding them all wrote the window's every time,
 * which cost what reading them saved. A digest that fails its check (a run
 * killed while making the file again, a file lost) only makes its block
 * read from the log.
 */
class Digests {
  private fd: number | undefined;
  /** Where the next digest goes: the file's end. */
  private end = 0;
  private writable: boolean;

  constructor(
    private readonly file: string,
    /** Whether the run makes digests of what it reads: when it keeps its state. */
    private readonly keeping: boolean,
    /** Whether a state names digests in the file: without one, nothing does, and the file is emptied. */
    named: boolean,
  ) {
    this.writable = keeping;
    const { O_RDONLY, O_RDWR, O_CREAT, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;
    try {
      // Appended to and emptied by a run that may be root's: never through a link, into a pipe, or into a file not the run's own.
      this.fd = openSync(file, (keeping ? O_RDWR | O_CREAT | O_APPEND : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK, 0o600);
      const stat = fstatSync(this.fd);
      if (!stat.isFile() || stat.nlink !== 1 || (process.getuid !== undefined && stat.uid !== process.getuid())) throw new Error(`${file} is not a file of this user's`);
      if (keeping && !named) ftruncateSync(this.fd, 0);
      this.end = keeping && !named ? 0 : stat.size;
    } catch {
      // None yet, or not one to use: the blocks are read from the log when they move, and the run goes on.
      this.close();
      this.writable = false;
    }
  }

  get making(): boolean {
    return this.writable;
  }

  /** Appends the block's digest to the file and names it in the block. */
  made(block: BlockState, digest: LineDigest): void {
    if (!this.writable || this.fd === undefined) return;
    try {
      for (const part of digestParts(digest)) writeAll(this.fd, part);
    } catch {
      // A disk full, say: where this run's next digests would land is no longer known. They are not made.
      this.writable = false;
      return;
    }
    block.digest = { at: this.end, lines: digest.times.length, hash: hashDigest(digest), listed: digest.listed };
    this.end += digest.times.length * DIGEST_LINE_BYTES;
  }

  /** The block's digest; undefined when it has none, or the bytes in the file are not those it was made with (read from the log instead). */
  load(block: BlockState): LineDigest | undefined {
    const state = block.digest;
    if (state === undefined || this.fd === undefined) return undefined;
    const bytes = new Uint8Array(state.lines * DIGEST_LINE_BYTES);
    if (readInto(this.fd, bytes, state.at) < bytes.length) return undefined;
    const digest = digestFromBytes(bytes, state.lines, state.listed);
    return hashDigest(digest) === state.hash ? digest : undefined;
  }

  /**
   * Before the new state is written: makes the file again, with only the
   * digests of `blocks` (the new state's), when the rows they name were
   * renumbered (`newIndex`: the table made again) or when most of the file
   * is digests no block names. A digest that fails its check is left out.
   */
  settle(blocks: BlockState[], newIndex: Int32Array | undefined): void {
    if (!this.keeping) return;
    if (!this.writable) {
      // The file cannot be made again: digests of the old rows would count the lines of other clients.
      if (newIndex !== undefined) for (const block of blocks) delete block.digest;
      return;
    }
    let named = 0;
    for (const block of blocks) named += (block.digest?.lines ?? 0) * DIGEST_LINE_BYTES;
    if (newIndex === undefined && this.end <= 2 * named + DIGEST_FILE_SLACK) return;
    // Renamed into place before the state that names it: a kill in between leaves the previous state with digests that fail their check.
    writeFileAtomic(this.file, this.kept(blocks, newIndex), { firstMode: 0o600, durable: false });
  }

  /** The new file's bytes: the blocks' digests one after the other, each block named where its digest now is. */
  private *kept(blocks: BlockState[], newIndex: Int32Array | undefined): Generator<Uint8Array> {
    let at = 0;
    for (const block of blocks) {
      const state = block.digest;
      if (state === undefined) continue;
      const digest = this.load(block);
      if (digest === undefined) {
        delete block.digest;
        continue;
      }
      const renumbered = newIndex === undefined ? digest : renumberDigest(digest, newIndex);
      block.digest = { ...state, at, hash: newIndex === undefined ? state.hash : hashDigest(renumbered) };
      yield* digestParts(renumbered);
      at += state.lines * DIGEST_LINE_BYTES;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Fingerprints of the first bytes of a file and of the last ones before `size`. */
function fingerprints(generation: Generation, size: number): { head: string; tail: string } {
  const digest = (from: number, to: number) => createHash('sha256').update(readBytes(generation, from, to)).digest('base64');
  return { head: digest(0, Math.min(FINGERPRINT_BYTES, size)), tail: digest(Math.max(0, size - FINGERPRINT_BYTES), size) };
}

/** Bytes [from, to) of the file, into `into` when it has room (the slice returned is then a view of it). */
function readBytes(generation: Generation, from: number, to: number, into?: Buffer): Buffer {
  const buffer = into !== undefined && into.length >= to - from ? into.subarray(0, to - from) : Buffer.allocUnsafe(to - from);
  if (readInto(fdOf(generation), buffer, from) < buffer.length) throw new Untrusted(`${generation.path} shrank while it was read`);
  return buffer;
}

/** Reads slices of a file as blocks: into the counts (a new window's), or out of them (an old window's). */
class Slicer {
  readonly lineTime: (buf: Buffer, start: number, end: number) => number;
  /** Bytes of the log counted in or out, for the note. */
  bytesRead = 0;
  /** Lines counted in or out from the digests, for the note. */
  linesCounted = 0;
  /**
   * Every block is read into this one buffer and counted before the next is
   * read: a buffer per block left a whole window's worth for the garbage
   * collector on a first run (445 MB of the flood), and raised the peak
   * memory by as much as it let pile up.
   */
  private readonly scratch = Buffer.allocUnsafe(BLOCK_BYTES);

  constructor(
    private readonly options: Omit<WindowReaderOptions, 'window'>,
    private readonly counting: Counting,
  ) {
    this.lineTime = lineTimeOf(formatsOrDefault(options.formats));
  }

  /**
   * The blocks of a file the previous run read as `before`, for `window`:
   * the previous blocks before the seek offset taken out, those a boundary
   * moved over read again, the rest kept, and the bytes appended since read.
   */
  follow(generation: Generation, before: FileState, offset: number, previous: Required<AnalysisWindow>, window: Required<AnalysisWindow>): BlockState[] {
    if (generation.size < before.size) throw new Untrusted(`${generation.path} is shorter than the previous run read it (truncated)`);
    const now = fingerprints(generation, before.size);
    if (now.head !== before.head || now.tail !== before.tail) throw new Untrusted(`${generation.path} was rewritten`);
    const blocks: BlockState[] = [];
    // Lines the new seek reaches that the old one did not (a seek errs early by up to a probe span).
    if (offset < before.from) blocks.push(...this.readNew(generation, offset, before.from, window));
    let appendFrom = before.size;
    for (const block of before.blocks) {
      if (block.partial) {
        // The line being written then may be longer now: out, and read again from its start.
        this.take(generation, block, previous);
        appendFrom = block.from;
      } else if (block.to <= offset) {
        this.take(generation, block, previous);
      } else if (block.from < offset) {
        this.take(generation, block, previous);
        blocks.push(...this.readNew(generation, offset, block.to, window));
      } else if (blockMoved(block, previous, window, DISORDER_SECONDS)) {
        blocks.push(...this.countAgain(generation, block, previous, window));
      } else {
        blocks.push(block);
      }
    }
    blocks.push(...this.readNew(generation, Math.max(appendFrom, offset), generation.size, window));
    return blocks;
  }

  /** Takes a block's lines, as counted in `window`, back out of the counts. */
  private take(generation: Generation, block: BlockState, window: Required<AnalysisWindow>): void {
    // Lines outside the window were counted with a weight of 0: a block of only such lines left nothing to take back.
    if (block.minTime === null || block.maxTime === null || block.maxTime < window.start || block.minTime > window.end) return;
    const digest = this.counting.digests.load(block);
    if (digest !== undefined) {
      countDigest(digest, this.counting.clients, this.counting.listed, undefined, window, NaN);
      this.linesCounted += digest.times.length;
      return;
    }
    this.count(readBytes(generation, block.from, block.to, this.scratch), window, -1);
  }

  /** A block a boundary moved over, counted in `window` with its counts in `previous` taken back: from its digest, or read again. */
  private countAgain(generation: Generation, block: BlockState, previous: Required<AnalysisWindow>, window: Required<AnalysisWindow>): BlockState[] {
    const digests = this.counting.digests;
    const digest = digests.load(block);
    if (digest === undefined) return this.readNew(generation, block.from, block.to, window, previous);
    const figures = countDigest(digest, this.counting.clients, this.counting.listed, window, previous, window.now + DISORDER_SECONDS);
    this.linesCounted += digest.times.length;
    return [{ ...block, ...figures }];
  }

  /**
   * Counts the lines of [from, to) in `window` (`to` a line start or the
   * file's end), block by block; with `takeBack`, a window they were counted
   * in before, takes those counts back in the same pass.
   */
  readNew(generation: Generation, from: number, to: number, window: Required<AnalysisWindow>, takeBack?: Required<AnalysisWindow>): BlockState[] {
    const blocks: BlockState[] = [];
    let at = from;
    while (at < to) {
      let end = Math.min(to, at + BLOCK_BYTES);
      let bytes = readBytes(generation, at, end, this.scratch);
      let cut = bytes.lastIndexOf(0x0a) + 1;
      // A line longer than a block: the block grows to its end.
      while (cut === 0 && end < to) {
        end = Math.min(to, end + BLOCK_BYTES);
        bytes = readBytes(generation, at, end, this.scratch);
        cut = bytes.lastIndexOf(0x0a) + 1;
      }
      if (end < to || cut === bytes.length) {
        blocks.push(this.count(bytes.subarray(0, cut), window, 1, at, false, takeBack));
        at += cut;
      } else {
        // The end of the file: whole lines, then the line the server is still writing.
        if (cut > 0) blocks.push(this.count(bytes.subarray(0, cut), window, 1, at, false, takeBack));
        blocks.push(this.count(bytes.subarray(cut), window, 1, at + cut, true, takeBack));
        at = to;
      }
    }
    return blocks;
  }

  /**
   * One reader per window and sign for all the blocks: a reader per block
   * costs V8 its compiled hot path (see WindowReader's kept reader), several
   * times the lines' own cost. Blocks are whole lines, so nothing carries
   * from one to the next; each block's figures are the reader's totals after
   * it less those before.
   */
  private readonly readers = new Map<string, { reader: WindowReader; stats: WindowStats }>();
  /** The block being counted, for the shared readers' onLine. */
  private readonly block = { minTime: Infinity, maxTime: -Infinity, newest: -Infinity, digest: new DigestBuilder() };

  private readerFor(window: Required<AnalysisWindow>, sign: 1 | -1, takeBack: Required<AnalysisWindow> | undefined): { reader: WindowReader; stats: WindowStats } {
    const key = `${window.start} ${window.shortStart} ${window.end} ${window.now} ${sign} ${takeBack === undefined ? '' : `${takeBack.start} ${takeBack.shortStart} ${takeBack.end}`}`;
    let entry = this.readers.get(key);
    if (entry === undefined) {
      const listed = this.counting.listed;
      const block = this.block;
      const futureAfter = window.now + DISORDER_SECONDS;
      // Lines taken out with a sign of -1 leave the window with their block: the next state has no digest of them.
      const collecting = this.counting.digests.making && sign === 1;
      const digest = block.digest;
      const reader = new WindowReader({
        ...this.options,
        window,
        clients: this.counting.clients,
        sign,
        takeBack,
        onLine: (time, client, isApi, status, badUa, buf, ipStart, ipEnd) => {
          if (time === time) {
            if (time < block.minTime) block.minTime = time;
            if (time > block.maxTime) block.maxTime = time;
            // As WindowReader's newest line: any line with a time, but a future one.
            if (time > block.newest && time <= futureAfter) block.newest = time;
          }
          // A line stamped after the window was not looked up in the table: its row is not known when it comes in.
          if (collecting && (client === NOT_AN_ADDRESS || time > window.end)) digest.giveUp();
          if (client !== LISTED) {
            if (collecting) digest.add(time, client, isApi, status === 200, badUa);
            return;
          }
          const lines = (time >= window.start && time <= window.end ? sign : 0) - (takeBack !== undefined && time >= takeBack.start && time <= takeBack.end ? 1 : 0);
          if (lines === 0 && !collecting) return;
          const address = canonicalizeIp(buf.toString('latin1', ipStart, ipEnd)) as string;
          if (lines !== 0) listed.set(address, (listed.get(address) ?? 0) + lines);
          if (collecting) digest.addListed(time, address, isApi, status === 200);
        },
      });
      entry = { reader, stats: reader.finish() };
      this.readers.set(key, entry);
    }
    return entry;
  }

  /** Counts whole lines (or a file's last, unfinished one) into the counts with `sign`; the block they make. */
  private count(bytes: Buffer, window: Required<AnalysisWindow>, sign: 1 | -1, from = 0, partial = false, takeBack?: Required<AnalysisWindow>): BlockState {
    const { reader, stats } = this.readerFor(window, sign, takeBack);
    const block = this.block;
    block.minTime = Infinity;
    block.maxTime = -Infinity;
    block.newest = -Infinity;
    block.digest.begin();
    const before = { ...stats };
    reader.push(bytes);
    // The last line of a file may lack its newline; the next block is of another file, or of this one read again.
    reader.endOfFile();
    this.bytesRead += bytes.length;
    const known = block.minTime <= block.maxTime;
    const made: BlockState = {
      from,
      to: from + bytes.length,
      minTime: known ? block.minTime : null,
      maxTime: known ? block.maxTime : null,
      partial,
      linesRead: stats.linesRead - before.linesRead,
      garbageLines: stats.garbageLines - before.garbageLines,
      linesInWindow: stats.linesInWindow - before.linesInWindow,
      listedLines: stats.listedLines - before.listedLines,
      futureLines: stats.futureLines - before.futureLines,
      total200: stats.total200 - before.total200,
      newestLineTime: block.newest > -Infinity ? block.newest : null,
      // Taken out, so that the next block collects its own first few.
      garbageSamples: stats.garbageSamples.splice(0),
      rawSamples: reader.unreadableSamples.splice(0).map((sample) => sample.toString('base64')),
    };
    // A line too long to read is garbage without a listener's call: the block has none for its digest to leave out.
    const digest = sign === 1 && !partial && made.garbageLines === 0 && this.counting.digests.making ? block.digest.finish() : undefined;
    if (digest !== undefined) this.counting.digests.made(made, digest);
    return made;
  }
}
