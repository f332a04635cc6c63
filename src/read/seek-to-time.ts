/**
 * Finding where a time window starts in a log of many gigabytes, by bisecting
 * byte offsets with a few small reads.
 *
 * Bisection rather than the original's interpolation: interpolation divides by
 * the time span between two probes, which is zero when a whole region shares
 * one second, and it can degrade to a linear scan on uneven traffic.
 * Bisection costs log2(size / stopSpan) reads whatever the timestamps are.
 */
import { NEWLINE, parseLineTime } from './log-line.js';

/** The time of the line in [start, end) of buf in epoch seconds, or NaN: the log format's own reader. */
export type LineTime = (buf: Buffer, start: number, end: number) => number;

/** Reads up to buffer.length bytes at `position` into buffer; returns the count read (0 at EOF). */
export type ReadAt = (buffer: Buffer, position: number) => number;

export interface SeekResult {
  /** A line start (0, `size`, or just after a `\n`). */
  offset: number;
  reads: number;
  bytesRead: number;
}

export interface SeekOptions {
  /** Bytes read per probe; a probe that holds no complete readable line is treated as "too late". */
  probeBytes?: number;
  /**
   * Bisection stops once the candidate span is this small. The result may be
   * this much, plus the line that straddles the last probe point, too early.
   */
  stopSpan?: number;
  /** Reads a line's time; default: the combined format's. */
  lineTime?: LineTime;
}

const DEFAULT_PROBE_BYTES = 8 * 1024;
const DEFAULT_STOP_SPAN = 64 * 1024;

/**
 * Returns a line start `offset` such that, if timestamps never decrease, every
 * line starting before `offset` is older than `target` (epoch seconds). The
 * result errs early, never late: lines without a readable timestamp, long
 * lines and the last `stopSpan` bytes of the search all resolve towards the
 * start. Only bytes below `size` are read, so a file being appended to is
 * searched as it was at stat time. Costs about log2(size / stopSpan) reads.
 */
export function seekToTime(readAt: ReadAt, size: number, target: number, options: SeekOptions = {}): SeekResult {
  const probeBytes = options.probeBytes ?? DEFAULT_PROBE_BYTES;
  const stopSpan = options.stopSpan ?? DEFAULT_STOP_SPAN;
  const lineTime = options.lineTime ?? parseLineTime;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`seekToTime: size must be a byte count, got ${size}`);
  // Two bytes at least: the byte before the probe point plus one byte of line.
  if (!Number.isSafeInteger(probeBytes) || probeBytes < 2) throw new RangeError(`seekToTime: probeBytes must be an integer >= 2, got ${probeBytes}`);
  // A zero span would let `mid` equal `lo` and the loop stall.
  if (!Number.isSafeInteger(stopSpan) || stopSpan < 1) throw new RangeError(`seekToTime: stopSpan must be an integer >= 1, got ${stopSpan}`);

  const buffer = Buffer.allocUnsafe(probeBytes);
  const counters = { reads: 0, bytesRead: 0 };
  // Invariant: `lo` is a line start and every line before it is older than target.
  // `hi` only narrows the search; nothing at or after it has been shown to be older.
  let lo = 0;
  let hi = size;
  while (hi - lo > stopSpan) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const probe = probeAt(readAt, buffer, mid, size, target, counters, lineTime);
    if (probe.lastOlderEnd < 0) {
      // Too late, or nothing readable here: a garbage region or a line longer
      // than the probe. Searching earlier is the safe direction.
      hi = mid;
    } else {
      // The probe starts at mid - 1 >= lo, so an older line it saw ends past lo.
      lo = probe.lastOlderEnd;
      // The probe saw the boundary itself: older lines followed by a newer one.
      if (probe.sawNewer) hi = lo;
    }
  }
  // Every value `lo` takes is a line start, so no realignment is needed.
  return { offset: lo, reads: counters.reads, bytesRead: counters.bytesRead };
}

interface Probe {
  /**
   * Just after the last line of the probe known to be older than target, or
   * the start of that line when its end was not seen; -1 when the first
   * readable line was not older (or there was none).
   */
  lastOlderEnd: number;
  /** A readable line at least as new as target followed the older ones. */
  sawNewer: boolean;
}

/**
 * Reads the lines that start in [mid, mid + probeBytes - 1) and walks them in
 * order until one is at least as new as target.
 */
function probeAt(
  readAt: ReadAt,
  buffer: Buffer,
  mid: number,
  size: number,
  target: number,
  counters: { reads: number; bytesRead: number },
  lineTime: LineTime,
): Probe {
  // Starting one byte early tells whether `mid` itself is a line start (mid > lo >= 0: never the file's start).
  const from = mid - 1;
  const length = readFully(readAt, buffer.subarray(0, Math.min(buffer.length, size - from)), from, counters);
  // Bytes past `length` are left over from an earlier probe.
  const data = buffer.subarray(0, length);
  let lineStart = data.indexOf(NEWLINE) + 1;
  const result: Probe = { lastOlderEnd: -1, sawNewer: false };
  if (lineStart === 0) return result;
  while (lineStart < length) {
    const newline = data.indexOf(NEWLINE, lineStart);
    // A line cut by the end of the probe still shows its timestamp, which sits near its start.
    const lineEnd = newline < 0 ? length : newline;
    const time = lineTime(data, lineStart, lineEnd);
    if (time < target) {
      result.lastOlderEnd = from + (newline < 0 ? lineStart : newline + 1);
    } else if (time >= target) { // NaN is neither: an unreadable line proves nothing and is stepped over
      result.sawNewer = result.lastOlderEnd >= 0;
      return result;
    }
    if (newline < 0) break;
    lineStart = newline + 1;
  }
  return result;
}

/** Fills `view` from `position`, looping over short reads; returns the bytes read (fewer only at end of file). */
function readFully(readAt: ReadAt, view: Buffer, position: number, counters: { reads: number; bytesRead: number }): number {
  let filled = 0;
  while (filled < view.length) {
    const count = readAt(filled === 0 ? view : view.subarray(filled), position + filled);
    counters.reads++;
    if (count <= 0) break;
    counters.bytesRead += count;
    filled += count;
  }
  return filled;
}
