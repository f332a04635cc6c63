/**
 * The firewall set files' text. Whether nft and ipset accept it and drop
 * what it lists is test/firewall.test.ts's job, with the real tools.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IPSET_MAXELEM, firewallEntries, renderIpsetRestore, renderNftSets } from '../src/write/firewall-sets.js';

describe('the entries the firewall drops', () => {
  test('addresses inside a blacklisted network are left out: nft refuses overlapping elements', () => {
    const entries = firewallEntries(['198.51.100.7', '192.0.2.9', '2001:db8::1'], ['192.0.2.0/24', '198.51.100.7', '2001:db8::/32']);
    assert.deepEqual(entries, { ipv4: ['192.0.2.0/24', '198.51.100.7'], ipv6: ['2001:db8::/32'] });
  });

  test('a network inside a wider one is left out, whichever comes first', () => {
    assert.deepEqual(firewallEntries([], ['10.1.0.0/16', '10.0.0.0/8', '10.1.2.0/24', '11.0.0.0/8']).ipv4, ['10.0.0.0/8', '11.0.0.0/8']);
    assert.deepEqual(firewallEntries([], ['2001:db8:1::/48', '2001:db8::/32']).ipv6, ['2001:db8::/32']);
  });

  test('neighbouring networks both stay', () => {
    assert.deepEqual(firewallEntries(['10.0.1.0', '10.0.0.255'], ['10.0.0.0/24']).ipv4, ['10.0.0.0/24', '10.0.1.0']);
  });

  test('in address order, numerically, so the same bans always give the same file', () => {
    const forwards = firewallEntries(['192.0.2.10', '192.0.2.9', '2001:db8::10', '2001:db8::9'], []);
    const backwards = firewallEntries(['2001:db8::9', '2001:db8::10', '192.0.2.9', '192.0.2.10'], []);
    assert.deepEqual(forwards, { ipv4: ['192.0.2.9', '192.0.2.10'], ipv6: ['2001:db8::9', '2001:db8::10'] });
    assert.deepEqual(backwards, forwards);
  });

  test('an IPv4-mapped address is dropped as the IPv4 packets it sends', () => {
    assert.deepEqual(firewallEntries(['::ffff:192.0.2.1'], ['::ffff:198.51.100.0/120']), { ipv4: ['192.0.2.1', '198.51.100.0/24'], ipv6: [] });
  });

  test('a client seen twice is written once', () => {
    assert.deepEqual(firewallEntries(['192.0.2.1'], ['192.0.2.1']).ipv4, ['192.0.2.1']);
  });
});

describe('the nft file', () => {
  test('declares the table and both sets, flushes both, then refills them', () => {
    const text = renderNftSets({ ipv4: ['192.0.2.0/24', '198.51.100.7'], ipv6: ['2001:db8::/32'] }, 'ipanalyse');
    assert.equal(
      text.split('\n').filter((line) => !line.startsWith('#')).join('\n'),
      [
        'table inet ipanalyse {',
        '\tset banned4 { type ipv4_addr; flags interval; }',
        '\tset banned6 { type ipv6_addr; flags interval; }',
        '}',
        'flush set inet ipanalyse banned4',
        'flush set inet ipanalyse banned6',
        'add element inet ipanalyse banned4 {',
        '\t192.0.2.0/24,',
        '\t198.51.100.7',
        '}',
        'add element inet ipanalyse banned6 {',
        '\t2001:db8::/32',
        '}',
        '',
      ].join('\n'),
    );
  });

  test('an empty set is only flushed: `{ }` is a syntax error for nft', () => {
    const text = renderNftSets({ ipv4: [], ipv6: ['2001:db8::1'] }, 'fw');
    assert.doesNotMatch(text, /banned4 \{\n/);
    assert.match(text, /flush set inet fw banned4\n/);
    assert.match(text, /add element inet fw banned6 \{\n\t2001:db8::1\n\}\n$/);
  });
});

describe('the ipset restore file', () => {
  test('each family is refilled aside and swapped in, with the same parameters every time', () => {
    const text = renderIpsetRestore({ ipv4: ['192.0.2.1'], ipv6: [] }, 'ipanalyse');
    // Per family: both sets created alike, the spare one filled, swapped in, then dropped.
    const refill = (set: string, family: string, adds: string[]) => [
      `create ${set} hash:net family ${family} maxelem ${IPSET_MAXELEM} -exist`,
      `create ${set}-next hash:net family ${family} maxelem ${IPSET_MAXELEM} -exist`,
      `flush ${set}-next`,
      ...adds,
      `swap ${set}-next ${set}`,
      `destroy ${set}-next`,
    ];
    assert.deepEqual(text.split('\n').slice(1), [...refill('ipanalyse4', 'inet', ['add ipanalyse4-next 192.0.2.1']), ...refill('ipanalyse6', 'inet6', []), '']);
  });

  test('a /0, which hash:net refuses, is written as its two halves', () => {
    const text = renderIpsetRestore({ ipv4: ['0.0.0.0/0'], ipv6: ['::/0'] }, 'x');
    assert.match(text, /add x4-next 0\.0\.0\.0\/1\nadd x4-next 128\.0\.0\.0\/1\n/);
    assert.match(text, /add x6-next ::\/1\nadd x6-next 8000::\/1\n/);
  });
});
