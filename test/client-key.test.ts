import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { networkAddress } from '../src/address/address-list.js';
import { PER_ADDRESS, clientKeyFunction } from '../src/address/client-key.js';
import { canonicalizeIp, ipFamily } from '../src/address/ip-address.js';
import { spelledIpv6 } from './support/arbitraries.js';

describe('the key a client is counted under', () => {
  test('per address (the default), every address is its own key, a mapped one too, as the map writes it today', () => {
    const keyOf = clientKeyFunction(PER_ADDRESS);
    for (const address of ['192.0.2.7', '::ffff:192.0.2.7', '2001:db8::1']) assert.equal(keyOf(address), address);
  });
  test('per network: the canonical network, a full-length prefix as the address, a mapped client as its IPv4 form', () => {
    const keyOf = clientKeyFunction({ ipv4: 24, ipv6: 64 });
    assert.equal(keyOf('2001:db8:1:2:a5:ff:fe00:1'), '2001:db8:1:2::/64');
    assert.equal(keyOf('192.0.2.7'), '192.0.2.0/24');
    assert.equal(keyOf('::ffff:192.0.2.7'), '192.0.2.0/24');
    assert.equal(clientKeyFunction({ ipv4: 32, ipv6: 64 })('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKeyFunction({ ipv4: 32, ipv6: 48 })('2001:db8:1:2::1'), '2001:db8:1::/48');
  });
  test('agrees with networkAddress (the list parser\'s) for any address and prefix', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), spelledIpv6), fc.integer({ min: 8, max: 32 }), fc.integer({ min: 16, max: 128 }), (spelled, ipv4, ipv6) => {
        const address = canonicalizeIp(spelled) as string;
        const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
        const family = ipFamily(plain);
        const prefix = family === 'ipv6' ? ipv6 : ipv4;
        const full = family === 'ipv6' ? 128 : 32;
        const expected = prefix === full ? plain : `${networkAddress(plain, prefix, family)}/${prefix}`;
        assert.equal(clientKeyFunction({ ipv4, ipv6 })(address), expected);
      }),
      { numRuns: 5000, seed: 0x64 },
    );
  });
});
