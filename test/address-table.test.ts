import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressTable, MAX_KEY_BYTES, MISSING, hashBytes } from '../src/read/address-table.js';
import { newLogEntry, newRequestClassifier, parseLine } from '../src/read/log-line.js';
import { ClientTable } from '../src/read/window-stats.js';
import { buildAddressList } from '../src/address/address-list.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

function insert(table: AddressTable, key: string, value: number, hash = hashBytes(bytes(key), 0, key.length)): number {
  return table.insert(bytes(key), 0, key.length, hash, value);
}

function get(table: AddressTable, key: string, hash = hashBytes(bytes(key), 0, key.length)): number {
  return table.get(bytes(key), 0, key.length, hash);
}

describe('AddressTable', () => {
  test('a key not inserted is MISSING; an inserted one has its value', () => {
    const table = new AddressTable();
    assert.equal(get(table, '192.0.2.1'), MISSING);
    insert(table, '192.0.2.1', 7);
    insert(table, '192.0.2.10', -1);
    insert(table, '192.0.2.', 0);
    insert(table, '192.0.2.2', 0x7fffffff);
    insert(table, '192.0.2.3', MISSING + 1);
    assert.equal(get(table, '192.0.2.1'), 7);
    assert.equal(get(table, '192.0.2.10'), -1);
    assert.equal(get(table, '192.0.2.'), 0);
    assert.equal(get(table, '192.0.2.2'), 0x7fffffff);
    assert.equal(get(table, '192.0.2.3'), MISSING + 1);
    assert.equal(get(table, '192.0.2.100'), MISSING, 'a longer key with the same start');
    assert.equal(get(table, '192.0.2'), MISSING, 'a shorter one');
    assert.equal(table.size, 5);
  });

  test('looks keys up inside a larger buffer, by range', () => {
    const table = new AddressTable();
    insert(table, '2001:db8::1', 3);
    const buf = bytes('xx 2001:db8::1 - - [');
    assert.equal(table.get(buf, 3, 14, hashBytes(buf, 3, 14)), 3);
    assert.equal(table.get(buf, 3, 13, hashBytes(buf, 3, 13)), MISSING);
  });

  test('keys whose hashes collide are told apart by their bytes', () => {
    const table = new AddressTable();
    const keys = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    keys.forEach((key, i) => insert(table, key, i, 42));
    keys.forEach((key, i) => assert.equal(get(table, key, 42), i));
    assert.equal(get(table, '10.0.9.9', 42), MISSING);
  });

  test('a million keys: every value and key string survives the table and the arena growing', () => {
    const table = new AddressTable();
    const n = 1 << 20;
    const offsets = new Int32Array(n);
    const key = (i: number) => (i % 3 === 0 ? `2a0c:${(i >>> 12).toString(16)}::${(i & 0xfff).toString(16)}` : `${i >>> 16}.${(i >>> 8) & 255}.${i & 255}.1`);
    for (let i = 0; i < n; i++) offsets[i] = insert(table, key(i), i);
    assert.equal(table.size, n);
    for (let i = 0; i < n; i += 997) {
      assert.equal(get(table, key(i)), i);
      assert.equal(table.keyString(offsets[i]), key(i));
      const slot = table.findSlot(bytes(key(i)), 0, key(i).length, hashBytes(bytes(key(i)), 0, key(i).length));
      assert.equal(table.keyOffsetAt(slot), offsets[i]);
      assert.equal(table.valueAt(slot), i);
    }
    assert.equal(table.findSlot(bytes('1.2.3.4.5'), 0, 9, hashBytes(bytes('1.2.3.4.5'), 0, 9)), -1);
  });

  test('keys that fill an arena page to the last byte, and keys that would straddle two pages, read back whole', () => {
    const table = new AddressTable();
    // 4096 keys of 251 bytes (256 with the length byte and the value) fill a 1 MiB page exactly; 7-byte keys then straddle the next boundary.
    const keys = [
      ...Array.from({ length: 4096 * 2 }, (_, i) => `${i}:`.padEnd(251, 'k')),
      ...Array.from({ length: 200_000 }, (_, i) => `${i}`.padStart(7, '0')),
    ];
    const offsets = keys.map((key, i) => insert(table, key, i));
    keys.forEach((key, i) => {
      assert.equal(get(table, key), i, key);
      assert.equal(table.keyString(offsets[i]), key);
    });
    assert.equal(get(table, '0:'.padEnd(250, 'k')), MISSING);
  });

  test('keys are any bytes, read back as latin1', () => {
    const table = new AddressTable();
    const key = Buffer.from([0x00, 0xff, 0x80, 0x20, 0x22]);
    const offset = table.insert(key, 0, key.length, hashBytes(key, 0, key.length), 5);
    assert.equal(table.get(key, 0, key.length, hashBytes(key, 0, key.length)), 5);
    assert.equal(table.keyString(offset), key.toString('latin1'));
  });

  test('refuses a key too long for its length byte, and MISSING as a value', () => {
    const table = new AddressTable();
    const long = 'x'.repeat(MAX_KEY_BYTES + 1);
    assert.throws(() => insert(table, long, 1), RangeError);
    assert.throws(() => insert(table, '1.2.3.4', MISSING), RangeError);
    insert(table, 'x'.repeat(MAX_KEY_BYTES), 1);
    assert.equal(get(table, 'x'.repeat(MAX_KEY_BYTES)), 1);
  });

  test("hashBytes is the hash scanLine computes while it finds the address's end", () => {
    const line = bytes('2001:DB8::7 - - [20/Nov/2026:11:59:00 +0000] "GET /search HTTP/1.1" 200 1 "-" "x"');
    const entry = newLogEntry();
    assert.ok(parseLine(line, 0, line.length, newRequestClassifier(['/search']), entry));
    assert.equal(entry.ipHash, hashBytes(line, entry.ipStart, entry.ipEnd));
  });
});

