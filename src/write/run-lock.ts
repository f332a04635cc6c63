/**
 * One run at a time per map. The lock is a file next to the map holding the
 * owner's pid, created with O_EXCL. A lock whose process is gone (a run that
 * was killed) is taken over with a warning rather than blocking cron forever.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, ExitError, OutputError, describeSystemError } from '../errors.js';

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

/** True when `pid` names a live process (EPERM: alive, owned by someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function sleepSync(milliseconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds);
}

/** Takes the lock of `mapFile`, `MAP.lock`, or throws LockedError (exit 75, "retry later"). */
export function acquireRunLock(mapFile: string): RunLock {
  const lockPath = `${mapFile}.lock`;
  const me = String(process.pid);
  const lock = (warning?: string): RunLock => ({
    warning,
    release: () => {
      if (readOwner(lockPath) === process.pid) fs.rmSync(lockPath, { force: true });
    },
  });
  try {
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, `${me}\n`, { flag: 'wx' });
    return lock();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new OutputError(`cannot create the lock ${describeSystemError(error, lockPath)}`);
    }
  }
  const owner = readOwner(lockPath);
  if (owner !== undefined && isAlive(owner)) {
    throw new LockedError(`another run (pid ${owner}) holds ${lockPath}; nothing done, retry later`);
  }
  // Rename a lock of our own over the stale one, atomically. Two runs taking
  // over at once both rename; the later one wins, and the pause lets the
  // earlier one see that it lost.
  const mine = `${lockPath}.${me}`;
  try {
    fs.writeFileSync(mine, `${me}\n`);
    fs.renameSync(mine, lockPath);
  } catch (error) {
    fs.rmSync(mine, { force: true });
    throw new OutputError(`cannot take over the lock ${describeSystemError(error, lockPath)}`);
  }
  sleepSync(50);
  if (readOwner(lockPath) !== process.pid) {
    throw new LockedError(`another run took over the stale lock ${lockPath} at the same time; nothing done, retry later`);
  }
  const was = owner === undefined ? 'an unreadable owner' : `pid ${owner}, no longer running`;
  return lock(`took over the stale lock ${lockPath} (${was})`);
}
