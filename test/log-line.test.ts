import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { canonicalizeIp } from '../src/address/ip-address.js';
import { buildAddressList } from '../src/address/address-list.js';
import { ClientResolver } from '../src/read/client-address.js';
import { type ClientField, compileLogFormat, parseClientField } from '../src/read/log-format.js';
import { completeUserAgent, newLogEntry, newRequestClassifier, parseLine, parseLineTime } from '../src/read/log-line.js';
import { classifyRequest } from '../src/read/request-path.js';
import { FIXTURES } from './support/paths.js';

interface Expectation {
  name: string;
  garbage?: boolean;
  address?: string | null;
  time?: string;
  isApi?: boolean;
  status?: number;
  hasUserAgent?: boolean;
}

interface LineFile {
  /** `# format: "..."`: the LOG_FORMAT (combined when absent). */
  format?: string;
  /** `# client: "..."`: CLIENT_ADDRESS. */
  client?: string;
  /** `# trusted: [...]`: TRUSTED_PROXIES. */
  trusted?: string[];
  cases: { expect: Expectation; line: Buffer }[];
}

/** Pairs each `# expect: {...}` with the raw bytes of the line below it, and reads the file's `# format:` and friends. */
function readExpectations(file: string): LineFile {
  const bytes = fs.readFileSync(file);
  const result: LineFile = { cases: [] };
  let pending: Expectation | undefined;
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.subarray(start, end);
    const text = line.toString('latin1');
    if (pending) {
      result.cases.push({ expect: pending, line });
      pending = undefined;
    } else if (text.startsWith('# expect: ')) {
      pending = JSON.parse(text.slice('# expect: '.length)) as Expectation;
    } else {
      for (const key of ['format', 'client', 'trusted'] as const) {
        if (text.startsWith(`# ${key}: `)) (result as unknown as Record<string, unknown>)[key] = JSON.parse(line.toString('utf8').slice(key.length + 4));
      }
    }
    start = end + 1;
  }
  return result;
}

const classifier = newRequestClassifier(['/search', '/reverse', '/details']);
/** What follows each line in the buffer it is read from: the scanner must not read past the line. */
const NEXT_LINE = '\n9.9.9.9 - - [01/Jan/2030:00:00:00 +0000] "GET /search HTTP/1.1" 200 1 "-" "a"\n';

describe('parseLine over fixtures/lines/combined.log', () => {
  const { cases } = readExpectations(path.join(FIXTURES, 'lines/combined.log'));
  test('the fixture has its cases', () => assert.ok(cases.length >= 25));
  for (const { expect, line } of cases) {
    test(expect.name, () => {
      // Parse the line inside a larger buffer, as the reader does, so no field may run past the line.
      const buf = Buffer.concat([Buffer.from('XX'), line, Buffer.from(NEXT_LINE)]);
      const entry = newLogEntry();
      const parsed = parseLine(buf, 2, 2 + line.length, classifier, entry);
      if (expect.garbage) {
        assert.equal(parsed, false);
        return;
      }
      assert.equal(parsed, true);
      const raw = buf.toString('latin1', entry.ipStart, entry.ipEnd);
      assert.equal(canonicalizeIp(raw) ?? null, expect.address);
      assert.equal(new Date(entry.time * 1000).toISOString().replace('.000', ''), expect.time);
      assert.equal(parseLineTime(buf, 2, 2 + line.length), entry.time);
      assert.equal(entry.isApi, expect.isApi);
      assert.equal(entry.status, expect.status);
      assert.equal(entry.hasUserAgent, expect.hasUserAgent);
    });
  }
});

const formatFiles = fs.readdirSync(path.join(FIXTURES, 'lines')).filter((name) => name.endsWith('.log') && name !== 'combined.log');

for (const name of formatFiles) {
  const file = readExpectations(path.join(FIXTURES, 'lines', name));
  describe(`the ${file.format} format over fixtures/lines/${name}`, () => {
    test('the fixture names its format and has cases', () => {
      assert.ok(file.format !== undefined);
      assert.ok(file.cases.length >= 3);
    });
    const client = file.client === undefined ? undefined : parseClientField(file.client);
    assert.notEqual(typeof client, 'string');
    const format = compileLogFormat(file.format!, client as ClientField | undefined);
    const resolver = format.forwarded ? new ClientResolver(file.trusted ? buildAddressList(file.trusted) : undefined) : undefined;
    for (const { expect, line } of file.cases) {
      test(expect.name, () => {
        const buf = Buffer.concat([Buffer.from('XX'), line, Buffer.from(NEXT_LINE)]);
        const end = 2 + line.length;
        const entry = newLogEntry();
        const read = format.scan(buf, 2, end, entry) && (resolver === undefined || resolver.resolve(buf, entry));
        if (expect.garbage) {
          assert.equal(read, false);
          return;
        }
        assert.equal(read, true, 'the line reads');
        completeUserAgent(buf, entry, end);
        assert.equal(canonicalizeIp(buf.toString('latin1', entry.ipStart, entry.ipEnd)) ?? null, expect.address);
        assert.equal(new Date(entry.time * 1000).toISOString().replace('.000', ''), expect.time);
        assert.equal(format.lineTime(buf, 2, end), entry.time, 'the seek reads the same time');
        assert.equal(classifyRequest(buf, entry, classifier), expect.isApi);
        assert.equal(entry.status, expect.status);
        assert.equal(entry.hasUserAgent, expect.hasUserAgent);
      });
    }
  });
}

describe('canonicalizeIp', () => {
  const cases: [string, string | undefined][] = [
    ['192.0.2.1', '192.0.2.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.1.1.1', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['01.2.3.4', undefined],
    ['1..2.3', undefined],
    ['1.2.3.', undefined],
    ['.1.2.3', undefined],
    ['1.2.3.00', undefined],
    ['1.2.3.1000', undefined],
    ['::ffff:255.255.255.255', '::ffff:255.255.255.255'], // the top bit set: no sign from a 32-bit shift
    ['64:ff9b::255.0.0.1', '64:ff9b::ff00:1'],
    ['1.2.3.4 ', undefined],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['fe80::1%eth0', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1::2::3', undefined],
    ['12345::1', undefined],
    ['::g', undefined],
    ['::\u0011', undefined], // a control character must not fold into a hex digit
    ['::FfFf:1.2.3.4', '::ffff:1.2.3.4'],
    ['1.2.3.4 block;', undefined],
    ['', undefined],
  ];
  for (const [raw, canonical] of cases) {
    test(`${JSON.stringify(raw)} -> ${canonical ?? 'not an address'}`, () => assert.equal(canonicalizeIp(raw), canonical));
  }
});
