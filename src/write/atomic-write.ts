/**
 * Writing files that a web server reads while we write them, and the change
 * log that operators read and several runs may share.
 *
 * The map and the geo include are replaced: a temporary file beside the
 * target, fsync'd, then renamed over it, so that a reader (or a crash) sees
 * the old file or the new one, never half of either. The change log is
 * appended to in place, under a kernel lock, so that its cost is the run's
 * lines and no run's lines are lost to another's. Symbolic links are written
 * through to their targets (write-target.ts).
 */
import {
  type Stats,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ExitError, OutputError, describeSystemError } from '../errors.js';
import { readInto } from '../read/bounded-file.js';
import { lockFileWithin, namesOpenFile } from './file-lock.js';
import { resolveWriteTarget } from './write-target.js';

const TEMP_MARK = '.ipanalyse-tmp-';
const { O_RDWR, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

function tempPathFor(target: string): string {
  const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  return join(dirname(target), `.${basename(target)}${TEMP_MARK}${suffix}`);
}

/**
 * Replaces `target` (or the file its links lead to) with `content`
 * atomically, keeping the old file's mode and, when we may, its owner and
 * group: a 0600 map of www-data's stays www-data's 0600 map. A new file
 * gets `firstMode`. `durable: false` skips the syncs that make the new
 * content survive a crash of the machine: for a file whose loss or
 * emptiness its reader detects and recovers from (the incremental state,
 * checked by its hash), the rename alone keeps it whole for every process.
 * Throws OutputError naming the path and the cause.
 */
export function writeFileAtomic(target: string, content: string | Uint8Array | Iterable<Uint8Array>, { firstMode = 0o644, durable = true }: { firstMode?: number; durable?: boolean } = {}): void {
  const real = resolveWriteTarget(target);
  const temp = tempPathFor(real);
  let fd: number | undefined;
  let renamed = false;
  let stage = temp;
  try {
    mkdirSync(dirname(real), { recursive: true });
    let previous: Stats | undefined;
    try {
      previous = statSync(real);
    } catch (error) {
      // A first run: the default owner and mode.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    fd = openSync(temp, 'wx', firstMode);
    if (previous) keepOwner(fd, previous);
    // After the chown, which clears set-id bits; and open() applied the umask, often 077 under cron:
    // a map the web server cannot read throttles nobody.
    fchmodSync(fd, previous ? previous.mode & 0o777 : firstMode);
    if (typeof content === 'string') writeAll(fd, Buffer.from(content, 'utf8'));
    else if (content instanceof Uint8Array) writeAll(fd, content);
    // Parts written one after the other (an incremental state's views of its table), never joined into one copy.
    else for (const chunk of content) writeAll(fd, chunk);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    stage = real;
    renameSync(temp, real);
    renamed = true;
    if (durable) syncDirectory(dirname(real));
  } catch (error) {
    throw new OutputError(`cannot write ${describeSystemError(error, stage)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (!renamed) rmSync(temp, { force: true });
  }
}

/**
 * Gives the temporary file the old file's owner and group. Only root can
 * give a file away; anyone else keeps at least the group when a member of it.
 */
function keepOwner(fd: number, previous: Stats): void {
  if (previous.uid === process.geteuid?.() && previous.gid === process.getegid?.()) return;
  try {
    fchownSync(fd, previous.uid, previous.gid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    try {
      fchownSync(fd, -1, previous.gid);
    } catch {
      // Not a member: the file is ours, with the old mode.
    }
  }
}

// How long an append waits for another run's append; one takes milliseconds.
const CHANGE_LOG_WAIT_MS = 10_000;
// Appends that found the log rotated away while they waited, before giving up.
const REOPENS = 5;

/**
 * Appends `text`, whole lines, to the change log `target` (or the file its
 * links lead to), creating it (mode 0644) and its directory when missing.
 * Holds the log's kernel lock for the append, so runs on different maps that
 * share one log lose no lines; costs the bytes appended, whatever the log's
 * size. A failed append (a full disk) is taken back out; one cut short by a
 * kill leaves a torn last line that the next append cuts off first. With
 * no text, only that repair is made (a run that changes nothing must not
 * leave a killed run's half line for ever). Returns a warning when it
 * repaired such a line.
 */
export function appendChangeLines(target: string, text: string): string | undefined {
  const real = resolveWriteTarget(target);
  try {
    // Nothing to append: only a torn end to repair, and no log to create.
    if (text === '' && !existsSync(real)) return undefined;
    mkdirSync(dirname(real), { recursive: true });
    for (let attempt = 0; ; attempt++) {
      const { fd, created } = openForAppend(real);
      try {
        if (!lockFileWithin(fd, CHANGE_LOG_WAIT_MS)) {
          throw new OutputError(`cannot append to ${real}: another process has held its lock for ${CHANGE_LOG_WAIT_MS / 1000} s`);
        }
        // logrotate may have moved the log away while we waited: append to the file its name now has.
        if (!namesOpenFile(real, fd) && attempt < REOPENS) continue;
        if (created) fchmodSync(fd, 0o644);
        const warning = repairTornEnd(fd, real);
        if (text === '') return warning;
        const start = fstatSync(fd).size;
        try {
          writeAll(fd, Buffer.from(text, 'utf8'));
          fsyncSync(fd);
        } catch (error) {
          takeBack(fd, start);
          throw error;
        }
        if (created) syncDirectory(dirname(real));
        return warning;
      } finally {
        // Closing drops the lock.
        closeSync(fd);
      }
    }
  } catch (error) {
    if (error instanceof ExitError) throw error;
    throw new OutputError(`cannot append to ${describeSystemError(error, real)}`);
  }
}

/** Opens for appending without following a link (one swapped in after resolveWriteTarget looked). */
function openForAppend(file: string): { fd: number; created: boolean } {
  const flags = O_RDWR | O_APPEND | O_NOFOLLOW;
  try {
    try {
      return { fd: openSync(file, flags | O_CREAT | O_EXCL, 0o644), created: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return { fd: openSync(file, flags), created: false };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new OutputError(`cannot append to ${file}: it became a symbolic link`);
    throw error;
  }
}

function takeBack(fd: number, size: number): void {
  try {
    ftruncateSync(fd, size);
  } catch {
    // Then the next append cuts the torn line off.
  }
}

// Every change line starts so: `2026-11-20 12:00 `.
const STAMP = '0000-00-00 00:00 ';
const TAIL_CHUNK = 64 * 1024;

/**
 * A log that does not end in a newline was cut short in mid-append. A torn
 * line of ours (it starts like a change line) is cut off: half an address
 * list would tell the operator of changes that were not made as written.
 * Anything else, say a note typed without a final newline, is ended instead.
 */
function repairTornEnd(fd: number, file: string): string | undefined {
  const size = fstatSync(fd).size;
  if (size === 0 || readAt(fd, size - 1, 1)[0] === 0x0a) return undefined;
  let lineStart = 0;
  for (let end = size; end > 0; end -= TAIL_CHUNK) {
    const from = Math.max(0, end - TAIL_CHUNK);
    const newline = readAt(fd, from, end - from).lastIndexOf(0x0a);
    if (newline >= 0) {
      lineStart = from + newline + 1;
      break;
    }
  }
  const head = readAt(fd, lineStart, Math.min(STAMP.length, size - lineStart)).toString('latin1');
  if (startsLikeChangeLine(head)) {
    ftruncateSync(fd, lineStart);
    return `cut a torn last line (${size - lineStart} bytes, from a run killed while appending) off ${file}`;
  }
  writeAll(fd, Buffer.from('\n'));
  return `ended the last line of ${file}, which had no newline`;
}

function startsLikeChangeLine(head: string): boolean {
  for (let i = 0; i < head.length; i++) {
    const digit = head.charCodeAt(i) >= 0x30 && head.charCodeAt(i) <= 0x39;
    if (STAMP[i] === '0' ? !digit : head[i] !== STAMP[i]) return false;
  }
  return true;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, readInto(fd, buffer, position));
}

/**
 * write(2) may write less than asked when the disk is nearly full; renaming
 * such a file over the map would publish a torn map. Write all, or fail.
 */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) {
    const written = writeSync(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    offset += written;
  }
}

/** Makes the rename itself durable; some file systems refuse to open a directory, which is fine. */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort only.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Removes temporary files that a killed run left next to each of `targets`
 * and, when one is a link, next to the file it leads to. Only call while
 * holding the run lock, so no live writer's file is taken away.
 */
export function removeStaleTempFiles(targets: readonly string[]): string[] {
  // Each file's own name, and the target its link leads to: by directory, so that each is listed once.
  const prefixes = new Map<string, Set<string>>();
  const add = (place: string) => {
    const directory = dirname(place);
    let ours = prefixes.get(directory);
    if (ours === undefined) prefixes.set(directory, (ours = new Set()));
    ours.add(`.${basename(place)}${TEMP_MARK}`);
  };
  for (const target of targets) {
    add(resolve(target));
    try {
      add(resolveWriteTarget(target));
    } catch {
      // An untrusted link: the write will say so; nothing of ours is beside its target.
    }
  }
  const removed: string[] = [];
  for (const [directory, prefixSet] of prefixes) {
    const ours = [...prefixSet];
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!ours.some((prefix) => name.startsWith(prefix))) continue;
      const stale = join(directory, name);
      rmSync(stale, { force: true });
      removed.push(stale);
    }
  }
  return removed;
}
