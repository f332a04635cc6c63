/**
 * Files we are told to read (settings, list files, the previous map) are
 * checked before they are opened: a FIFO's open blocks for ever, /dev/zero
 * or /dev/urandom never end, and a file of gigabytes must not be read whole.
 */
import { type Stats, closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

/** An error whose `code` describeSystemError does not know, so that its message is shown as the cause. */
export function refusal(message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

const KINDS: [test: (stat: Stats) => boolean, name: string][] = [
  [(stat) => stat.isDirectory(), 'a directory'],
  [(stat) => stat.isFIFO(), 'a FIFO'],
  [(stat) => stat.isCharacterDevice(), 'a character device'],
  [(stat) => stat.isBlockDevice(), 'a block device'],
  [(stat) => stat.isSocket(), 'a socket'],
];

/** The refusal for a file that is not a regular one, naming what it is. */
export function notRegular(stat: Stats): NodeJS.ErrnoException {
  const kind = KINDS.find(([test]) => test(stat))?.[1] ?? 'not a regular file';
  return refusal(`is ${kind}, not a regular file`, 'ENOTREGULAR');
}

/** Throws, without opening it, when `path` is not a regular file (through links) or is larger than `maxBytes`. */
export function checkReadableFile(path: string, maxBytes: number, what: string): Stats {
  const stat = statSync(path);
  if (!stat.isFile()) throw notRegular(stat);
  if (stat.size > maxBytes) throw refusal(`is ${formatBytes(stat.size)}, more than the ${formatBytes(maxBytes)} ${what} may be`, 'ETOOLARGE');
  return stat;
}

/** Reads a whole regular file of at most `maxBytes` (checked before and after opening), or throws as checkReadableFile. */
export function readBoundedFile(path: string, maxBytes: number, what: string): Buffer {
  checkReadableFile(path, maxBytes, what);
  const fd = openSync(path, 'r');
  try {
    // The file may have been replaced between the check and the open.
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > maxBytes) throw refusal(`changed while it was opened; it is no longer a regular file of at most ${formatBytes(maxBytes)}`, 'ECHANGED');
    const buffer = Buffer.allocUnsafe(Math.min(stat.size, maxBytes) + 1);
    const length = readInto(fd, buffer, 0);
    if (length > maxBytes) throw refusal(`grew past ${formatBytes(maxBytes)} while it was read`, 'ETOOLARGE');
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Fills `into` from `position` of the file, as far as it goes: read(2) may return less than asked. Returns the bytes read, fewer only at the file's end. */
export function readInto(fd: number, into: Uint8Array, position: number): number {
  let filled = 0;
  while (filled < into.length) {
    const read = readSync(fd, into, filled, into.length - filled, position + filled);
    if (read === 0) break;
    filled += read;
  }
  return filled;
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
