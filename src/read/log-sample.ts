/** The first and the last lines of a log, for `check-log`: a sample from both ends, whatever the log's size. */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { NEWLINE } from './line-fields.js';
import { InputError, describeSystemError } from '../errors.js';
import { notRegular } from './bounded-file.js';

const SAMPLE_BYTES = 256 * 1024;

export interface LogSample {
  size: number;
  /** Whole lines from the start, without their newline. */
  head: Buffer[];
  /** Whole lines from the end; empty when the head reached the end already. */
  tail: Buffer[];
}

function lines(bytes: Buffer, dropFirst: boolean, dropLast: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0) end = bytes.length;
    out.push(bytes.subarray(start, end));
    start = end + 1;
  }
  if (dropFirst) out.shift();
  if (dropLast && bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE) out.pop();
  return out.filter((line) => line.length > 0);
}

/** Reads up to 256 KiB from each end of `file`; throws InputError naming it. */
export function readLogSample(file: string): LogSample {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw notRegular(stat);
    const readAt = (position: number, length: number) => {
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd as number, buffer, 0, length, position));
    };
    const headBytes = readAt(0, Math.min(SAMPLE_BYTES, stat.size));
    const whole = stat.size <= SAMPLE_BYTES;
    // A line cut at a sample's edge is not a line of the log: it is left out.
    const head = lines(headBytes, false, !whole);
    const tail = whole ? [] : lines(readAt(stat.size - Math.min(SAMPLE_BYTES, stat.size - SAMPLE_BYTES), Math.min(SAMPLE_BYTES, stat.size - SAMPLE_BYTES)), true, false);
    return { size: stat.size, head, tail };
  } catch (error) {
    throw new InputError(`cannot read the log ${describeSystemError(error, file)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
