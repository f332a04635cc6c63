/**
 * Hostile inputs for the property suite: what spoofing clients, broken
 * proxies, truncated writes and hand-edited files put in front of the parsers.
 */
import net from 'node:net';
import fc from 'fast-check';
import { formatLogTimestamp } from './log-generator.js';

export const WINDOW_END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
export const WINDOW = { start: WINDOW_END - 3600, shortStart: WINDOW_END - 900, end: WINDOW_END };

// ---------------------------------------------------------------------------
// What may reach the map

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const DOTTED = `${OCTET}(?:\\.${OCTET}){3}`;
const CANONICAL_IPV4 = new RegExp(`^${DOTTED}$`);
const MAPPED_IPV6 = new RegExp(`^::ffff:${DOTTED}$`);

/**
 * A whitelist, not a blacklist: dotted quads without leading zeros, or
 * lower-case hex and colons (a dotted quad only after ::ffff:) with no
 * leading zero in a group and one `::` at most.
 */
export function isCanonicalAddress(text: string): boolean {
  if (CANONICAL_IPV4.test(text)) return true;
  if (!MAPPED_IPV6.test(text) && !/^[0-9a-f:]{2,39}$/.test(text)) return false;
  return !/(?:^|:)0[0-9a-f]|:::|::.*::/.test(text) && net.isIPv6(text);
}

/** An `ADDRESS STATE` line as nginx (`;`) or Apache reads it. */
export const MAP_LINE = /^(\S+) (bulk|block|ban|www)(;?)$/;

// ---------------------------------------------------------------------------
// Addresses

const HOSTILE_ADDRESSES = [
  '999.1.1.1', '1.2.3.4 block;', '::ffff:1.2.3.4', '::FFFF:1.2.3.4', '1.2.3.4;', '1.2.3.4\nmalicious', '"1.2.3.4"', '1.2.3.4}',
  'include /etc/passwd;', 'fe80::1%eth0', '01.2.3.4', '0x7f.1', '1.2.3.4\r\nX-Foo: bar', '١.٢.٣.٤', '１.２.３.４', '1.2.3.٤',
  ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\t', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-1', '+1.2.3.4', '127.1', '2130706433', '0.0.0.0',
  '-', '', '::', ':::', '::1', '1::2::3', '2001:db8::1', '2001:DB8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '::ffff:01.2.3.4',
  '::ffff:1.2.3', '1:2:3:4:5:6:7:8:9', '12345::1', 'g::1', '::1/128', '10.0.0.0/8', '[::1]', '[2001:db8::1]:80', '1.2.3.4:80',
  '0:0:0:0:0:ffff:7f00:1', '::ffff:0:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1.2.3.4::', '::1.2.3.4:1', 'fe80::1%', '%eth0',
  '1.2.3.4#', '#', '{', '}', ';', 'map $a $b {', "1.2.3.4'", '1.2.3.4\\', '\u00001.2.3.4', '1.2.3.4\u0000', '::\u0010', '::\u0011',
  '::ａ', '::\u212a', 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', '0000:0000:0000:0000:0000:ffff:255.255.255.255',
  '00000::1', 'localhost', '1.2.3.4\u2028', '1.2.3.4\u00a0', '\ufeff1.2.3.4', '1.2.3.4\ud800', '2001:db8::1\u0130',
];

/** Characters that end, split or disguise a field for a web server's configuration parser, or look like digits. */
const HOSTILE_CHARS = [
  ...Array.from({ length: 0x21 }, (_, code) => String.fromCharCode(code)),
  ...'\x7f;{}#"\'\\%/[]$:.,-+xX',
  '\u0085', '\u00a0', '\u2028', '\u3000', '\ufeff', '\ud800', '٣', '３', 'ｆ', 'Ａ', '\u0130', '\u212a', 'ß', '\u{1d7ce}',
];

/** A valid IPv6 address in any legal spelling: case, zero padding, which zero run `::` stands for, dotted tail. */
export const spelledIpv6 = fc
  .record({
    groups: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 15 })), { minLength: 8, maxLength: 8 }),
    mapped: fc.boolean(),
    pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
    upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    dotted: fc.boolean(),
    pick: fc.nat(),
  })
  .map(({ groups, mapped, pads, upper, dotted, pick }) => {
    if (mapped) groups = [0, 0, 0, 0, 0, 0xffff, groups[6], groups[7]];
    const hexCount = dotted ? 6 : 8;
    const hex = groups.slice(0, hexCount).map((g, i) => {
      const digits = g.toString(16);
      const padded = digits.padStart(Math.min(4, digits.length + pads[i]), '0');
      return upper[i] ? padded.toUpperCase() : padded;
    });
    const tail = dotted ? [`${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`] : [];
    const runs: [number, number][] = [];
    for (let i = 0; i < hexCount; i++) for (let j = i; j < hexCount && groups[j] === 0; j++) runs.push([i, j + 1]);
    const run = runs[pick % (runs.length + 1)];
    if (!run) return [...hex, ...tail].join(':');
    return `${hex.slice(0, run[0]).join(':')}::${[...hex.slice(run[1]), ...tail].join(':')}`;
  });

