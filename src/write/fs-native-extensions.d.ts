/** The part of fs-native-extensions (which ships no types) that file-lock.ts uses. */
declare module 'fs-native-extensions' {
  /** True when the lock was granted, false when another open file holds it. Exclusive unless `shared`. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
}
