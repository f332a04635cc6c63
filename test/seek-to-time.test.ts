import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLineTime } from '../src/read/log-line.js';
import { seekToTime, type ReadAt } from '../src/read/seek-to-time.js';
import { formatLogTimestamp, mulberry32, randomInt } from './support/log-generator.js';

const T0 = Date.UTC(2026, 10, 20, 11, 0, 0) / 1000; // 20/Nov/2026:11:00:00 +0000

function logLine(epoch: number, path = '/search?q=x', ip = '203.0.113.9'): string {
  return `${ip} - - [${formatLogTimestamp(epoch)}] "GET ${path} HTTP/1.1" 200 512 "-" "Mozilla/5.0"`;
}

function joinLines(lines: readonly string[], { crlf = false, trailingNewline = true } = {}): Buffer {
  const eol = crlf ? '\r\n' : '\n';
  return Buffer.from(lines.join(eol) + (trailingNewline && lines.length > 0 ? eol : ''), 'latin1');
}

/** A ReadAt over a buffer that remembers the furthest byte any read asked for. */
function memoryReader(file: Buffer): { readAt: ReadAt; furthestByteAsked: () => number } {
  let furthest = 0;
  const readAt: ReadAt = (buffer, position) => {
    furthest = Math.max(furthest, position + buffer.length);
    return file.copy(buffer, 0, Math.min(position, file.length), Math.min(position + buffer.length, file.length));
  };
  return { readAt, furthestByteAsked: () => furthest };
}

function seekInMemory(file: Buffer, target: number, options?: { probeBytes?: number; stopSpan?: number }) {
  return seekToTime(memoryReader(file).readAt, file.length, target, options);
}

interface Line {
  start: number;
  /** Exclusive, without the `\n`. */
  end: number;
  time: number;
}

function splitLines(file: Buffer, size = file.length): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < size) {
    const newline = file.indexOf(0x0a, start);
    const end = newline < 0 || newline >= size ? size : newline;
    lines.push({ start, end, time: parseLineTime(file, start, end) });
    start = end + 1;
  }
  return lines;
}

/** The contract, by brute force: `offset` starts a line and every timestamped line before it is older than target. */
function assertContract(file: Buffer, offset: number, target: number, size = file.length): void {
  assert.ok(offset >= 0 && offset <= size, `offset ${offset} outside [0, ${size}]`);
  assert.ok(offset === 0 || file[offset - 1] === 0x0a, `offset ${offset} is not a line start`);
  for (const line of splitLines(file, size)) {
    if (line.start >= offset) break;
    if (!Number.isNaN(line.time)) {
      assert.ok(line.time < target, `line at ${line.start} (time ${line.time}) is before offset ${offset} but not older than ${target}`);
    }
  }
}

/** Start of the first line at least as new as target, or `size` when there is none. */
function firstNewerLine(file: Buffer, target: number): number {
  const line = splitLines(file).find((l) => !Number.isNaN(l.time) && l.time >= target);
  return line ? line.start : file.length;
}

function maxReadsFor(size: number, stopSpan: number): number {
  return Math.max(0, Math.ceil(Math.log2(size / stopSpan)));
}

function steadyLog(count: number, secondsPerLine: (i: number) => number): string[] {
  const lines: string[] = [];
  let time = T0;
  for (let i = 0; i < count; i++) {
    lines.push(logLine(time, `/search?q=${i}`));
    time += secondsPerLine(i);
  }
  return lines;
}

const SMALL = { probeBytes: 512, stopSpan: 128 };

test('an empty file seeks to 0 without reading', () => {
  assert.deepEqual(seekInMemory(Buffer.alloc(0), T0), { offset: 0, reads: 0, bytesRead: 0 });
});

test('a single line: before it, at it, after it', () => {
  for (const trailingNewline of [true, false]) {
    const file = joinLines([logLine(T0)], { trailingNewline });
    for (const target of [T0 - 1, T0, T0 + 1]) {
      const result = seekInMemory(file, target, { probeBytes: 64, stopSpan: 1 });
      assertContract(file, result.offset, target);
    }
    assert.equal(seekInMemory(file, T0, { probeBytes: 64, stopSpan: 1 }).offset, 0);
  }
  // Every probe point falls inside the only line, so no probe sees a line start: the search stays at 0.
  const after = seekInMemory(joinLines([logLine(T0)]), T0 + 1, { probeBytes: 256, stopSpan: 1 });
  assert.equal(after.offset, 0);
  assert.ok(after.reads <= maxReadsFor(logLine(T0).length + 1, 1));
});