const DIGIT_ZEROS = [0x660, 0x6f0, 0x966, 0x9e6, 0xff10, 0x1d7ce];
const unicodeDigits = fc.tuple(fc.ipV4(), fc.constantFrom(...DIGIT_ZEROS), fc.nat()).map(([address, zero, mask]) =>
  [...address].map((c, i) => (/[0-9]/.test(c) && (mask >> i) & 1 ? String.fromCodePoint(zero + Number(c)) : c)).join(''),
);

const longAddress = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.'), minLength: 40, maxLength: 120 }),
  fc.tuple(fc.integer({ min: 1, max: 60 }), fc.ipV4()).map(([n, a]) => '0'.repeat(n) + a),
  fc.tuple(fc.integer({ min: 1, max: 60 }), spelledIpv6).map(([n, a]) => '0'.repeat(n) + a),
  fc.integer({ min: 8, max: 40 }).map((n) => '1:'.repeat(n) + '1'),
  fc.constantFrom('1'.repeat(10_000), ':'.repeat(1000), 'f'.repeat(46), `${'ffff:'.repeat(7)}ffff${'0'.repeat(10)}`),
);

const validAddress = fc.oneof(fc.ipV4(), spelledIpv6);

/** A valid address with one character inserted, replaced or removed. */
const mutatedAddress = fc
  .tuple(validAddress, fc.constantFrom('insert', 'replace', 'delete'), fc.nat(), fc.constantFrom(...HOSTILE_CHARS))
  .map(([address, how, at, c]) => {
    const i = at % (address.length + 1);
    if (how === 'insert') return address.slice(0, i) + c + address.slice(i);
    return address.slice(0, i) + (how === 'replace' ? c : '') + address.slice(i + 1);
  });

export const hostileAddress: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_ADDRESSES), weight: 3 },
  { arbitrary: validAddress, weight: 4 },
  { arbitrary: fc.mixedCase(spelledIpv6), weight: 1 },
  { arbitrary: fc.ipV4Extended(), weight: 1 },
  { arbitrary: unicodeDigits, weight: 1 },
  { arbitrary: longAddress, weight: 1 },
  { arbitrary: mutatedAddress, weight: 4 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...HOSTILE_CHARS, ...'0123456789abcdef'), maxLength: 45 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 50 }), weight: 1 },
);

// ---------------------------------------------------------------------------
// Log lines

export interface LineSpec {
  address: string;
  /** Seconds relative to WINDOW_END. */
  offset: number;
  zone: number;
  method: string;
  path: string;
  status: string;
  bytes: string;
  ua: string;
}

export function renderLine(l: LineSpec): string {
  return `${l.address} - - [${formatLogTimestamp(WINDOW_END + l.offset, l.zone)}] "${l.method} ${l.path} HTTP/1.1" ${l.status} ${l.bytes} "-" "${l.ua}"`;
}

export const UA_BLOCKLIST = ['curl/'];

export const lineSpec = (address: fc.Arbitrary<string> = hostileAddress): fc.Arbitrary<LineSpec> =>
  fc.record({
    address,
    offset: fc.oneof(fc.integer({ min: -3800, max: 400 }), fc.constantFrom(-3600, -900, -899, 0, 1, 120, 121)),
    zone: fc.constantFrom(0, 60, -330, 840, -720),
    method: fc.constantFrom('GET', 'GET', 'POST', 'OPTIONS', 'HEAD', ''),
    path: fc.oneof(fc.constantFrom('/search?q=x', '/reverse?lat=1', '/details', '/', '/ui/search.html', '/search?q=\\"x\\"'), fc.string({ maxLength: 30 })),
    status: fc.constantFrom('200', '200', '404', '500', '304', '0', '99999999999999999999999'),
    bytes: fc.constantFrom('10', '-', '0', '123456'),
    ua: fc.oneof(fc.constantFrom('-', 'Mozilla/5.0', 'curl/8.0', 'a \\" b', '\\\\', ''), fc.string({ maxLength: 30 })),
  });

