/**
 * One run at a time per map. The lock is `MAP.lock`, a file next to the map
 * on which the run holds a kernel lock (file-lock.ts) for its whole length;
 * the file names the holder's pid for the operator, nothing more. The kernel
 * drops the lock when the run ends, however it ends: a lock file left by a
 * killed run is taken over with a warning whatever now lives under the pid
 * it names (pid 1 in a container, a reused pid), and a live run's lock is
 * never taken, however long the run blocks.
 */
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExitCode, ExitError, OutputError, describeSystemError } from '../errors.js';
import { namesOpenFile, tryLockFile } from './file-lock.js';

export interface RunLock {
  /** Set when a stale lock was taken over. */
  warning?: string;
  release(): void;
}

export class LockedError extends ExitError {
  constructor(message: string) {
    super(message, ExitCode.locked);
    this.name = 'LockedError';
  }
}

const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
// A lock file that vanishes between our open and our lock was released by its holder; a few retries always settle it.
const ATTEMPTS = 10;

/**
 * Takes the lock of `mapFile`, `MAP.lock`, or throws LockedError (exit 75,
 * "retry later") when a live run holds it, OutputError (exit 74) when it
 * cannot be made or is not a lock ipanalyse made (a link, a hard link).
 */
export function acquireRunLock(mapFile: string): RunLock {
  const lockPath = `${mapFile}.lock`;
  try {
    mkdirSync(dirname(lockPath), { recursive: true });
  } catch (error) {
    throw new OutputError(`cannot create the lock ${describeSystemError(error, lockPath)}`);
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const opened = openLockFile(lockPath);
    if (!opened) continue;
    const { fd, created } = opened;
    let held = false;
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new OutputError(`${lockPath} is not a regular file, so not a lock ipanalyse made; remove it`);
      // No name left: its holder released it while we opened it.
      if (stat.nlink === 0) continue;
      // Writing our pid into a file that has another name would write into that other file.
      if (stat.nlink > 1) throw new OutputError(`${lockPath} has another name (a hard link), so it is not a lock ipanalyse made; remove it`);
      if (!tryLockFile(fd)) {
        const owner = readOwner(fd);
        throw new LockedError(`another run${owner === undefined ? '' : ` (pid ${owner})`} holds ${lockPath}; nothing done, retry later`);
      }
      // A run that releases removes the file before it closes it.
      if (!namesOpenFile(lockPath, fd)) continue;
      const previous = created ? undefined : readOwner(fd);
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`, 0);
      held = true;
      const was = previous === undefined ? 'left by a run that was killed' : `left by pid ${previous}, which no longer holds it`;
      return { warning: created ? undefined : `took over the stale lock ${lockPath} (${was})`, release: releaser(fd, lockPath) };
    } catch (error) {
      if (error instanceof ExitError) throw error;
      throw new OutputError(`cannot take the lock ${describeSystemError(error, lockPath)}`);
    } finally {
      if (!held) closeSync(fd);
    }
  }
  throw new LockedError(`${lockPath} kept changing hands; nothing done, retry later`);
}

/**
 * Opens the lock file, creating it exclusively when there is none; never
 * follows a link. Undefined when the file vanished between two tries.
 */
function openLockFile(lockPath: string): { fd: number; created: boolean } | undefined {
  try {
    return { fd: openSync(lockPath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644), created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new OutputError(`cannot create the lock ${describeSystemError(error, lockPath)}`);
  }
  try {
    // O_NONBLOCK: a fifo planted here must not hang the run before fstat can refuse it.
    return { fd: openSync(lockPath, O_RDWR | O_NOFOLLOW | O_NONBLOCK), created: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new OutputError(`${lockPath} is a symbolic link, not a lock ipanalyse made; not following it (remove it)`);
    throw new OutputError(`cannot open the lock ${describeSystemError(error, lockPath)}`);
  }
}

function readOwner(fd: number): number | undefined {
  const buffer = Buffer.alloc(24);
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  const pid = Number.parseInt(buffer.toString('latin1', 0, length), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function releaser(fd: number, lockPath: string): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      // Removed while still locked, so that a run that opened it before cannot use it once we close it.
      if (namesOpenFile(lockPath, fd)) unlinkSync(lockPath);
    } catch {
      // Left behind, it is only a file: the next run takes it over with a warning.
    } finally {
      closeSync(fd);
    }
  };
}
