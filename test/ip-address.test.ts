import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalizeIp, isCanonicalIpv6, parseIpv4, parseIpv4Bytes, parseIpv6 } from '../src/address/ip-address.js';
import { hostileAddress, spelledIpv6 } from './support/arbitraries.js';

/** The canonical spelling without the fast path: inet_ntop's (as properties.test.ts checks canonicalizeIp against), or undefined. */
function fullParse(raw: string): string | undefined {
  const groups = parseIpv6(raw);
  if (groups === undefined) return undefined;
  const ntop = new net.SocketAddress({ address: groups.map((g) => g.toString(16)).join(':'), family: 'ipv6' }).address;
  // inet_ntop keeps a dotted quad for the deprecated ::a.b.c.d, which canonicalizeIp parses in full (it holds a dot).
  return /^::[0-9.]+$/.test(ntop) ? canonicalizeIp(ntop) : ntop;
}

describe('isCanonicalIpv6', () => {
  test('says yes only to what the full parse leaves as it is, and to every canonical spelling without a dotted quad', () => {
    const details = fc.check(
      fc.property(fc.oneof(hostileAddress, spelledIpv6, fc.mixedCase(spelledIpv6), fc.ipV6(), fc.ipV6().map((a) => new net.SocketAddress({ address: a, family: 'ipv6' }).address)), (raw) => {
        if (!raw.includes(':') || raw.length > 45) return;
        const canonical = raw.includes('%') ? undefined : fullParse(raw);
        if (isCanonicalIpv6(raw)) assert.equal(canonical, raw);
        else if (canonical === raw) assert.ok(raw.includes('.'), `${raw} is canonical but takes the full parse`);
      }),
      { seed: 0x1b01, numRuns: 30_000 },
    );
    if (details.failed) throw new Error(fc.defaultReportMessage(details));
  });

  for (const [raw, canonical] of [
    ['::', true],
    ['::1', true],
    ['1::', true],
    ['2001:db8::1', true],
    ['1:0:0:2::3:4', false], // the first of two equal runs is the one compressed
    ['1::2:0:0:3:4', true],
    ['1:0:0:2:0:0:0:3', false],
    ['0::1', false],
    ['1:2:3:4:5:6:7::', false], // one zero group is not compressed
    ['1:2:3:4:5:6:7:0', true],
    ['::ffff:102:304', false], // IPv4-mapped: ::ffff:1.2.3.4
    ['::fffe:102:304', true],
    ['2001:DB8::1', false],
    ['2001:db8::01', false],
    [':::', false],
    ['1::2::3', false],
    ['1:2:3:4:5:6:7:8:9', false],
    ['1:2:3:4:5:6:7:', false],
    ['12345::', false],
  ] as const) {
    test(`${raw}: ${canonical ? 'canonical' : 'not canonical'}`, () => assert.equal(isCanonicalIpv6(raw), canonical));
  }
});

describe('parseIpv4Bytes', () => {
  test('reads a client field as parseIpv4 reads the same text, wherever it sits in the buffer', () => {
    const details = fc.check(
      fc.property(fc.oneof(hostileAddress, fc.ipV4(), fc.ipV4Extended()), fc.nat(8), (raw, at) => {
        const bytes = Buffer.from(raw, 'latin1');
        // latin1 keeps one byte per character only below U+0100: beyond it the bytes are not the text.
        if ([...raw].some((c) => c.charCodeAt(0) > 0xff)) return;
        const buf = Buffer.concat([Buffer.alloc(at, '9'), bytes, Buffer.from('9 ')]);
        assert.equal(parseIpv4Bytes(buf, at, at + bytes.length), parseIpv4(raw), raw);
      }),
      { seed: 0x1b02, numRuns: 30_000 },
    );
    if (details.failed) throw new Error(fc.defaultReportMessage(details));
  });

  test('a character whose low byte is a digit is no digit', () => {
    assert.equal(parseIpv4('1.2.3.\u0134'), -1);
    assert.equal(parseIpv4('1.2.3.4'), 0x01020304);
  });
});
