/**
 * Nothing lost, nothing broken: properties over hostile input. Seeds are
 * fixed so that a failure names its counterexample and reproduces.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { ExitError } from '../src/errors.js';
import { canonicalizeIp } from '../src/address/ip-address.js';
import { newLogEntry, newRequestClassifier, parseLine, parseLineTime } from '../src/read/log-line.js';
import { parseListEntry } from '../src/address/address-list.js';
import { parseMap, renderMap } from '../src/write/map-file.js';
import { parsePythonAssignments } from '../src/settings/python-literal.js';
import { type RunReport, runAnalysis } from '../src/run.js';
import { validateSettings } from '../src/settings/settings-schema.js';
import { defaultSettings } from '../src/settings/settings.js';
import { type WindowStats, WindowReader } from '../src/read/window-stats.js';
import {
  MAP_LINE,
  UA_BLOCKLIST,
  WINDOW,
  WINDOW_END,
  deeplyNestedSettingsText,
  doublingSettingsText,
  hostileAddress,
  hostileLine,
  hostileLog,
  isCanonicalAddress,
  type LongLineSpec,
  lineSpec,
  longLine,
  longLineSpec,
  mapText,
  renderLine,
  settingsText,
  spelledIpv6,
} from './support/arbitraries.js';
import { readIfExists } from './support/files.js';

let cases = 0;

function check<Ts>(property: fc.IProperty<Ts>, seed: number, numRuns: number, examples: Ts[] = []): void {
  const details = fc.check(property, { seed, numRuns, examples });
  cases += details.numRuns;
  if (details.failed) throw new Error(fc.defaultReportMessage(details));
}

async function checkAsync<Ts>(property: fc.IAsyncProperty<Ts>, seed: number, numRuns: number): Promise<void> {
  const details = await fc.check(property, { seed, numRuns });
  cases += details.numRuns;
  if (details.failed) throw new Error(fc.defaultReportMessage(details));
}

after(() => console.log(`properties: ${cases} generated cases`));

const classifier = newRequestClassifier(['/search', '/reverse', '/details']);
const LISTED = new Set(['192.0.2.1', '2001:db8::1']);
const TEN_MB = 10 * 1024 * 1024;

function assertCanonicalKey(address: string): void {
  assert.ok(isCanonicalAddress(address) && canonicalizeIp(address) === address, `not canonical: ${JSON.stringify(address)}`);
}

/** A map key: a canonical address, or a canonical network (no host bits, a prefix shorter than the address). */
function assertCanonicalMapKey(key: string): void {
  const slash = key.indexOf('/');
  if (slash < 0) return assertCanonicalKey(key);
  assertCanonicalKey(key.slice(0, slash));
  const parsed = parseListEntry(key);
  assert.ok('entry' in parsed && parsed.entry === key, `not a canonical network: ${JSON.stringify(key)}`);
}

/** Every line is `KEY VALUE` with a canonical address or network, `;`-terminated for nginx only. */
function assertMapText(text: string, format: 'apache' | 'nginx'): void {
  if (text === '') return;
  assert.ok(text.endsWith('\n'), 'the map ends in a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const match = MAP_LINE.exec(line);
    assert.ok(match, `map line ${JSON.stringify(line)}`);
    assertCanonicalMapKey(match[1]);
    assert.equal(match[3], format === 'nginx' ? ';' : '');
  }
}

describe('canonicalizeIp', () => {
  test('accepts exactly what net.isIP accepts, and never a zone id', () => {
    check(
      fc.property(hostileAddress, (raw) => {
        const valid = !raw.includes('%') && net.isIP(raw) !== 0;
        assert.equal(canonicalizeIp(raw) !== undefined, valid, `canonicalizeIp(${JSON.stringify(raw)}) = ${JSON.stringify(canonicalizeIp(raw))}`);
      }),
      0x1a01,
      10_000,
    );
  });

  test('is idempotent, leaves a canonical dotted quad alone, and only ever returns whitelisted text', () => {
    check(
      fc.property(hostileAddress, (raw) => {
        const canonical = canonicalizeIp(raw);
        if (canonical === undefined) return;
        assertCanonicalKey(canonical);
        if (/^[0-9.]+$/.test(raw)) assert.equal(canonical, raw);
      }),
      0x1a02,
      25_000,
    );
  });

  test("spells every IPv6 address as inet_ntop does (libuv's, as Apache's APR), RFC 5952 for IPv4-compatible ones", () => {
    check(
      fc.property(fc.oneof(spelledIpv6, fc.mixedCase(spelledIpv6), fc.ipV6()), (raw) => {
        const ntop = new net.SocketAddress({ address: raw, family: 'ipv6' }).address;
        // inet_ntop keeps a dotted quad for the deprecated ::a.b.c.d; no client has such an address.
        const expected = /^::[0-9.]+$/.test(ntop) ? canonicalizeIp(ntop) : ntop;
        assert.equal(canonicalizeIp(raw), expected);
      }),
      0x1a03,
      10_000,
    );
  });
});

