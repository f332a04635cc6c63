import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readLastLines } from '../src/read/tail-lines.js';

function withFile(content: string | Buffer, check: (file: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-tail-'));
  try {
    const file = path.join(dir, 'log');
    fs.writeFileSync(file, content);
    check(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('readLastLines', () => {
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ·é€`);
  const text = `${lines.join('\n')}\n`;

  test('every chunk size, including ones that end inside a line and inside a character', () => {
    withFile(text, (file) => {
      for (let chunk = 1; chunk <= 40; chunk++) {
        for (const count of [1, 3, 49, 50, 51]) assert.deepEqual(readLastLines(file, count, chunk), lines.slice(-count), `chunk ${chunk}, count ${count}`);
      }
    });
  });

  test('a last line without a newline counts as a line', () => {
    withFile('a\nb\nc', (file) => assert.deepEqual(readLastLines(file, 2, 1), ['b', 'c']));
  });

  test('an empty file, and zero lines asked', () => {
    withFile('', (file) => assert.deepEqual(readLastLines(file, 5), []));
    withFile(text, (file) => assert.deepEqual(readLastLines(file, 0), []));
  });

  test('reads only the end of a large file', () => {
    withFile(Buffer.concat([Buffer.alloc(8 * 1024 * 1024, 'x'), Buffer.from('\nlast\n')]), (file) => {
      const read = fs.readSync;
      let bytes = 0;
      (fs as { readSync: typeof fs.readSync }).readSync = ((...args: Parameters<typeof fs.readSync>) => {
        const n = read(...args);
        bytes += n;
        return n;
      }) as typeof fs.readSync;
      try {
        assert.deepEqual(readLastLines(file, 1, 4096), ['last']);
      } finally {
        (fs as { readSync: typeof fs.readSync }).readSync = read;
      }
      assert.ok(bytes <= 4096, `read ${bytes} bytes`);
    });
  });
});
