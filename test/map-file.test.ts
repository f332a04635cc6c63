import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMap, renderMap } from '../src/write/map-file.js';
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
