/** The last lines of a file that may be large (a change log grows for years), read backwards from its end. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { NEWLINE } from './log-line.js';

const CHUNK_BYTES = 64 * 1024;

/**
 * Returns the file's last `count` lines, without their newlines, reading
 * chunks from the end until it has seen enough newlines: the cost grows with
 * the lines asked for, not with the file. Throws the fs error (ENOENT, ...).
 */
export function readLastLines(file: string, count: number, chunkBytes = CHUNK_BYTES): string[] {
  if (count <= 0) return [];
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    // Lines after the count-th newline from the end (the file's final one aside) are the ones wanted.
    while (position > 0 && newlines < count) {
      const length = Math.min(chunkBytes, position);
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      readSync(fd, chunk, 0, length, position);
      const searchEnd = position + length === size && chunk[length - 1] === NEWLINE ? length - 1 : length;
      for (let at = chunk.indexOf(NEWLINE); at >= 0 && at < searchEnd; at = chunk.indexOf(NEWLINE, at + 1)) newlines++;
      chunks.unshift(chunk);
    }
    // Splitting at newline bytes never cuts a UTF-8 character; only the discarded first piece may start mid-character.
    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}
