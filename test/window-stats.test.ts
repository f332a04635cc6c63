import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newRequestClassifier } from '../src/read/log-line.js';
import { type AnalysisWindow, type WindowStats, WindowReader } from '../src/read/window-stats.js';
import { formatLogTimestamp } from './support/log-generator.js';

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const window: AnalysisWindow = { start: END - 3600, shortStart: END - 900, end: END };
function line(address: string, epoch: number, { path = '/search?q=x', status = 200, ua = 'Mozilla/5.0' } = {}): string {
  return `${address} - - [${formatLogTimestamp(epoch)}] "GET ${path} HTTP/1.1" ${status} 10 "-" "${ua}"\n`;
}

function read(input: Buffer | string, chunkSizes: number[] = [], listed: string[] = [], uaBlocklist: string[] = [], readWindow = window): WindowStats {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const reader = new WindowReader({
    window: readWindow,
    classifier: newRequestClassifier(['/search', '/reverse', '/details']),
    uaBlocklist,
    isListed: (address) => listed.includes(address),
    disorderSeconds: 120,
  });
  let at = 0;
  for (const size of chunkSizes) {
    // Hand over a copy that is then scribbled over, as the file reader reuses its buffer.
    const chunk = Buffer.from(bytes.subarray(at, at + size));
    reader.push(chunk);
    chunk.fill(0x41);
    at += size;
  }
  if (at < bytes.length) reader.push(Buffer.from(bytes.subarray(at)));
  return reader.finish();
}

describe('WindowReader: window bounds', () => {
  const log =
    line('192.0.2.1', window.start - 1) +
    line('192.0.2.1', window.start) +
    line('192.0.2.1', window.shortStart) +
    line('192.0.2.1', window.shortStart + 1) +
    line('192.0.2.1', window.end) +
    line('192.0.2.1', window.end + 1);
  const stats = read(log).clients.get('192.0.2.1');

  test('the long window includes its start and its end', () => assert.equal(stats?.longTotal, 4));
  test('the short window excludes its start and includes its end', () => assert.equal(stats?.shortTotal, 2));
});

describe('WindowReader: counting', () => {
  test('API requests, totals and total200 per window', () => {
    const log =
      line('192.0.2.1', window.start + 10) +
      line('192.0.2.1', window.start + 20, { path: '/' }) +
      line('192.0.2.1', window.end - 10) +
      line('192.0.2.1', window.end - 9, { status: 500 }) +
      line('192.0.2.2', window.end - 8, { path: '/reverse' });
    const stats = read(log);
    assert.deepEqual(stats.clients.get('192.0.2.1'), { longTotal: 4, longApi: 3, shortTotal: 2, shortApi: 2, badUa: false });
    assert.equal(stats.total200, 2, 'API requests answered 200 in the short window, all clients');
  });

  test('listed clients get no statistics but count towards the database load', () => {
    const stats = read(line('10.0.0.1', window.end - 5) + line('192.0.2.1', window.end - 5), [], ['10.0.0.1']);
    assert.equal(stats.clients.get('10.0.0.1'), undefined);
    assert.equal(stats.listedLines, 1);
    assert.equal(stats.total200, 2);
  });

  test('spellings of one IPv6 address are one client', () => {
    const stats = read(line('2001:DB8::1', window.end - 5) + line('2001:db8:0:0:0:0:0:1', window.end - 4) + line('2001:db8::1', window.end - 3));
    assert.equal(stats.clients.size, 1);
    assert.equal(stats.clients.get('2001:db8::1')?.longTotal, 3);
  });

  test('a missing user agent or a blocklisted prefix marks the client', () => {
    const stats = read(
      line('192.0.2.1', window.end - 5, { ua: '-' }) + line('192.0.2.2', window.end - 5, { ua: 'python-requests/2.31' }) + line('192.0.2.3', window.end - 5, { ua: 'Mozilla/5.0 python-requests/' }),
      [],
      [],
      ['python-requests/'],
    );
    assert.equal(stats.clients.get('192.0.2.1')?.badUa, true);
    assert.equal(stats.clients.get('192.0.2.2')?.badUa, true);
    assert.equal(stats.clients.get('192.0.2.3')?.badUa, false, 'a prefix, not a substring');
  });

  test('a line whose address is not an IP address is garbage, never a client', () => {
    const stats = read(line('999.1.1.1', window.end - 5) + line('1.2.3.4;', window.end - 5) + 'junk\n');
    assert.equal(stats.clients.size, 0);
    assert.equal(stats.garbageLines, 3);
    assert.equal(stats.garbageSamples.length, 3);
  });
});

