/**
 * Client addresses as the web server itself prints them.
 *
 * The map is looked up with the server's own rendering of the client address
 * (inet_ntop: lower-case, RFC 5952 compression, IPv4-mapped addresses with a
 * dotted quad), so every address we write must be in exactly that form, and
 * nothing that is not an address may ever reach the map.
 */

const MAX_ADDRESS_LENGTH = 45; // ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255
const DOT = 0x2e;
const COLON = 0x3a;

/** Returns the canonical form of an IPv4 or IPv6 address, or undefined if `raw` is not one. */
export function canonicalizeIp(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > MAX_ADDRESS_LENGTH) return undefined;
  if (ipFamily(raw) === 'ipv6') {
    // Servers log inet_ntop's spelling: parsing it into arrays only to print it back cost 2.5 µs of each new IPv6 client's 3.
    if (isCanonicalIpv6(raw)) return raw;
    const groups = parseIpv6(raw);
    return groups && formatIpv6(groups);
  }
  return parseIpv4(raw) < 0 ? undefined : raw;
}

/** The family net.BlockList asks for: only IPv6 addresses hold a colon. */
export function ipFamily(address: string): 'ipv4' | 'ipv6' {
  return address.includes(':') ? 'ipv6' : 'ipv4';
}

/**
 * Strict dotted quad: four decimal parts 0-255 without leading zeros (which
 * some parsers read as octal). Returns the address as an unsigned 32-bit
 * number, or -1. Scans character codes without splitting: during a flood,
 * every line brings a new address here.
 */
export function parseIpv4(text: string): number {
  if (text.length > MAX_IPV4_LENGTH) return -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return -1; // kept whole: its low byte may be a digit
    ipv4Scratch[i] = c;
  }
  return parseIpv4Bytes(ipv4Scratch, 0, text.length);
}

const MAX_IPV4_LENGTH = 15; // 255.255.255.255
const ipv4Scratch = new Uint8Array(MAX_IPV4_LENGTH);

/** As parseIpv4, for the bytes [start, end) of `buf`: a log's client field, read without a string. */
export function parseIpv4Bytes(buf: Uint8Array, start: number, end: number): number {
  if (end - start > MAX_IPV4_LENGTH) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? buf[i] : DOT; // the end closes the last part
    if (c === DOT) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      continue;
    }
    const digit = c - 0x30;
    if (digit < 0 || digit > 9 || (digits === 1 && part === 0) || digits === 3) return -1;
    part = part * 10 + digit;
    digits++;
  }
  return parts === 4 ? value : -1;
}

/** Groups of the IPv6 address isCanonicalIpv6 reads, as written (the `::` is not in them). */
const writtenGroups = new Int32Array(8);

/**
 * True when `text` is an IPv6 address written exactly as formatIpv6 writes
 * it: lower-case hex groups without leading zeros, the longest run of two or
 * more zero groups (the first on a tie) as `::`, and not IPv4-mapped. False
 * for anything else, a canonical IPv4-mapped address with its dotted quad
 * included: those take the full parse. Makes no object.
 */
export function isCanonicalIpv6(text: string): boolean {
  const n = text.length;
  let count = 0; // groups written
  let gap = -1; // where `::` stands, in written groups
  let value = 0;
  let digits = 0;
  let i = 0;
  if (n >= 2 && text.charCodeAt(0) === COLON && text.charCodeAt(1) === COLON) {
    gap = 0;
    i = 2;
  }
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON) {
      if (digits === 0 || count === 8) return false;
      writtenGroups[count++] = value;
      value = 0;
      digits = 0;
      if (i + 1 < n && text.charCodeAt(i + 1) === COLON) {
        if (gap >= 0) return false;
        gap = count;
        i++;
        if (i + 1 === n) break; // ends in `::`
      } else if (i + 1 === n) return false; // ends in a lone `:`
      continue;
    }
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
    if (digit < 0 || digits === 4 || (digits === 1 && value === 0)) return false;
    value = value * 16 + digit;
    digits++;
  }
  if (digits > 0) {
    if (count === 8) return false;
    writtenGroups[count++] = value;
  }
  if (gap < 0) return count === 8 && longestZeroRun(0, 8) < 2;
  const compressed = 8 - count;
  if (compressed < 2) return false;
  // A zero beside the `::` belongs in it; a run as long before it, or longer after it, would be the one compressed.
  if ((gap > 0 && writtenGroups[gap - 1] === 0) || (gap < count && writtenGroups[gap] === 0)) return false;
  if (longestZeroRun(0, gap) >= compressed || longestZeroRun(gap, count) > compressed) return false;
  return !(gap === 0 && count === 3 && writtenGroups[0] === 0xffff); // IPv4-mapped: written with a dotted quad
}

function longestZeroRun(from: number, to: number): number {
  let longest = 0;
  let run = 0;
  for (let i = from; i < to; i++) {
    run = writtenGroups[i] === 0 ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  return longest;
}

function parseHexGroup(text: string): number | undefined {
  if (text.length === 0 || text.length > 4) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
    else return undefined;
    value = value * 16 + digit;
  }
  return value;
}

/** Parses into eight 16-bit groups; zone indices (`%eth0`) are refused: they never identify a remote client. */
export function parseIpv6(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseSide = (side: string, mayEndInIpv4: boolean): number[] | undefined => {
    if (side === '') return [];
    const pieces = side.split(':');
    const groups: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (mayEndInIpv4 && i === pieces.length - 1 && piece.includes('.')) {
        const ipv4 = parseIpv4(piece);
        if (ipv4 < 0) return undefined;
        groups.push(Math.floor(ipv4 / 0x10000), ipv4 % 0x10000);
      } else {
        const group = parseHexGroup(piece);
        if (group === undefined) return undefined;
        groups.push(group);
      }
    }
    return groups;
  };
  if (halves.length === 1) {
    const groups = parseSide(halves[0], true);
    return groups && groups.length === 8 ? groups : undefined;
  }
  const head = parseSide(halves[0], false);
  const tail = parseSide(halves[1], true);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The canonical text of eight 16-bit groups (RFC 5952, IPv4-mapped in dotted form). */
export function formatIpv6(groups: number[]): string {
  const isIpv4Mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (isIpv4Mapped) {
    return `::ffff:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  // RFC 5952 4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** IPv4 before IPv6, IPv4 in numeric order: the order an operator scans a map in. */
export function compareAddresses(a: string, b: string): number {
  const aFamily = ipFamily(a);
  if (aFamily !== ipFamily(b)) return aFamily === 'ipv6' ? 1 : -1;
  if (aFamily === 'ipv4') return parseIpv4(a) - parseIpv4(b);
  return a < b ? -1 : a > b ? 1 : 0;
}
