/**
 * Reading the window from the log and, after a rotation, from its previous
 * generations (logrotate's LOG.1, LOG.2.gz). The edge between the file system
 * and the WindowReader: it decides which files and from where, never what a
 * line means.
 */
import {
  type ReadStream,
  type Stats,
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  open as fsOpen,
  openSync,
  read as fsRead,
  readSync,
  statSync,
} from 'node:fs';
import { InputError, describeSystemError } from '../errors.js';
import { zlib } from '../lazy-modules.js';
import { notRegular } from './bounded-file.js';
import { NEWLINE, parseLineTime } from './log-line.js';
import { type LineTime, type SeekResult, seekToTime } from './seek-to-time.js';
import type { AnalysisWindow, WindowReader } from './window-stats.js';

// A chunk that stays in a core's cache between the kernel's copy and the parse: the realistic hour (281 MB) was read
// in 36 ms in chunks of 128 KiB, and in 116-150 ms in chunks of 1 MiB, by a loop of reads alone on this machine.
export const READ_CHUNK_BYTES = 128 * 1024;
const HEAD_BYTES = 64 * 1024;

export interface LogFileRead {
  path: string;
  /** Where reading started (0 for a compressed file, which cannot seek). */
  offset: number;
  /** Reads the seek needed. */
  seekReads: number;
  bytesRead: number;
  /** The file got shorter than it was when the run opened it (truncated, copytruncate): the read is partial, nothing may be decided from it. */
  truncated: boolean;
  /** At the end of the read, the path named another file than the one read (renamed by logrotate, or replaced): the next run reads the new one. */
  replaced: boolean;
}

export interface Generation {
  path: string;
  /**
   * The log is opened at once, a previous generation only when the window
   * reaches into it; each is held until closeGenerations: if logrotate
   * renames the log while the run reads it, the run goes on reading the same
   * file, so no line is missed and none is counted twice.
   */
  fd: number | undefined;
  compressed: boolean;
  size: number;
  /** Which file was found, to tell whether the path still names it. */
  dev: number;
  ino: number;
}

/**
 * Opens a regular file for reading. O_NONBLOCK, because the open of a FIFO
 * waits for a writer, for ever under cron; what is not a regular file (a
 * FIFO, /dev/zero, a directory) is refused, named for what it is.
 */
function openRegular(path: string): { fd: number; stat: Stats } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw notRegular(stat);
    return { fd, stat };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function generationOf(path: string, fd: number | undefined, stat: Stats): Generation {
  return { path, fd, compressed: path.endsWith('.gz'), size: stat.size, dev: stat.dev, ino: stat.ino };
}

/**
 * Opens the log and finds those of its previous generations that exist,
 * newest first, without opening them (see openGeneration). Close them with
 * closeGenerations.
 */
export function findGenerations(logFile: string, rotatedSuffixes: readonly string[], warnings: string[]): Generation[] {
  let log: Generation;
  try {
    const { fd, stat } = openRegular(logFile);
    log = generationOf(logFile, fd, stat);
  } catch (error) {
    throw new InputError(`cannot read the log ${describeSystemError(error, logFile)}`);
  }
  const generations = [log];
  for (const suffix of rotatedSuffixes) {
    const path = logFile + suffix;
    try {
      const stat = statSync(path);
      if (!stat.isFile()) throw notRegular(stat);
      generations.push(generationOf(path, undefined, stat));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`skipping ${describeSystemError(error, path)}`);
    }
  }
  return generations;
}

/**
 * Opens a previous generation found by findGenerations. False when it is no
 * longer there, or is now one of the files already open (logrotate ran in
 * between: that file is being read already).
 */
function openGeneration(generation: Generation, open: Generation[], warnings: string[]): boolean {
  if (generation.fd !== undefined) return true;
  try {
    const { fd, stat } = openRegular(generation.path);
    if (open.some((other) => other.fd !== undefined && other.dev === stat.dev && other.ino === stat.ino)) {
      closeSync(fd);
      return false;
    }
    Object.assign(generation, generationOf(generation.path, fd, stat));
    return true;
  } catch (error) {
    warnings.push(`skipping ${describeSystemError(error, generation.path)}`);
    return false;
  }
}

