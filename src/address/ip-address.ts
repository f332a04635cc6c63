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

/** Returns the canonical form of an IPv4 or IPv6 address, or undefined if `raw` is not one. */
export function canonicalizeIp(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > MAX_ADDRESS_LENGTH) return undefined;
  if (ipFamily(raw) === 'ipv6') {
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
/** The 32-bit value of a dotted quad (unsigned), or NaN. */
export function parseIpv4(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : DOT; // the end closes the last part
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
