/**
 * Kernel file locks: Linux open-file-description locks (flock(2)-like, taken
 * through fs-native-extensions). A lock belongs to an open file and is gone
 * when that file is closed or its process dies, however it dies: there is no
 * pid to outlive its process, no age and no heartbeat to get wrong while a
 * run blocks its event loop for minutes.
 */
import { tryLock } from 'fs-native-extensions';

const POLL_MS = 5;

/** Takes the exclusive lock of the open file `fd` if no other open file holds it; never waits. */
export function tryLockFile(fd: number): boolean {
  return tryLock(fd);
}

/**
 * Takes the exclusive lock of `fd`, waiting up to `milliseconds` for its
 * holder; false when it was still held. Waits synchronously, as the writes
 * around it are synchronous.
 */
export function lockFileWithin(fd: number, milliseconds: number): boolean {
  const deadline = performance.now() + milliseconds;
  while (!tryLock(fd)) {
    if (performance.now() >= deadline) return false;
    sleepSync(POLL_MS);
  }
  return true;
}

export function sleepSync(milliseconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds);
}