const INSERTS = [[0], [0x22], [0x5c], [0x5c, 0x22], [0xc0, 0x80], [0xff], [0xed, 0xa0, 0x80], [0x80], [0xe4, 0xb8], [0xf4, 0x90, 0x80, 0x80], [0x0d], [0x20], [0x5b], [0x5d], [0x0a]].map((b) => Buffer.from(b));

const mutation = fc.record({ kind: fc.constantFrom('truncate', 'flip', 'insert', 'delete'), at: fc.nat(), value: fc.nat() });

/** Applies truncations, bit flips, deletions and insertions of NULs, quotes, backslashes and broken UTF-8. */
function mutate(bytes: Buffer, mutations: { kind: string; at: number; value: number }[]): Buffer {
  for (const { kind, at, value } of mutations) {
    const i = at % (bytes.length + 1);
    if (kind === 'truncate') bytes = bytes.subarray(0, i);
    else if (kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), INSERTS[value % INSERTS.length], bytes.subarray(i)]);
    else if (i === bytes.length) continue;
    else if (kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
    else {
      bytes = Buffer.from(bytes);
      bytes[i] ^= (value % 255) + 1;
    }
  }
  return bytes;
}

const LINE_ALPHABET = [...' -[]"/:0123456789.+GETsearch\\abcdef'];

/** One line's bytes, without its newline (though mutations and random bytes may hold some). */
export const hostileLine: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: lineSpec().map((l) => Buffer.from(renderLine(l))), weight: 4 },
  { arbitrary: fc.tuple(lineSpec(), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([l, m]) => mutate(Buffer.from(renderLine(l)), m)), weight: 4 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...LINE_ALPHABET), maxLength: 150 }).map((s) => Buffer.from(s)), weight: 1 },
);