/** The descriptor of a generation that findGenerations or openGeneration opened. */
export function fdOf(generation: Generation): number {
  if (generation.fd === undefined) throw new Error(`${generation.path} was read before it was opened`);
  return generation.fd;
}

export function closeGenerations(generations: Generation[]): void {
  for (const generation of generations) if (generation.fd !== undefined) closeSync(generation.fd);
}

/** The time of the first readable line near the start of a file, or undefined for an empty or unreadable head. */
async function firstLineTime(generation: Generation, lineTime: LineTime): Promise<number | undefined> {
  const head = generation.compressed ? await readCompressedHead(fdOf(generation)) : readPlainHead(fdOf(generation));
  for (let start = 0; start < head.length; ) {
    let end = head.indexOf(NEWLINE, start);
    if (end < 0) end = head.length;
    const time = lineTime(head, start, end);
    if (time === time) return time;
    start = end + 1;
  }
  return undefined;
}

/**
 * The time of the last readable line near the end of the log (the newest
 * generation), for a run whose seek found nothing after its start: a log
 * that stopped days ago. NaN for an empty or unreadable tail.
 */
export function lastLineTime(generations: Generation[], lineTime: LineTime): number {
  const log = generations[0];
  if (log.compressed || log.size === 0) return NaN;
  const length = Math.min(HEAD_BYTES, log.size);
  const tail = Buffer.alloc(length);
  const read = readSync(fdOf(log), tail, 0, length, log.size - length);
  let end = read;
  while (end > 0) {
    const start = tail.lastIndexOf(NEWLINE, end - 1) + 1;
    const time = start < end ? lineTime(tail, start, end) : NaN;
    if (time === time) return time;
    // A line cut at the tail's start has no newline before it: it is the last try.
    if (start === 0) break;
    end = start - 1;
  }
  return NaN;
}

function readPlainHead(fd: number): Buffer {
  const head = Buffer.alloc(HEAD_BYTES);
  return head.subarray(0, readSync(fd, head, 0, HEAD_BYTES, 0));
}

// destroy() closes a stream's descriptor even with autoClose off; the
// generation's descriptor is closed by closeGenerations alone.
const KEEP_DESCRIPTOR_OPEN = { open: fsOpen, read: fsRead, close: (_fd: number, callback: (error: null) => void) => callback(null) };

/** A read stream over an open descriptor that leaves it open, from its start. */
function streamFrom(fd: number): ReadStream {
  return createReadStream('', { fd, autoClose: false, start: 0, fs: KEEP_DESCRIPTOR_OPEN });
}

/** The decompressed bytes of a gzip generation, from its start; close() stops reading and leaves the descriptor open. */
function gunzipFrom(fd: number): { chunks: AsyncIterable<Buffer>; close(): void } {
  const source = streamFrom(fd);
  const gunzip = zlib().createGunzip();
  // pipe() does not forward a read error; without this a reader of the chunks would wait forever.
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  return {
    chunks: gunzip,
    close: () => {
      source.destroy();
      gunzip.destroy();
    },
  };
}

async function readCompressedHead(fd: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  const gunzip = gunzipFrom(fd);
  try {
    for await (const chunk of gunzip.chunks) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= HEAD_BYTES) break;
    }
  } catch {
    // A damaged archive has no readable head; reading it later reports the error.
  } finally {
    gunzip.close();
  }
  return Buffer.concat(chunks);
}

/**
 * Which generations hold the window, oldest first: an older one is needed
 * only while the newer one starts after `from` (or holds no line yet).
 */
