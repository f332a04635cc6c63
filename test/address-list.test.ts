import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildAddressList, isNonGlobal, isNonGlobalIpv4, networkAddress, parseListEntry } from '../src/address/address-list.js';
import { parseIpv4 } from '../src/address/ip-address.js';

const dotted = (value: number) => `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
const ipv4Value = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 0xffffffff, 0xfffffffe, 0x0a000000, 0x09ffffff)).map((v) => v >>> 0);

/** A canonical list entry: an address or a network of either family, IPv6 networks often around the IPv4-mapped ::ffff:0:0/96. */
const entry: fc.Arbitrary<string> = fc
  .oneof(
    ipv4Value.map(dotted),
    fc.tuple(ipv4Value, fc.integer({ min: 0, max: 32 })).map(([v, prefix]) => `${networkAddress(dotted(v), prefix, 'ipv4')}/${prefix}`),
    fc.tuple(ipv4Value, fc.integer({ min: 80, max: 128 })).map(([v, prefix]) => `${networkAddress(`::ffff:${dotted(v)}`, prefix, 'ipv6')}/${prefix}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, prefix]) => `${networkAddress(parseListEntryOrThrow(a), prefix, 'ipv6')}/${prefix}`),
    ipv4Value.map((v) => `::ffff:${dotted(v)}`),
    fc.constantFrom('::/0', '::/1', '::ffff:0:0/96', '::fffe:0:0/95', '::fffe:0:0/96', '::ffff:0:0/97', '2001:db8::/32', '0.0.0.0/0'),
  )
  .map(parseListEntryOrThrow);

function parseListEntryOrThrow(text: string): string {
  const parsed = parseListEntry(text);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return parsed.entry;
}

describe('AddressList.hasIpv4', () => {
  test('says of an IPv4 address, as a number, what has() says of it written out, whatever the list holds', () => {
    const details = fc.check(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.array(ipv4Value, { maxLength: 20 }), (entries, probes) => {
        const list = buildAddressList(entries);
        // The edges of every entry's range, and past them.
        const edges = entries.filter((e) => !e.includes(':')).flatMap((e) => {
          const [network, prefix = '32'] = e.split('/');
          const start = parseIpv4(network);
          const end = start + 2 ** (32 - Number(prefix)) - 1;
          return [start - 1, start, end, end + 1].filter((v) => v >= 0 && v <= 0xffffffff);
        });
        for (const value of [...probes, ...edges]) assert.equal(list.hasIpv4(value), list.has(dotted(value)), `${dotted(value)} in ${entries.join(' ')}`);
      }),
      { seed: 0x1b03, numRuns: 3_000 },
    );
    if (details.failed) throw new Error(fc.defaultReportMessage(details));
  });

  test('an IPv6 network holds the IPv4 addresses mapped into it; a single mapped address is not the IPv4 address', () => {
    const list = buildAddressList(['::ffff:192.0.2.0/120', '::ffff:198.51.100.7']);
    assert.equal(list.hasIpv4(parseIpv4('192.0.2.200')), true);
    assert.equal(list.hasIpv4(parseIpv4('192.0.3.1')), false);
    assert.equal(list.hasIpv4(parseIpv4('198.51.100.7')), list.has('198.51.100.7'));
    assert.equal(buildAddressList(['::/0']).hasIpv4(parseIpv4('203.0.113.9')), true);
    assert.equal(buildAddressList([]).hasIpv4(0), false);
  });

  test('isNonGlobalIpv4 says what isNonGlobal says', () => {
    fc.assert(
      fc.property(ipv4Value, (value) => assert.equal(isNonGlobalIpv4(value), isNonGlobal(dotted(value)), dotted(value))),
      { seed: 0x1b04, numRuns: 20_000 },
    );
    for (const address of ['10.1.2.3', '100.64.0.1', '127.0.0.1', '192.168.1.1', '224.0.0.1', '255.255.255.255', '8.8.8.8', '100.128.0.1']) {
      assert.equal(isNonGlobalIpv4(parseIpv4(address)), isNonGlobal(address), address);
    }
  });
});