test('all lines in the same second', () => {
  const file = joinLines(steadyLog(2000, () => 0));
  assert.equal(seekInMemory(file, T0 - 1, SMALL).offset, 0);
  assert.equal(seekInMemory(file, T0, SMALL).offset, 0);
  const after = seekInMemory(file, T0 + 1, SMALL);
  assertContract(file, after.offset, T0 + 1);
  assert.ok(file.length - after.offset <= slack(file, SMALL.stopSpan), `stopped ${file.length - after.offset} bytes before the end`);
  assert.ok(after.reads <= maxReadsFor(file.length, SMALL.stopSpan));
});

test('a target before the first line seeks to 0; after the last line, to near the end', () => {
  const file = joinLines(steadyLog(3000, (i) => i % 3));
  const before = seekInMemory(file, T0 - 3600, SMALL);
  assert.equal(before.offset, 0);
  const lastTime = splitLines(file).at(-1)!.time;
  const after = seekInMemory(file, lastTime + 3600, SMALL);
  assertContract(file, after.offset, lastTime + 3600);
  assert.ok(file.length - after.offset <= slack(file, SMALL.stopSpan));
  assert.ok(before.reads <= maxReadsFor(file.length, SMALL.stopSpan));
  assert.ok(after.reads <= maxReadsFor(file.length, SMALL.stopSpan));
});

/** The most the search may stop short: the last span, plus the line that straddles its end. */
function slack(file: Buffer, stopSpan: number): number {
  return stopSpan + Math.max(...splitLines(file).map((l) => l.end - l.start + 1));
}

test('the offset is the window start to within stopSpan and one line, in sorted files', () => {
  const file = joinLines(steadyLog(5000, (i) => (i % 7 === 0 ? 1 : 0)));
  const lastTime = splitLines(file).at(-1)!.time;
  let exact = 0;
  let targets = 0;
  for (let target = T0 - 1; target <= lastTime + 1; target += 37) {
    const result = seekInMemory(file, target, SMALL);
    assertContract(file, result.offset, target);
    const boundary = firstNewerLine(file, target);
    assert.ok(boundary - result.offset <= slack(file, SMALL.stopSpan), `offset ${result.offset} is ${boundary - result.offset} bytes before ${boundary}`);
    if (boundary === result.offset) exact++;
    targets++;
  }
  // A probe that sees older lines followed by a newer one has found the window start itself.
  assert.ok(exact > targets / 2, `${exact} of ${targets} exact`);
});

test('a file of only garbage seeks to 0', () => {
  const garbage = joinLines(Array.from({ length: 500 }, (_, i) => `not a log line ${i} [ ] "" ${'x'.repeat(i % 50)}`));
  const result = seekInMemory(garbage, T0, SMALL);
  assert.equal(result.offset, 0);
  assert.ok(result.reads <= maxReadsFor(garbage.length, SMALL.stopSpan));
  const oneHugeLine = Buffer.alloc(100_000, 'x');
  assert.equal(seekInMemory(oneHugeLine, T0, SMALL).offset, 0);
});

test('a garbage region in the middle never moves the offset past the window start', () => {
  const before = steadyLog(1500, () => 1);
  const after = steadyLog(1500, () => 1).map((_, i) => logLine(T0 + 1500 + i, `/after?q=${i}`));
  const binary = Buffer.alloc(40_000);
  const random = mulberry32(7);
  for (let i = 0; i < binary.length; i++) binary[i] = randomInt(random, 0x0b, 0xff);
  const file = Buffer.concat([joinLines(before), binary, Buffer.from('\n'), joinLines(after)]);
  for (const target of [T0 + 10, T0 + 1000, T0 + 1499, T0 + 1500, T0 + 1501, T0 + 2500, T0 + 4000]) {
    const result = seekInMemory(file, target, SMALL);
    assertContract(file, result.offset, target);
    assert.ok(result.offset <= firstNewerLine(file, target));
    assert.ok(result.reads <= maxReadsFor(file.length, SMALL.stopSpan));
  }
  // Far from the garbage the search is as tight as anywhere else.
  const early = seekInMemory(file, T0 + 700, SMALL);
  assert.ok(firstNewerLine(file, T0 + 700) - early.offset <= slack(joinLines(before), SMALL.stopSpan));
});

test('a line longer than the probe at the window start', () => {
  const lines = steadyLog(2000, () => 1);
  lines[1000] = logLine(T0 + 1000, `/long?q=${'y'.repeat(3000)}`);
  const file = joinLines(lines);
  for (const target of [T0 + 999, T0 + 1000, T0 + 1001, T0 + 1002]) {
    const result = seekInMemory(file, target, SMALL);
    assertContract(file, result.offset, target);
  }
});

