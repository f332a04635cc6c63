/**
 * The bare Node baseline: what reading the window costs without any parsing.
 * Reads 1 MiB chunks with fs.readSync, splits lines with Buffer.indexOf and
 * counts the bytes before the first space of each line (the client field) in
 * a Map<string, number>. Nothing else: no timestamp, no validation.
 */
import fs from 'node:fs';

const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;
const SPACE = 0x20;

export interface BaselineResult {
  lines: number;
  keys: number;
  bytes: number;
}

/** Counts lines per leading field over bytes [from, to) of `file`. */
export function bareCount(file: string, from: number, to: number): BaselineResult {
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const counts = new Map<string, number>();
  let lines = 0;
  let kept = 0; // bytes of a line cut by the previous chunk, moved to the chunk's start
  let position = from;
  try {
    while (position < to) {
      const read = fs.readSync(fd, chunk, kept, Math.min(CHUNK_BYTES - kept, to - position), position);
      if (read === 0) break;
      position += read;
      const end = kept + read;
      let at = 0;
      for (;;) {
        const newline = chunk.indexOf(NEWLINE, at);
        if (newline < 0 || newline >= end) break;
        let space = chunk.indexOf(SPACE, at);
        if (space < 0 || space > newline) space = newline;
        const key = chunk.toString('latin1', at, space);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        lines++;
        at = newline + 1;
      }
      kept = end - at;
      if (kept === CHUNK_BYTES) throw new Error('a line longer than the chunk');
      chunk.copyWithin(0, at, end);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { lines, keys: counts.size, bytes: position - from };
}