describe('parseLine', () => {
  const EMPTY = Buffer.alloc(0);
  // Bytes that would complete a truncated line if the parser read past its end.
  const COMPLETIONS = [' ', '"', '-', ']', '\\', ' "-" "x"', '" 200 1 "-" "x"', '] "GET /search HTTP/1.1" 200 1 "-" "x"', ' 200 - "-" "-"'].map((s) => Buffer.from(s));
  const surroundings = fc.oneof(fc.constantFrom(...COMPLETIONS), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)));

  /** Both parsers on `line` between `before` and `after`, positions relative to the line. */
  function parseEmbedded(line: Buffer, before: Buffer = EMPTY, after: Buffer = EMPTY) {
    const buf = Buffer.concat([before, line, after]);
    const start = before.length;
    const end = start + line.length;
    const entry = newLogEntry();
    const parsed = parseLine(buf, start, end, classifier, entry);
    const lineTime = parseLineTime(buf, start, end);
    if (!parsed) return { parsed, lineTime };
    const { ipStart, ipEnd, uaStart, uaEnd, time, isApi, status, hasUserAgent } = entry;
    return { parsed, lineTime, time, isApi, status, hasUserAgent, at: [ipStart - start, ipEnd - start, uaStart - start, uaEnd - start] };
  }

  function assertParsesAlike(line: Buffer, before: Buffer, after: Buffer): void {
    const alone = parseEmbedded(line);
    assert.deepEqual(parseEmbedded(line, before, after), alone);
    assert.deepEqual(parseEmbedded(line, after, before), alone);
    if (!alone.parsed) return;
    assert.ok(Number.isFinite(alone.time), `time ${alone.time}`);
    assert.equal(alone.lineTime, alone.time);
    const [ipStart, ipEnd, uaStart, uaEnd] = alone.at;
    assert.ok(ipStart === 0 && ipStart < ipEnd && ipEnd < uaStart && uaStart <= uaEnd && uaEnd < line.length, `ranges ${alone.at}`);
  }

  test('never throws, reads nothing outside [start, end), and every parsed time is finite', () => {
    check(fc.property(hostileLine, surroundings, surroundings, assertParsesAlike), 0x2b01, 35_000);
  });

  // Specs rather than buffers, so that a counterexample prints in a line.
  test('lines of 64 KiB to 10 MB', () => {
    const examples: [LongLineSpec, Buffer][] = [true, false].map((wellFormed) => [{ length: TEN_MB, fill: 0x78, wellFormed }, COMPLETIONS[6]]);
    check(fc.property(longLineSpec, surroundings, (spec, around) => assertParsesAlike(longLine(spec), around, around)), 0x2b02, 6, examples);
  });
});