test('CRLF line ends', () => {
  const file = joinLines(steadyLog(3000, () => 1), { crlf: true });
  for (const target of [T0, T0 + 1, T0 + 1234, T0 + 2999, T0 + 3000]) {
    const result = seekInMemory(file, target, SMALL);
    assertContract(file, result.offset, target);
    assert.ok(firstNewerLine(file, target) - result.offset <= slack(file, SMALL.stopSpan));
  }
});

test('no trailing newline: the unfinished last line is never skipped', () => {
  const file = joinLines(steadyLog(3000, () => 1), { trailingNewline: false });
  const lastStart = file.lastIndexOf(0x0a) + 1;
  const result = seekInMemory(file, T0 + 99_999, { probeBytes: 512, stopSpan: 1 });
  assert.equal(result.offset, lastStart);
});

test('a file being appended to is searched as it was at stat time', () => {
  const whole = joinLines(steadyLog(4000, () => 1));
  const lines = splitLines(whole);
  // stat saw the file in the middle of writing line 3000, cut inside its timestamp.
  const size = lines[3000].start + 25;
  const { readAt, furthestByteAsked } = memoryReader(whole);
  for (const target of [T0 + 1500, T0 + 2999, T0 + 3000, T0 + 3500, T0 + 99_999]) {
    const result = seekToTime(readAt, size, target, SMALL);
    assertContract(whole, result.offset, target, size);
    assert.ok(result.offset <= lines[3000].start, 'never past the line that was still being written');
  }
  assert.equal(seekToTime(readAt, size, T0 + 99_999, { probeBytes: 512, stopSpan: 1 }).offset, lines[3000].start);
  assert.ok(furthestByteAsked() <= size, `read up to ${furthestByteAsked()}, size ${size}`);
});

test('out-of-order lines: target = window start - tolerance keeps every line of the window', () => {
  const tolerance = 30;
  for (let seed = 1; seed <= 20; seed++) {
    const random = mulberry32(seed);
    // Servers log the request's start time when it finishes, so a line may be up to `tolerance` older than the one before.
    const lines: string[] = [];
    let clock = T0;
    for (let i = 0; i < 4000; i++) {
      clock += randomInt(random, 0, 2);
      lines.push(logLine(clock - randomInt(random, 0, tolerance), `/q?i=${i}`));
    }
    const file = joinLines(lines);
    const windowStart = randomInt(random, T0, clock);
    const result = seekInMemory(file, windowStart - tolerance, { probeBytes: 1024, stopSpan: 256 });
    for (const line of splitLines(file)) {
      if (line.start >= result.offset) break;
      assert.ok(line.time < windowStart, `seed ${seed}: line at ${line.start} belongs to the window but is before ${result.offset}`);
    }
  }
});

test('random small files satisfy the contract (property, brute force)', () => {
  const random = mulberry32(20261120);
  let checks = 0;
  for (let fileIndex = 0; fileIndex < 400; fileIndex++) {
    const parts: Buffer[] = [];
    const times: number[] = [];
    let time = T0 + randomInt(random, 0, 100);
    const lineCount = randomInt(random, 0, 60);
    const eol = Buffer.from(random() < 0.2 ? '\r\n' : '\n');
    for (let i = 0; i < lineCount; i++) {
      const kind = random();
      if (kind < 0.08) {
        parts.push(Buffer.alloc(randomInt(random, 0, 700), 'x')); // often longer than the probe
      } else if (kind < 0.14) {
        const noise = Buffer.alloc(randomInt(random, 0, 200));
        for (let b = 0; b < noise.length; b++) noise[b] = randomInt(random, 0x0b, 0xff);
        parts.push(noise);
      } else if (kind < 0.18) {
        const line = logLine(T0 + randomInt(random, 0, 1000));
        parts.push(Buffer.from(line.slice(0, randomInt(random, 0, line.indexOf(']'))))); // cut before its timestamp closes
      } else {
        if (random() < 0.5) time += randomInt(random, 1, 3); // otherwise the same second as before
        times.push(time);
        parts.push(Buffer.from(logLine(time, `/p?${'z'.repeat(randomInt(random, 0, 150))}`)));
      }
      if (i < lineCount - 1 || random() < 0.7) parts.push(eol);
    }
    const file = Buffer.concat(parts);
    const options = { probeBytes: randomInt(random, 2, 400), stopSpan: randomInt(random, 1, 200) };
    const first = times[0] ?? T0;
    const last = times.at(-1) ?? T0;
    const targets = [first - 1, first, last, last + 1, randomInt(random, first - 2, last + 2), randomInt(random, first, last)];
    for (const target of targets) {
      const { readAt, furthestByteAsked } = memoryReader(file);
      const result = seekToTime(readAt, file.length, target, options);
      const context = `file ${fileIndex}, target ${target}, options ${JSON.stringify(options)}`;
      assertContract(file, result.offset, target);
      assert.ok(result.reads <= maxReadsFor(file.length, options.stopSpan), `${context}: ${result.reads} reads`);
      assert.ok(furthestByteAsked() <= file.length, context);
      checks++;
    }
  }
  assert.equal(checks, 2400);
});

