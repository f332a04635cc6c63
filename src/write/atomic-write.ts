/**
 * Writing files that a web server reads while we write them.
 *
 * A temporary file in the same directory, fsync'd, then renamed over the
 * target: a reader (or a crash) sees the old file or the new one, never half
 * of either. The old file's mode is kept, so a map readable by www-data stays so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OutputError, describeSystemError } from '../errors.js';

const TEMP_MARK = '.ipanalyse-tmp-';

function tempPathFor(target: string): string {
  const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  return path.join(path.dirname(target), `.${path.basename(target)}${TEMP_MARK}${suffix}`);
}

/** Replaces `target` with `content` atomically. Throws OutputError naming the path and the cause. */
export function writeFileAtomic(target: string, content: string): void {
  replaceThroughTemporaryFile(target, Buffer.from(content, 'utf8'), false);
}

/**
 * Appends `text` to `target` so that no reader and no crash ever sees half a
 * line: a single write(2) is not enough, as SIGKILL or a full disk can cut a
 * large write short. The file is copied (copy_file_range: cheap), the lines
 * appended to the copy, and the copy renamed over the original. Creates the
 * directory when missing (the original crashes instead).
 */
export function appendAtomically(target: string, text: string): void {
  replaceThroughTemporaryFile(target, Buffer.from(text, 'utf8'), true);
}

/** The one way files are written: a temporary file next to the target, all bytes, fsync, rename. */
function replaceThroughTemporaryFile(target: string, bytes: Buffer, appendToOld: boolean): void {
  const temp = tempPathFor(target);
  let mode = 0o644;
  let fd: number | undefined;
  let renamed = false;
  let stage = appendToOld ? target : temp;
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    try {
      mode = fs.statSync(target).mode & 0o7777;
      if (appendToOld) fs.copyFileSync(target, temp, fs.constants.COPYFILE_EXCL);
    } catch (error) {
      // A first run: an empty start and the default mode.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    fd = fs.openSync(temp, appendToOld ? 'a' : 'wx', mode);
    // open() applies the umask; cron's is often 077, and a map the web server cannot read throttles nobody.
    fs.fchmodSync(fd, mode);
    writeAll(fd, bytes);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    stage = target;
    fs.renameSync(temp, target);
    renamed = true;
    syncDirectory(path.dirname(target));
  } catch (error) {
    throw new OutputError(`cannot ${appendToOld ? 'append to' : 'write'} ${describeSystemError(error, stage)}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (!renamed) fs.rmSync(temp, { force: true });
  }
}

/**
 * write(2) may write less than asked when the disk is nearly full; renaming
 * such a file over the map would publish a torn map. Write all, or fail.
 */
function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; ) {
    const written = fs.writeSync(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    offset += written;
  }
}

/** Makes the rename itself durable; some file systems refuse to open a directory, which is fine. */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(directory, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Best effort only.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Removes temporary files that a killed run left next to `target`. Only call
 * while holding the run lock, so no live writer's file is taken away.
 */
export function removeStaleTempFiles(target: string): string[] {
  const directory = path.dirname(target);
  const prefix = `.${path.basename(target)}${TEMP_MARK}`;
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const stale = path.join(directory, name);
    fs.rmSync(stale, { force: true });
    removed.push(stale);
  }
  return removed;
}
