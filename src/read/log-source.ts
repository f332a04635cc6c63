/**
 * Reading the window from the log and, after a rotation, from its previous
 * generations (logrotate's LOG.1, LOG.2.gz). The edge between the file system
 * and the WindowReader: it decides which files and from where, never what a
 * line means.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { InputError, describeSystemError } from '../errors.js';
import { NEWLINE, parseLineTime } from './log-line.js';
import { type LineTime, seekToTime } from './seek-to-time.js';
import type { AnalysisWindow, WindowReader } from './window-stats.js';

const READ_CHUNK_BYTES = 1024 * 1024;
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
   * Opened once, when the generations are found: if logrotate renames the
   * log while the run reads it, the run goes on reading the same file, so no
   * line is missed and none is counted twice.
   */
  fd: number;
  compressed: boolean;
  size: number;
  /** Which file was opened, to tell whether the path still names it. */
  dev: number;
  ino: number;
}

function openGeneration(path: string): Generation {
  const fd = fs.openSync(path, 'r');
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    return { path, fd, compressed: path.endsWith('.gz'), size: stat.size, dev: stat.dev, ino: stat.ino };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/** Opens the log and those of its previous generations that exist, newest first. Close them with closeGenerations. */
export function findGenerations(logFile: string, rotatedSuffixes: readonly string[], warnings: string[]): Generation[] {
  let log: Generation;
  try {
    log = openGeneration(logFile);
  } catch (error) {
    throw new InputError(`cannot read the log ${describeSystemError(error, logFile)}`);
  }
  const generations = [log];
  for (const suffix of rotatedSuffixes) {
    const path = logFile + suffix;
    try {
      generations.push(openGeneration(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`skipping ${describeSystemError(error, path)}`);
    }
  }
  return generations;
}

export function closeGenerations(generations: Generation[]): void {
  for (const generation of generations) fs.closeSync(generation.fd);
}

/** The time of the first readable line near the start of a file, or undefined for an empty or unreadable head. */
async function firstLineTime(generation: Generation, lineTime: LineTime): Promise<number | undefined> {
  const head = generation.compressed ? await readCompressedHead(generation.fd) : readPlainHead(generation.fd);
  for (let start = 0; start < head.length; ) {
    let end = head.indexOf(NEWLINE, start);
    if (end < 0) end = head.length;
    const time = lineTime(head, start, end);
    if (time === time) return time;
    start = end + 1;
  }
  return undefined;
}

function readPlainHead(fd: number): Buffer {
  const head = Buffer.alloc(HEAD_BYTES);
  return head.subarray(0, fs.readSync(fd, head, 0, HEAD_BYTES, 0));
}

// destroy() closes a stream's descriptor even with autoClose off; the
// generation's descriptor is closed by closeGenerations alone.
const KEEP_DESCRIPTOR_OPEN = { open: fs.open, read: fs.read, close: (_fd: number, callback: (error: null) => void) => callback(null) };

/** A read stream over an open descriptor that leaves it open, from its start. */
function streamFrom(fd: number): fs.ReadStream {
  return fs.createReadStream('', { fd, autoClose: false, start: 0, fs: KEEP_DESCRIPTOR_OPEN });
}

/** The decompressed bytes of a gzip generation, from its start; close() stops reading and leaves the descriptor open. */
function gunzipFrom(fd: number): { chunks: AsyncIterable<Buffer>; close(): void } {
  const source = streamFrom(fd);
  const gunzip = zlib.createGunzip();
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
export async function generationsToRead(generations: Generation[], from: number, lineTime: LineTime = parseLineTime): Promise<Generation[]> {
  const chosen = [generations[0]];
  for (let i = 0; i + 1 < generations.length; i++) {
    const first = await firstLineTime(generations[i], lineTime);
    if (first !== undefined && first <= from) break;
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

function readPlain(generation: Generation, seekTarget: number, reader: WindowReader, warnings: string[], progress?: ProgressListener): LogFileRead {
  const { path, size, fd } = generation;
  try {
    const readAt = (buffer: Buffer, position: number): number => fs.readSync(fd, buffer, 0, buffer.length, position);
    const seek = seekToTime(readAt, size, seekTarget, { lineTime: reader.lineTime });
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let position = seek.offset;
    let nextProgress = position + PROGRESS_STEP_BYTES;
    // Up to the size seen at the start: lines appended meanwhile belong to the next run.
    while (position < size && !reader.done) {
      const bytes = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
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
    const truncated = position < size && !reader.done ? true : fs.fstatSync(fd).size < size;
    return { path, offset: seek.offset, seekReads: seek.reads, bytesRead: position - seek.offset, truncated, replaced: isReplaced(generation) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw new InputError(`cannot read the log ${describeSystemError(error, path)}`);
    throw error;
  }
}

/** A compressed generation cannot seek: it is streamed from its start, every line filtered by time as always. */
async function readCompressed(generation: Generation, reader: WindowReader): Promise<LogFileRead> {
  const { path } = generation;
  const gunzip = gunzipFrom(generation.fd);
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
function isReplaced(generation: Generation): boolean {
  const now = fs.statSync(generation.path, { throwIfNoEntry: false });
  return now === undefined || now.dev !== generation.dev || now.ino !== generation.ino;
}