/**
 * A file of `size` bytes that exists only as a function: line i sits at
 * offset i * lineLength and is stamped T0 + floor(i / linesPerSecond).
 */
function virtualLog(approximateSize: number, linesPerSecond: number) {
  const lineAt = (i: number) => `${logLine(T0 + Math.floor(i / linesPerSecond), `/search?q=${String(i).padStart(12, '0')}`)}\n`;
  const lineLength = lineAt(0).length;
  const lineCount = Math.floor(approximateSize / lineLength);
  const size = lineCount * lineLength;
  const readAt: ReadAt = (buffer, position) => {
    const end = Math.min(size, position + buffer.length);
    for (let at = position; at < end; ) {
      const index = Math.floor(at / lineLength);
      const within = at - index * lineLength;
      at += Buffer.from(lineAt(index), 'latin1').copy(buffer, at - position, within, Math.min(lineLength, within + end - at));
    }
    return Math.max(0, end - position);
  };
  const firstLineAtOrAfter = (target: number) => Math.min(lineCount, Math.max(0, Math.ceil((target - T0) * linesPerSecond))) * lineLength;
  const lastTime = T0 + Math.floor((lineCount - 1) / linesPerSecond);
  return { size, lineLength, readAt, firstLineAtOrAfter, lastTime };
}

test('reads stay logarithmic on a large file', (t) => {
  const stopSpan = 64 * 1024;
  const gigabyte = 1e9;
  const readsBySize = new Map<number, number>();
  for (const approximateSize of [10 * gigabyte, 100 * gigabyte]) {
    const log = virtualLog(approximateSize, 40);
    let worst = 0;
    const span = log.lastTime - T0;
    for (const target of [T0 - 60, T0, T0 + 1, T0 + span * 0.25, T0 + span * 0.73, T0 + span - 1, log.lastTime, log.lastTime + 60]) {
      const wholeTarget = Math.floor(target);
      const result = seekToTime(log.readAt, log.size, wholeTarget);
      const boundary = log.firstLineAtOrAfter(wholeTarget);
      assert.equal(result.offset % log.lineLength, 0, 'a line start');
      assert.ok(result.offset <= boundary, `offset ${result.offset} past the window start ${boundary}`);
      assert.ok(boundary - result.offset <= stopSpan + log.lineLength, `offset ${boundary - result.offset} bytes early`);
      assert.ok(result.reads <= maxReadsFor(log.size, stopSpan) + 4, `${result.reads} reads`);
      assert.ok(result.bytesRead <= result.reads * 8 * 1024);
      worst = Math.max(worst, result.reads);
    }
    readsBySize.set(approximateSize, worst);
    t.diagnostic(`${approximateSize / gigabyte} GB: at most ${worst} reads (log2(size/stopSpan) = ${Math.log2(log.size / stopSpan).toFixed(1)})`);
  }
  assert.ok(readsBySize.get(100 * gigabyte)! <= readsBySize.get(10 * gigabyte)! + 4);
});

test('works over a real file with fs.readSync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seek-to-time-'));
  try {
    const file = joinLines(steadyLog(20_000, () => 1));
    const path = join(dir, 'access.log');
    writeFileSync(path, file);
    const fd = openSync(path, 'r');
    try {
      const result = seekToTime((buffer, position) => readSync(fd, buffer, 0, buffer.length, position), file.length, T0 + 12_345, {
        stopSpan: 4096,
      });
      assertContract(file, result.offset, T0 + 12_345);
      assert.ok(firstNewerLine(file, T0 + 12_345) - result.offset <= slack(file, 4096));
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rejects options that could not terminate', () => {
  const { readAt } = memoryReader(Buffer.alloc(10));
  assert.throws(() => seekToTime(readAt, 10, T0, { stopSpan: 0 }), RangeError);
  assert.throws(() => seekToTime(readAt, 10, T0, { probeBytes: 1 }), RangeError);
  assert.throws(() => seekToTime(readAt, -1, T0), RangeError);
  assert.throws(() => seekToTime(readAt, 1.5, T0), RangeError);
});