export const hostileLog: fc.Arbitrary<Buffer> = fc
  .tuple(fc.array(hostileLine, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
  .map(([lines, eol, last]) => {
    const log = Buffer.concat(lines.flatMap((l) => [l, Buffer.from(eol)]));
    return last ? log : log.subarray(0, Math.max(0, log.length - 1));
  });

export interface LongLineSpec {
  length: number;
  fill: number;
  wellFormed: boolean;
}

/** A line of `length` bytes: a well-formed line padded in its path, or one byte repeated. */
export function longLine({ length, fill, wellFormed }: LongLineSpec): Buffer {
  const line = Buffer.alloc(length, fill);
  if (!wellFormed) return line;
  const head = Buffer.from(`192.0.2.77 - - [${formatLogTimestamp(WINDOW_END - 10)}] "GET /search?q=`);
  const tail = Buffer.from(' HTTP/1.1" 200 10 "-" "Mozilla/5.0"');
  head.copy(line, 0);
  tail.copy(line, length - tail.length);
  return line;
}

export const longLineSpec: fc.Arbitrary<LongLineSpec> = fc.record({
  length: fc.constantFrom(65_535, 65_536, 65_537, 65_600, 200_000, 10 * 1024 * 1024),
  fill: fc.constantFrom(0x78, 0x20, 0x22, 0x00, 0xff),
  wellFormed: fc.boolean(),
});

// ---------------------------------------------------------------------------
// Map files

const mapSpace = fc.constantFrom(' ', '\t', '  ', '', '\u00a0', '\u3000', '\r', '\v', '\ufeff', '\u2028');
const mapLine = fc.oneof(
  fc
    .tuple(
      mapSpace,
      hostileAddress,
      // Network keys, valid or not for the address (host bits, too long a prefix, no prefix).
      fc.constantFrom('', '', '/64', '/24', '/0', '/32', '/128', '/129', '/', '/08'),
      mapSpace,
      fc.constantFrom('bulk', 'block', 'ban', 'www', 'BLOCK', 'throttle', ''),
      mapSpace,
      fc.constantFrom('', ';', ' ;', ';;', ' # c', '#', '; # ;'),
    )
    .map((parts) => parts.join('')),
  fc.constantFrom('# comment', '', 'default bulk;', 'include /etc/passwd;', '}', '1.2.3.4 block extra'),
  fc.string({ unit: 'binary', maxLength: 60 }),
);
export const mapText = fc.tuple(fc.array(mapLine, { maxLength: 20 }), fc.constantFrom('\n', '\r\n')).map(([lines, eol]) => lines.join(eol));

// ---------------------------------------------------------------------------
// Settings files

const SETTING_KEYS = [
  'BLOCKEDFILE', 'LOGFILE', 'WHITELIST', 'BLACKLIST', 'UA_BLOCKLIST', 'BLOCKCOOLOFF_DELTA', 'BLOCKCOOLOFF_PERIOD', 'BULKCOOLOFF_DELTA',
  'BULKCOOLOFF_PERIOD', 'BULKLONG_LIMIT', 'BULKSHORT_LIMIT', 'BLOCK_UPPER', 'BLOCK_LOWER', 'BLOCK_LOADFAC', 'BULK_LOADFAC', 'BULK_LOWER',
  'MAX_BULK_IPS', 'MIN_LOG_SIZE', 'API_ENDPOINTS', 'LOADAVG_FILE', 'BASEDIR', 'ROTATED_LOGS', 'MAX_NEW_BLOCKS', 'blacklist', 'WHITELST', 'X',
  '__import__', 'é',
];
const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}', '-': '', 'f(': ')', 'timedelta(': ')', 'timedelta(hours=': ')', 'timedelta(seconds=': ')', 'timedelta(days=': ')' };

const pyString = fc
  .tuple(
    fc.constantFrom("'", '"', "'''", '"""', "r'", "b'", "f'", 'u"'),
    fc.oneof(
      fc.string({ maxLength: 20 }),
      hostileAddress,
      fc.constantFrom('\\n', '\\x41', '\\u00e9', '\\N{DASH}', '\\', "\\'", '%s', '{BASEDIR}', '1 hour', '15 min', '2.5 days', '0 s', '-1 h', '1e999 s', '9'.repeat(400) + ' w', 'curl/', '/search'),
    ),
  )
  .map(([open, body]) => `${open}${body}${open.replace(/^[rbfu]/, '')}`);

const pyAtom = fc.oneof(
  pyString,
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('1e999', '0x1f', '0o17', '0b101', '1_000', '.5', '5.', '1j', 'True', 'False', 'None', 'inf', 'nan', '-0.0', '10**9', 'datetime.timedelta(hours=1)'),
  fc.constantFrom(...SETTING_KEYS),
);

const { pyExpr } = fc.letrec((tie) => ({
  pyExpr: fc.oneof(
    { depthSize: 'small' },
    pyAtom,
    fc.tuple(tie('pyExpr'), fc.constantFrom(' + ', ' - ', ' * ', ' / ', ' // ', ' % ', ' ** ', ','), tie('pyExpr')).map(([a, op, b]) => a + op + b),
    fc.tuple(fc.constantFrom(...Object.keys(CLOSERS)), fc.array(tie('pyExpr'), { maxLength: 3 }), fc.boolean()).map(([open, items, comma]) => open + items.join(', ') + (comma ? ',' : '') + CLOSERS[open]),
  ),
}));

const pyStatement = fc.oneof(
  fc
    .tuple(fc.constantFrom('', '', '', ' ', '\t'), fc.constantFrom(...SETTING_KEYS), fc.constantFrom(' = ', '=', ' == ', ' += ', ': '), pyExpr, fc.constantFrom('', '', ' # c', ';', '; X = 1', ' \\', '\\\n + 1'))
    .map((parts) => parts.join('')),
  fc.constantFrom('import datetime', 'from datetime import timedelta', 'import os', 'from os import *', '# only a comment', '', 'if True:', 'pass', '"""open', '\\', '\x00', 'X = (\n  1,\n  2)'),
);

const settingsFile = fc
  .tuple(fc.array(pyStatement, { maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r'))
  .map(([statements, eol]) => statements.join(eol));

export const settingsText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: settingsFile, weight: 5 },
  {
    arbitrary: fc.tuple(settingsFile, fc.nat(), fc.constantFrom(...HOSTILE_CHARS, '(', ')', '=', '\n')).map(([t, at, c]) => t.slice(0, at % (t.length + 1)) + c + t.slice(at % (t.length + 1))),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: fc.constantFrom(...'()[]{}\'"\\#=+-*/,.:;_ \n\tAXtimedelta0129eE'), maxLength: 120 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 1 },
);

/** Files whose cost grows faster than their size. */
export const deeplyNestedSettingsText = fc
  .tuple(fc.constantFrom('(', '[', '-', 'timedelta(seconds='), fc.integer({ min: 1, max: 20_000 }))
  .map(([open, depth]) => `X = ${open.repeat(depth)}1${(CLOSERS[open] ?? ')').repeat(depth)}\n`);
export const doublingSettingsText = fc
  .tuple(fc.integer({ min: 0, max: 32 }), fc.constantFrom('X', 'BLOCKEDFILE'))
  .map(([times, key]) => `A = 'x'\n${'A = A + A\n'.repeat(times)}${key} = A\n`);