export async function generationsToRead(generations: Generation[], from: number, lineTime: LineTime = parseLineTime, warnings: string[] = []): Promise<Generation[]> {
  const chosen = [generations[0]];
  for (let i = 0; i + 1 < generations.length; i++) {
    const first = await firstLineTime(generations[i], lineTime);
    if (first !== undefined && first <= from) break;
    if (!openGeneration(generations[i + 1], generations, warnings)) break;
    chosen.unshift(generations[i + 1]);
  }
  return chosen;
}

/** Told how far reading a file has come, for a progress display on long replays. */
export type ProgressListener = (file: string, bytesDone: number, bytesTotal: number) => void;

const PROGRESS_STEP_BYTES = 32 * 1024 * 1024;

/**
 * Feeds the lines from `seekTarget` on to the reader, file after file, and
 * stops as soon as the reader has seen the window's end.
 */
export async function readGenerations(
  generations: Generation[],
  seekTarget: number,
  reader: WindowReader,
  warnings: string[],
  progress?: ProgressListener,
): Promise<LogFileRead[]> {
  const reads: LogFileRead[] = [];
  for (const generation of generations) {
    if (reader.done) break;
    const read = generation.compressed ? await readCompressed(generation, reader) : readPlain(generation, seekTarget, reader, warnings, progress);
    reader.endOfFile();
    reads.push(read);
  }
  return reads;
}

/** Where a plain generation's lines from `target` on start, as the full read finds it (size as found). */
export function seekInGeneration(generation: Generation, target: number, lineTime: LineTime): SeekResult {
  const fd = fdOf(generation);
  const readAt = (buffer: Buffer, position: number): number => readSync(fd, buffer, 0, buffer.length, position);
  return seekToTime(readAt, generation.size, target, { lineTime });
}

function readPlain(generation: Generation, seekTarget: number, reader: WindowReader, warnings: string[], progress?: ProgressListener): LogFileRead {
  const { path, size } = generation;
  const fd = fdOf(generation);
  try {
    const seek = seekInGeneration(generation, seekTarget, reader.lineTime);
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let position = seek.offset;
    let nextProgress = position + PROGRESS_STEP_BYTES;
    // Up to the size seen at the start: lines appended meanwhile belong to the next run.
    while (position < size && !reader.done) {
      const bytes = readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
      if (bytes === 0) {
        warnings.push(`${path} shrank while it was read (truncated?): ${size - position} bytes of the window were not read`);
        break;
      }
      reader.push(chunk, 0, bytes);
      position += bytes;
      if (progress && position >= nextProgress) {
        progress(path, position - seek.offset, size - seek.offset);
        nextProgress = position + PROGRESS_STEP_BYTES;
      }
    }
    progress?.(path, size - seek.offset, size - seek.offset);
    const truncated = position < size && !reader.done ? true : fstatSync(fd).size < size;
    return { path, offset: seek.offset, seekReads: seek.reads, bytesRead: position - seek.offset, truncated, replaced: isReplaced(generation) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw new InputError(`cannot read the log ${describeSystemError(error, path)}`);
    throw error;
  }
}

/** A compressed generation cannot seek: it is streamed from its start, every line filtered by time as always. */
async function readCompressed(generation: Generation, reader: WindowReader): Promise<LogFileRead> {
  const { path } = generation;
  const gunzip = gunzipFrom(fdOf(generation));
  let bytesRead = 0;
  try {
    for await (const chunk of gunzip.chunks) {
      reader.push(chunk);
      bytesRead += chunk.length;
      if (reader.done) break;
    }
  } catch (error) {
    throw new InputError(`cannot read the rotated log ${describeSystemError(error, path)}`);
  } finally {
    gunzip.close();
  }
  return { path, offset: 0, seekReads: 0, bytesRead, truncated: false, replaced: isReplaced(generation) };
}

/** Whether the generation's path now names another file than the one opened (or none). */
export function isReplaced(generation: Generation): boolean {
  const now = statSync(generation.path, { throwIfNoEntry: false });
  return now === undefined || now.dev !== generation.dev || now.ino !== generation.ino;
}
