import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMap, renderGeo, renderMap, whitelistExceptions } from '../src/write/map-file.js';
import { buildMapLookup } from '../src/lookup/map-lookup.js';
import type { MapState } from '../src/decide/policy.js';

describe('parseMap reads a previous map leniently', () => {
  test('comments, blank lines, trailing semicolons and odd spacing', () => {
    const { states, warnings } = parseMap('# written by hand\n\n192.0.2.1 block\n  192.0.2.2\tbulk ;\n2001:DB8::1 ban; # a comment\n');
    assert.deepEqual([...states], [['192.0.2.1', 'block'], ['192.0.2.2', 'bulk'], ['2001:db8::1', 'ban']]);
    assert.deepEqual(warnings, []);
  });
  test('malformed lines are skipped with a warning naming the line, never fatal', () => {
    const { states, warnings } = parseMap('192.0.2.1 block\n192.0.2.2\n999.1.1.1 block\n192.0.2.3 throttle\n192.0.2.4 block extra\n\u0000\u00ff\n192.0.2.5 bulk\n');
    assert.deepEqual([...states.keys()], ['192.0.2.1', '192.0.2.5']);
    assert.deepEqual(warnings.map((w) => w.split(':')[0]), ['2', '3', '4', '5', '6']);
  });
  test('an empty file is an empty map', () => {
    assert.equal(parseMap('').states.size, 0);
  });
});

describe('renderMap', () => {
  const states = new Map<string, MapState>([
    ['2001:db8::1', 'block'],
    ['192.0.2.10', 'bulk'],
    ['192.0.2.9', 'ban'],
    ['10.0.0.1', 'bulk'],
  ]);
  test('apache: sorted by address, IPv4 numerically, one ADDRESS STATE per line', () => {
    assert.equal(renderMap(states, 'apache'), '10.0.0.1 bulk\n192.0.2.9 ban\n192.0.2.10 bulk\n2001:db8::1 block\n');
  });
  test('nginx: every line ends in a semicolon', () => {
    assert.equal(renderMap(states, 'nginx'), '10.0.0.1 bulk;\n192.0.2.9 ban;\n192.0.2.10 bulk;\n2001:db8::1 block;\n');
  });
  test('what renderMap writes, parseMap reads back', () => {
    for (const format of ['apache', 'nginx'] as const) assert.deepEqual(parseMap(renderMap(states, format)).states, states);
  });
  test('the same states in another order give the same bytes', () => {
    assert.equal(renderMap(new Map([...states].reverse()), 'apache'), renderMap(states, 'apache'));
  });
});

describe('maps with networks (clients counted per /64 or /24)', () => {
  const states = new Map<string, MapState>([
    ['2001:db8:1:2::/64', 'block'],
    ['2001:db8:1:2::', 'ban'],
    ['198.51.100.0/24', 'bulk'],
    ['198.51.100.7', 'block'],
    ['2001:db8::/48', 'bulk'],
    ['192.0.2.9', 'ban'],
  ]);
  test('parseMap reads canonical CIDR keys and canonicalises hand-written ones; a /128 or /32 is an address', () => {
    const { states: read, warnings } = parseMap('2001:DB8:1:2:0::/64 block\n198.51.100.0/24 bulk;\n2001:db8::5/128 ban\n192.0.2.1/32 bulk\n');
    assert.deepEqual([...read], [['2001:db8:1:2::/64', 'block'], ['198.51.100.0/24', 'bulk'], ['2001:db8::5', 'ban'], ['192.0.2.1', 'bulk']]);
    assert.deepEqual(warnings, []);
  });
  test('a network with host bits set, or a prefix too long, is a malformed line', () => {
    const { states: read, warnings } = parseMap('2001:db8:1:2::1/64 block\n198.51.100.0/33 bulk\n198.51.100.0/24 bulk\n');
    assert.deepEqual([...read.keys()], ['198.51.100.0/24']);
    assert.deepEqual(warnings.map((w) => w.split(':')[0]), ['1', '2']);
  });
  test('www lines are exceptions, not states, and not malformed', () => {
    const { states: read, exceptions, warnings } = parseMap('2001:db8:1:2::/64 block;\n2001:db8:1:2::7 www;\n');
    assert.deepEqual([...read], [['2001:db8:1:2::/64', 'block']]);
    assert.deepEqual(exceptions, ['2001:db8:1:2::7']);
    assert.deepEqual(warnings, []);
  });
  test('renderMap: an address before the networks starting with it, wider networks first, exceptions in place', () => {
    assert.equal(
      renderMap(states, 'nginx', ['2001:db8:1:2::7']),
      '192.0.2.9 ban;\n198.51.100.0/24 bulk;\n198.51.100.7 block;\n2001:db8:1:2:: ban;\n2001:db8:1:2::/64 block;\n2001:db8:1:2::7 www;\n2001:db8::/48 bulk;\n',
    );
  });
  test('what renderMap writes, parseMap reads back, exceptions included', () => {
    const parsed = parseMap(renderMap(states, 'apache', ['198.51.100.8']));
    assert.deepEqual(parsed.states, states);
    assert.deepEqual(parsed.exceptions, ['198.51.100.8']);
  });
  test('renderGeo orders the blacklist the same way', () => {
    assert.equal(renderGeo(['10.0.0.0/16', '10.0.0.0', '10.0.0.0/8', '2001:db8::/32', '192.0.2.1']), '10.0.0.0 1;\n10.0.0.0/8 1;\n10.0.0.0/16 1;\n192.0.2.1 1;\n2001:db8::/32 1;\n');
  });
});