describe('WindowReader', () => {
  /** Reads `log` pushed in pieces cut at `cuts`, each piece inside a chunk that is scribbled over once pushed. */
  function readWindow(log: Buffer, cuts: number[]): WindowStats {
    const reader = new WindowReader({ window: WINDOW, classifier, uaBlocklist: UA_BLOCKLIST, isListed: (a) => LISTED.has(a), disorderSeconds: 120 });
    let at = 0;
    for (const cut of [...cuts.map((c) => c % (log.length + 1)), log.length].sort((a, b) => a - b)) {
      // Newlines around the piece: reading outside [from, to) would show as extra lines.
      const chunk = Buffer.alloc(cut - at + 2, 0x0a);
      log.copy(chunk, 1, at, cut);
      reader.push(chunk, 1, chunk.length - 1);
      chunk.fill(0x0a);
      at = cut;
    }
    return reader.finish();
  }

  const summary = (stats: WindowStats) => ({ ...stats, clients: [...stats.clients.entries()] });

  function assertSplitInvariant(log: Buffer, cuts: number[]): WindowStats {
    const whole = readWindow(log, []);
    assert.deepEqual(summary(readWindow(log, cuts)), summary(whole));
    let counted = 0;
    for (const [address, c] of whole.clients.entries()) {
      assertCanonicalKey(address);
      assert.ok(c.shortApi <= c.shortTotal && c.shortTotal <= c.longTotal && c.shortApi <= c.longApi && c.longApi <= c.longTotal);
      counted += c.longTotal;
    }
    assert.equal(counted + whole.listedLines, whole.linesInWindow);
    assert.ok(whole.garbageLines <= whole.linesRead && whole.linesInWindow + whole.garbageLines <= whole.linesRead, 'lines are counted once');
    assert.ok(whole.total200 <= whole.linesInWindow);
    return whole;
  }

  const cuts = fc.array(fc.nat(), { maxLength: 8 });

  test('never throws, gives the same statistics whatever the split, and keys clients by canonical address', () => {
    check(fc.property(hostileLog, cuts, (log, at) => void assertSplitInvariant(log, at)), 0x3c01, 8_000);
  });

  test('a well-formed line among hostile ones is never lost', () => {
    const clean = lineSpec(fc.oneof(fc.ipV4(), spelledIpv6)).map((l) => ({ ...l, offset: -(Math.abs(l.offset) % 3600), method: 'GET', path: '/search', status: '200', bytes: '1', ua: 'Mozilla/5.0' }));
    const log = fc.array(fc.tuple(clean, fc.array(hostileLine, { maxLength: 2 })), { maxLength: 15 });
    check(
      fc.property(log, cuts, (pairs, cutsAt) => {
        const bytes = Buffer.concat(pairs.flatMap(([l, junk]) => [Buffer.from(`${renderLine(l)}\n`), ...junk.map((j) => Buffer.concat([j, Buffer.from('\n')]))]));
        const stats = assertSplitInvariant(bytes, cutsAt);
        if (stats.reachedEnd) return; // a hostile line far past the window ends the read, legitimately
        const expected = new Map<string, number>();
        for (const [l] of pairs) {
          const address = canonicalizeIp(l.address)!;
          expected.set(address, (expected.get(address) ?? 0) + 1);
        }
        for (const [address, n] of expected) {
          if (!LISTED.has(address)) assert.ok((stats.clients.get(address)?.longTotal ?? 0) >= n, `${address}: ${n} clean lines`);
        }
      }),
      0x3c02,
      4_000,
    );
  });

  test('lines of 64 KiB to 10 MB count alike whatever the split', () => {
    const around = (line: Buffer) => Buffer.concat([Buffer.from(`${renderLine({ address: '192.0.2.9', offset: -5, zone: 0, method: 'GET', path: '/search', status: '200', bytes: '1', ua: '-' })}\n`), line, Buffer.from('\n192.0.2.8 x\n')]);
    const examples: [LongLineSpec, number[]][] = [
      [{ length: TEN_MB, fill: 0x78, wellFormed: true }, [1 << 20, 5 << 20]],
      [{ length: TEN_MB, fill: 0x20, wellFormed: false }, []],
    ];
    check(fc.property(longLineSpec, cuts, (spec, at) => void assertSplitInvariant(around(longLine(spec)), at)), 0x3c03, 6, examples);
  });
});

describe('map files', () => {
  test('parseMap never throws, keeps only canonical addresses and networks, and reads back what renderMap writes', () => {
    check(
      fc.property(mapText, fc.constantFrom('apache', 'nginx' as const), (text, format) => {
        const { states, exceptions } = parseMap(text);
        for (const [key, state] of states) {
          assertCanonicalMapKey(key);
          assert.ok(['bulk', 'block', 'ban'].includes(state));
        }
        for (const key of exceptions) assertCanonicalMapKey(key);
        const rendered = renderMap(states, format, exceptions);
        assertMapText(rendered, format);
        const again = parseMap(rendered);
        assert.deepEqual(again.warnings, []);
        assert.deepEqual(again.states, states);
        // An exception is written once, and not at all for a key that has a state.
        assert.equal(new Set(again.exceptions).size, again.exceptions.length);
        assert.deepEqual(new Set(again.exceptions), new Set(exceptions.filter((key) => !states.has(key))));
      }),
      0x4d01,
      10_000,
    );
  });
});

describe('settings parser', () => {
  /** Parses and validates `text`; asserts the answer is settings or problems, never an exception. */
  function load(text: string): void {
    const { assignments, problems } = parsePythonAssignments(text, { BASEDIR: '/base' });
    for (const p of problems) assert.ok(Number.isInteger(p.line) && p.line >= 1 && typeof p.message === 'string', JSON.stringify(p));
    const result = validateSettings(assignments, 'ip_blocks.conf', '/base');
    if ('problems' in result) {
      assert.ok(result.problems.length > 0 && result.problems.every((p) => typeof p === 'string'));
      return;
    }
    const s = result.settings;
    for (const address of [...s.WHITELIST, ...s.BLACKLIST]) assertCanonicalKey(address);
    assert.ok(Number.isFinite(s.BLOCKCOOLOFF_SECONDS) && s.BULKCOOLOFF_SECONDS > 0 && s.BULKCOOLOFF_SECONDS <= s.BLOCKCOOLOFF_SECONDS);
  }

  test('never throws on arbitrary text, only returns problems', () => {
    check(fc.property(settingsText, load), 0x5e01, 12_000);
  });

  test('never throws on deep nesting', () => {
    check(fc.property(deeplyNestedSettingsText, load), 0x5e02, 200);
  });

  test('never throws on a string that doubles on every line', () => {
    check(fc.property(doublingSettingsText, load), 0x5e03, 100);
  });
});