describe('WindowReader: chunk boundaries', () => {
  const log = Buffer.concat([
    Buffer.from(line('192.0.2.1', window.end - 100)),
    Buffer.from(line('192.0.2.2', window.end - 90, { ua: 'Bot \u00e9\u00e8 \u4e2d\u6587' })),
    Buffer.from(line('2001:db8::7', window.end - 80)),
  ]);
  const expected = read(log);

  test('split four lines on three writes', () => {
    const third = Math.floor(log.length / 3);
    assert.deepEqual([...read(log, [third, third]).clients.entries()], [...expected.clients.entries()]);
  });
  test('every split point, one byte at a time around each, gives the same statistics', () => {
    for (let cut = 1; cut < log.length; cut++) {
      const stats = read(log, [cut]);
      assert.deepEqual([...stats.clients.entries()], [...expected.clients.entries()], `cut at ${cut}`);
      assert.equal(stats.garbageLines, 0, `cut at ${cut}`);
    }
  });
  test('one byte per push', () => {
    assert.deepEqual([...read(log, new Array(log.length).fill(1)).clients.entries()], [...expected.clients.entries()]);
  });
  test('a truncated multi-byte character in a chunk is joined with its rest', () => {
    const at = log.indexOf(Buffer.from('\u4e2d')) + 1;
    assert.deepEqual([...read(log, [at]).clients.entries()], [...expected.clients.entries()]);
  });
});

describe('WindowReader: awkward input', () => {
  test('a last line without newline counts when it parses', () => {
    const stats = read(line('192.0.2.1', window.end - 5).trimEnd());
    assert.equal(stats.clients.get('192.0.2.1')?.longTotal, 1);
  });
  test('a last line cut while the server writes it is ignored silently', () => {
    const stats = read(line('192.0.2.1', window.end - 5) + line('192.0.2.2', window.end - 4).slice(0, 40));
    assert.equal(stats.clients.size, 1);
    assert.equal(stats.garbageLines, 0);
  });
  test('a 10 MB line is one garbage line and the next line still counts', () => {
    const huge = `192.0.2.9 - - [${formatLogTimestamp(window.end - 5)}] "GET /search?q=${'x'.repeat(10 * 1024 * 1024)} HTTP/1.1" 200 1 "-" "a"\n`;
    const stats = read(huge + line('192.0.2.1', window.end - 4), [1 << 20, 1 << 20, 3 << 20]);
    assert.equal(stats.garbageLines, 1);
    assert.equal(stats.clients.get('192.0.2.9'), undefined);
    assert.equal(stats.clients.get('192.0.2.1')?.longTotal, 1);
  });
  test('NUL bytes and random bytes are garbage', () => {
    const stats = read(Buffer.concat([Buffer.from([0, 0, 0, 10, 255, 254, 10]), Buffer.from(line('192.0.2.1', window.end - 5))]));
    assert.equal(stats.garbageLines, 2);
    assert.equal(stats.clients.size, 1);
  });
  test('out-of-order lines are each counted once, by their own time', () => {
    const stats = read(line('192.0.2.1', window.start + 2) + line('192.0.2.1', window.start - 3) + line('192.0.2.1', window.start) + line('192.0.2.1', window.start - 1));
    assert.equal(stats.clients.get('192.0.2.1')?.longTotal, 2);
  });
  test('a replay stops reading well past the window end, but a slightly late line is still seen', () => {
    const log = line('192.0.2.1', window.end + 60) + line('192.0.2.1', window.end - 1) + line('192.0.2.1', window.end + 121) + line('192.0.2.1', window.end - 2);
    const stats = read(log, [], [], [], { ...window, now: window.end + 86400 });
    assert.equal(stats.clients.get('192.0.2.1')?.longTotal, 1);
    assert.equal(stats.reachedEnd, true);
  });

  test('in a live run a line stamped in the future is skipped and counted, and reading goes on', () => {
    const log = line('192.0.2.1', window.end - 5) + line('192.0.2.1', window.end + 3600) + line('192.0.2.1', window.end - 2);
    const stats = read(log);
    assert.equal(stats.clients.get('192.0.2.1')?.longTotal, 2);
    assert.equal(stats.futureLines, 1);
    assert.equal(stats.reachedEnd, false);
    assert.equal(stats.newestLineTime, window.end - 2);
  });
});
