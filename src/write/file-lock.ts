/**
 * Kernel file locks: Linux open-file-description locks (fcntl F_OFD_SETLK,
 * flock(2)-like), from fs-native-extensions' addon. A lock belongs to an
 * open file and is gone when that file is closed or its process dies,
 * however it dies: there is no pid to outlive its process, no age and no
 * heartbeat to get wrong while a run blocks its event loop for minutes.
 */
import { fstatSync, lstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OutputError } from '../errors.js';

const POLL_MS = 5;

interface Binding {
  /** Throws an error with code EAGAIN when another open file holds the lock. */
  tryLock(fd: number, offset: number, length: number, exclusive: boolean): void;
}

let binding: Binding | undefined;

/**
 * The addon, loaded from its prebuilt file for this platform: the package's
 * own entry finds the same file through a resolver that costs 20 ms, a tenth
 * of a cron run. The package's version is pinned, as this is its layout;
 * elsewhere (another layout, a platform without a prebuild) its entry decides.
 */
function loadBinding(): Binding {
  const load = createRequire(import.meta.url);
  try {
    return load(`fs-native-extensions/prebuilds/${process.platform}-${process.arch}/fs-native-extensions.node`) as Binding;
  } catch {
    try {
      return load('fs-native-extensions/binding.js') as Binding;
    } catch (error) {
      const cause = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new OutputError(`cannot load the file lock (fs-native-extensions) for ${process.platform}-${process.arch}: ${cause}`);
    }
  }
}

/** Takes the exclusive lock of the open file `fd` if no other open file holds it; never waits. */
export function tryLockFile(fd: number): boolean {
  binding ??= loadBinding();
  try {
    binding.tryLock(fd, 0, 0, true);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return false;
    throw error;
  }
}

/**
 * Takes the exclusive lock of `fd`, waiting up to `milliseconds` for its
 * holder; false when it was still held. Waits synchronously, as the writes
 * around it are synchronous.
 */
export function lockFileWithin(fd: number, milliseconds: number): boolean {
  if (tryLockFile(fd)) return true;
  // The clock only when there is a wait: performance.now() loads perf_hooks, ten of Node's modules, and every run
  // takes the change log's lock, nearly always free.
  const deadline = performance.now() + milliseconds;
  do {
    if (performance.now() >= deadline) return false;
    sleepSync(POLL_MS);
  } while (!tryLockFile(fd));
  return true;
}

/**
 * True when `file` (not followed if a link) is the open file `fd`. A lock
 * taken on a file that has since lost its name (released and removed, or
 * rotated away) guards nothing that others will open.
 */
export function namesOpenFile(file: string, fd: number): boolean {
  try {
    const named = lstatSync(file);
    const open = fstatSync(fd);
    return named.ino === open.ino && named.dev === open.dev;
  } catch {
    return false;
  }
}

function sleepSync(milliseconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds);
}