describe('whitelistExceptions: a whitelisted client inside a restricted network is let through', () => {
  const states = new Map<string, MapState>([
    ['2001:db8:1:2::/64', 'block'],
    ['198.51.100.0/24', 'ban'],
    ['203.0.113.5', 'block'],
  ]);
  test('addresses and narrower networks inside a restricted network; the IPv4 form of a mapped one', () => {
    assert.deepEqual(whitelistExceptions(states, ['2001:db8:1:2::7', '2001:db8:1:2:8000::/65', '::ffff:198.51.100.20', '198.51.100.128/25']), [
      '2001:db8:1:2::7',
      '2001:db8:1:2:8000::/65',
      '198.51.100.20',
      '198.51.100.128/25',
    ]);
  });
  test('nothing for entries outside every restricted network, for the network itself, or for a wider one', () => {
    assert.deepEqual(whitelistExceptions(states, ['2001:db8:1:3::7', '192.0.2.1', '2001:db8:1:2::/64', '2001:db8::/32', '203.0.113.0/24']), []);
  });
  test('a map without networks gets no exception lines: per-address maps stay as they were', () => {
    assert.deepEqual(whitelistExceptions(new Map([['203.0.113.5', 'block']]), ['203.0.113.5', '203.0.113.6']), []);
  });
});

describe('buildMapLookup answers as nginx geo does: the most specific key wins', () => {
  const lookup = buildMapLookup(
    parseMap('2001:db8:1:2::/64 block\n2001:db8:1:2::7 www\n2001:db8:1:2::8 ban\n2001:db8::/48 bulk\n198.51.100.0/24 ban\n198.51.100.20 www\n::ffff:192.0.2.7 block\n'),
  );
  for (const [address, answer] of [
    ['2001:db8:1:2:abcd::1', 'block'], // never seen: its /64 decides
    ['2001:DB8:1:2:0:0:0:9', 'block'], // any spelling
    ['2001:db8:1:2::7', 'www'], // whitelisted exception
    ['2001:db8:1:2::8', 'ban'], // an address more specific than its network
    ['2001:db8:0:5::1', 'bulk'], // in the /48, not in the /64
    ['2001:db8:1:3::1', 'NULL'], // neither in the /64 nor in the /48
    ['2001:db9::1', 'NULL'], // outside: Apache's default (www)
    ['198.51.100.99', 'ban'],
    ['::ffff:198.51.100.99', 'ban'], // a mapped client is its IPv4 form
    ['198.51.100.20', 'www'],
    ['192.0.2.7', 'block'], // a mapped key too
    ['192.0.2.8', 'NULL'],
    ['not an address', 'NULL'],
    ['', 'NULL'],
  ]) {
    test(`${address || '(empty line)'} -> ${answer}`, () => assert.equal(lookup(address), answer));
  }
});