describe('whole runs', () => {
  const RUN_ADDRESSES = ['192.0.2.1', '192.0.2.2', '198.51.100.7', '2001:DB8::7', '2001:db8:0:0:0:0:0:7', '::ffff:198.51.100.8', '::FFFF:198.51.100.8'];
  const address = fc.oneof(hostileAddress, fc.constantFrom(...RUN_ADDRESSES));
  const scenario = fc.record({
    clients: fc.array(
      fc.record({ address, requests: fc.integer({ min: 0, max: 30 }), api: fc.boolean(), ua: fc.constantFrom('Mozilla/5.0', '-', 'curl/8.0') }),
      { maxLength: 12 },
    ),
    junk: fc.array(hostileLine, { maxLength: 15 }),
    previous: fc.option(
      fc.oneof(
        mapText,
        fc.array(fc.tuple(address, fc.constantFrom('bulk', 'block', 'ban'))).map((entries) => entries.map(([a, s]) => `${a} ${s};\n`).join('')),
      ),
    ),
    format: fc.constantFrom('apache', 'nginx' as const),
    loadAverage: fc.double({ min: 0, max: 64, noNaN: true }),
  });
  let mapsWithEntries = 0;

  test('never throw anything but an ExitError, and write only canonical ADDRESS STATE lines', async () => {
    await checkAsync(
      fc.asyncProperty(scenario, async ({ clients, junk, previous, format, loadAverage }) => {
        const lines = clients.flatMap((c, ci) =>
          Array.from({ length: c.requests }, (_, i) => {
            const offset = -((i * 397 + ci * 101) % 3590) - 1;
            return { offset, text: renderLine({ address: c.address, offset, zone: 0, method: 'GET', path: c.api ? '/search?q=x' : '/', status: '200', bytes: '1', ua: c.ua }) };
          }),
        );
        const text = lines.sort((a, b) => a.offset - b.offset).map((l) => Buffer.from(`${l.text}\n`));
        junk.forEach((j, i) => text.splice((i * 7) % (text.length + 1), 0, Buffer.concat([j, Buffer.from('\n')])));

        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-properties-'));
        try {
          const logFile = path.join(dir, 'access.log');
          const mapFile = path.join(dir, 'ip_blocks.map');
          fs.writeFileSync(logFile, Buffer.concat(text));
          if (previous !== null) fs.writeFileSync(mapFile, previous);
          const settings = {
            ...defaultSettings(dir),
            MIN_LOG_SIZE: 0,
            // Hostile lines are the point here: a run must decide despite them, not refuse them as a blind one.
            MAX_UNREADABLE_SHARE: 1,
            BULKLONG_LIMIT: 3,
            BULKSHORT_LIMIT: 2,
            BULK_LOWER: 1,
            BULK_LOADFAC: 0,
            BLOCK_UPPER: 12,
            BLOCK_LOWER: 6,
            BLOCK_LOADFAC: 1,
            MAX_BULK_IPS: 2,
            UA_BLOCKLIST,
            WHITELIST: ['192.0.2.1'],
            BLACKLIST: ['192.0.2.2', '2001:db8::bad'],
            BLOCKEDFILE: mapFile,
            LOGFILE: path.join(dir, 'restricted_ip.log'),
          };
          let report: RunReport | undefined;
          try {
            report = await runAnalysis({
              settings,
              logFile,
              now: new Date(WINDOW_END * 1000),
              loadAverage,
              format,
              dryRun: false,
            });
          } catch (error) {
            if (!(error instanceof ExitError)) throw error;
          }
          if (report?.map) assertMapText(report.map.content, format);
          const written = readIfExists(mapFile);
          if (written !== undefined && written !== previous) {
            assertMapText(written, format);
            if (written !== '') mapsWithEntries++;
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      0x6f01,
      50,
    );
    // The limits are low enough that hostile clients cross them: the maps checked were not all empty.
    assert.ok(mapsWithEntries >= 10, `${mapsWithEntries} runs wrote entries`);
  });
});