describe('ClientTable', () => {
  function index(table: ClientTable, raw: string): number {
    const buf = bytes(`  ${raw}  `);
    return table.indexOf(buf, 2, 2 + raw.length, hashBytes(buf, 2, 2 + raw.length));
  }

  test('spellings of one address are one client, known by its canonical address only', () => {
    const table = new ClientTable(() => false);
    const a = index(table, '2001:DB8::1');
    assert.equal(index(table, '2001:db8:0:0:0:0:0:1'), a);
    assert.equal(index(table, '2001:db8::1'), a);
    assert.equal(index(table, '2001:DB8::1'), a);
    assert.equal(table.size, 1);
    table.count(a, 1, true, false, false);
    assert.deepEqual(table.get('2001:db8::1'), { longTotal: 1, longApi: 1, shortTotal: 0, shortApi: 0, badUa: false });
    assert.equal(table.get('2001:DB8::1'), undefined, 'another spelling is not the address');
    assert.equal(table.get('2001:db8::2'), undefined);
    assert.deepEqual([...table.entries()].map(([address]) => address), ['2001:db8::1']);
  });

  test('what is no address, and listed addresses, get no client', () => {
    const listed = new Set(['192.0.2.9', '2001:db8::9']);
    const table = new ClientTable((address) => listed.has(address));
    const notAnAddress = index(table, '999.1.1.1');
    assert.ok(notAnAddress < 0);
    assert.equal(index(table, '01.2.3.4'), notAnAddress);
    assert.equal(index(table, 'x'.repeat(300)), notAnAddress, 'too long to be remembered, still no address');
    const isListed = index(table, '192.0.2.9');
    assert.ok(isListed < 0 && isListed !== notAnAddress);
    assert.equal(index(table, '2001:DB8::9'), isListed);
    assert.equal(table.size, 0);
    assert.deepEqual([...table.listedAddresses].sort(), ['192.0.2.9', '2001:db8::9']);
    assert.equal(table.get('999.1.1.1'), undefined);
    assert.equal(table.get('192.0.2.9'), undefined);
    assert.equal(table.get(''), undefined);
    assert.equal(table.get('\u4e2d'), undefined);
  });

  test('counts with weight 0 change nothing; clients come out in the order first seen', () => {
    const table = new ClientTable(() => false);
    const addresses = Array.from({ length: 5000 }, (_, i) => (i % 2 ? `198.51.${i >> 8}.${i & 255}` : `2001:db8::${(i + 1).toString(16)}`));
    for (const address of addresses) table.count(index(table, address), 1, false, true, true);
    const first = index(table, addresses[0]);
    table.count(first, 0, true, true, true);
    assert.equal(table.size, addresses.length);
    const entries = [...table.entries()];
    assert.deepEqual(
      entries.map(([address]) => address),
      addresses,
    );
    assert.deepEqual(entries[0][1], { longTotal: 1, longApi: 0, shortTotal: 1, shortApi: 0, badUa: true });
    assert.equal(table.hasBadUa(first), true);
  });

  test('entriesOver: the clients over either threshold and the named ones, in the order first seen, as entries() has them', () => {
    const table = new ClientTable(() => false);
    const addresses = Array.from({ length: 3000 }, (_, i) => (i % 3 ? `203.0.${i >> 8}.${i & 255}` : `2001:db8::${(i + 1).toString(16)}`));
    addresses.forEach((address, i) => {
      const client = index(table, address);
      for (let line = 0; line < i % 7; line++) table.count(client, 1, true, line < i % 5, false);
    });
    index(table, '2001:DB8::4'); // another spelling of addresses[3]: named by its canonical address only
    const named = [addresses[10], addresses[3], '2001:DB8::4', '192.0.2.99', 'not an address'];
    for (const [longApi, shortApi] of [[5, 3], [4.5, 1 / 3], [Infinity, 3], [5, Infinity], [NaN, 3], [-1, -1]]) {
      const expected = [...table.entries()].filter(([address, s]) => !(s.longApi <= longApi && s.shortApi <= shortApi) || named.includes(address));
      assert.deepEqual([...table.entriesOver(longApi, shortApi, named)], expected, `${longApi} / ${shortApi}`);
    }
    assert.equal([...table.entriesOver(Infinity, Infinity, [])].length, 0);
  });

  test('a table told the IPv4 list as numbers makes the clients, and keeps the listed addresses, a table without it does', () => {
    const listed = buildAddressList(['192.0.2.0/24', '198.51.100.7', '::ffff:203.0.113.0/120']);
    const plain = new ClientTable((address) => listed.has(address));
    const fast = new ClientTable((address) => listed.has(address), undefined, (value) => listed.hasIpv4(value));
    const spellings = ['198.51.100.6', '198.51.100.7', '192.0.2.44', '203.0.113.5', '203.0.114.5', '01.2.3.4', '1.2.3.04', '1.2.3', '256.1.1.1', '1.2.3.4', '2001:db8::1', '::ffff:1.2.3.4', '1.2.3.4 '];
    for (const raw of [...spellings, ...spellings.reverse()]) assert.equal(index(fast, raw), index(plain, raw), raw);
    assert.equal(fast.size, plain.size);
    assert.deepEqual([...fast.listedAddresses].sort(), [...plain.listedAddresses].sort());
    assert.deepEqual([...fast.listedAddresses].sort(), ['192.0.2.44', '198.51.100.7', '203.0.113.5']);
  });

  test('an adopted table knows its clients with lines, and a count taken back that no line made, as lines come and go', () => {
    const made = new ClientTable(() => false);
    for (const address of ['192.0.2.1', '192.0.2.2', '2001:db8::3']) made.count(index(made, address), 1, true, true, false);
    const adopted = () => {
      const table = new ClientTable(() => false);
      assert.ok(table.adopt(made.snapshot()));
      return table;
    };
    const table = adopted();
    assert.equal(table.size, 3);
    table.count(index(table, '192.0.2.1'), -1, true, true, false);
    assert.equal(table.size, 2, 'a client whose only line left');
    assert.equal(table.get('192.0.2.1'), undefined);
    table.count(index(table, '192.0.2.1'), 1, false, false, false);
    table.count(index(table, '198.51.100.7'), 1, false, false, false);
    index(table, '198.51.100.8'); // known, never counted: no client
    assert.equal(table.size, 4);
    assert.equal(table.rowsAreCounts(), true);
    const restored = new ClientTable(() => false);
    assert.ok(restored.adopt(table.snapshot()));
    assert.equal(restored.size, 4, 'the count of rows without lines is kept with the table');

    const takenTwice = adopted();
    takenTwice.count(index(takenTwice, '192.0.2.2'), -1, true, true, false);
    takenTwice.count(index(takenTwice, '192.0.2.2'), -1, true, true, false);
    assert.equal(takenTwice.rowsAreCounts(), false, 'a line taken back twice');
    const apiNeverCounted = adopted();
    apiNeverCounted.count(index(apiNeverCounted, '2001:db8::3'), 1, false, false, false);
    apiNeverCounted.count(index(apiNeverCounted, '2001:db8::3'), -1, false, false, false);
    apiNeverCounted.count(index(apiNeverCounted, '2001:db8::3'), -1, false, true, false);
    assert.equal(apiNeverCounted.rowsAreCounts(), false, 'API requests left on a row without lines');
    const badUaNeverCounted = adopted();
    badUaNeverCounted.count(index(badUaNeverCounted, '192.0.2.1'), -1, true, true, true);
    assert.equal(badUaNeverCounted.rowsAreCounts(), false, 'a bad user agent taken back that was not counted');
  });
});
