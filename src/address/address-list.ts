/**
 * Whitelists and blacklists of addresses and networks (CIDR), matched with
 * Node's own net.BlockList. The read stage also asks of a new client's IPv4
 * address as a number, before it is a string: for that alone, the lists'
 * IPv4 part as sorted ranges, checked against BlockList by a property test.
 */
import type { BlockList } from 'node:net';
import { lazyRequire } from '../lazy-require.js';
import { canonicalizeIp, formatIpv6, ipFamily, parseIpv4, parseIpv6 } from './ip-address.js';

// Loaded with the first network listed: most cron runs list none.
const net = lazyRequire<typeof import('node:net')>('node:net');

/** A list entry in canonical form: an address, or a network `address/prefix` with no host bits set. */
export type ListEntry = string;

/**
 * Canonicalises one list entry. Returns the entry, or a message saying why it
 * is not an address or network (host bits set in a network are refused, with
 * the network that was probably meant).
 */
export function parseListEntry(text: string): { entry: ListEntry } | { problem: string } {
  const slash = text.indexOf('/');
  if (slash < 0) {
    const address = canonicalizeIp(text);
    return address ? { entry: address } : { problem: `'${text}' is not an IPv4 or IPv6 address or network` };
  }
  const address = canonicalizeIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  const family = address ? ipFamily(address) : 'ipv4';
  const maxPrefix = family === 'ipv6' ? 128 : 32;
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!address || !(prefix >= 0 && prefix <= maxPrefix)) return { problem: `'${text}' is not an IPv4 or IPv6 address or network` };
  const network = networkAddress(address, prefix, family);
  if (network !== address) return { problem: `'${text}' has host bits set; the network is ${network}/${prefix}` };
  return { entry: prefix === maxPrefix ? address : `${address}/${prefix}` };
}

/**
 * The canonical network address of the canonical `address`'s /`prefix`: its
 * host bits cleared, as numbers. Every new client of a map counted per
 * network comes here, and each lookup of a map's networks once per length.
 */
export function networkAddress(address: string, prefix: number, family: 'ipv4' | 'ipv6'): string {
  if (family === 'ipv4') {
    const v = (parseIpv4(address) & (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)) >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups = parseIpv6(address) as number[];
  for (let i = 0; i < 8; i++) groups[i] &= groupMask(prefix, i);
  return formatIpv6(groups);
}

/** The bits of IPv6 group `i` (of 8, 16 bits each) that a /`prefix` keeps. */
function groupMask(prefix: number, i: number): number {
  const keep = Math.max(0, Math.min(16, prefix - 16 * i));
  return keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
}

export interface AddressList {
  /** The single addresses, canonical. */
  addresses: string[];
  /** The networks, `address/prefix`. */
  networks: string[];
  /** True when the canonical address is listed or lies in a listed network. */
  has(address: string): boolean;
  /**
   * As has(), for an IPv4 address given as its 32-bit number (parseIpv4):
   * a new client, read without a string. An IPv6 network holds the IPv4
   * addresses mapped into it (::ffff:0:0/96), as net.BlockList matches them.
   */
  hasIpv4(value: number): boolean;
}

/** Builds a list from canonical entries (see parseListEntry). */
export function buildAddressList(entries: readonly ListEntry[]): AddressList {
  const addresses = new Set<string>();
  const networks: string[] = [];
  let blocks: BlockList | undefined;
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    if (slash < 0) {
      addresses.add(entry);
      continue;
    }
    const network = entry.slice(0, slash);
    blocks ??= new (net().BlockList)();
    blocks.addSubnet(network, Number(entry.slice(slash + 1)), ipFamily(network));
    networks.push(entry);
  }
  // Made when first asked for: the plan's lists and explain never ask.
  let ipv4: Ranges | undefined;
  return {
    addresses: [...addresses],
    networks,
    has: (address) => addresses.has(address) || (blocks !== undefined && blocks.check(address, ipFamily(address))),
    hasIpv4: (value) => inRanges((ipv4 ??= ipv4RangesOf(entries)), value),
  };
}

const IPV4_MAPPED = [0, 0, 0, 0, 0, 0xffff];

/** Sorted, without overlaps: starts[i] to ends[i], both included. */
interface Ranges {
  starts: Uint32Array;
  ends: Uint32Array;
}

/** The IPv4 addresses `entries` hold: their own, their networks', and those IPv6 networks hold mapped. */
function ipv4RangesOf(entries: readonly ListEntry[]): Ranges {
  const ranges: [number, number][] = [];
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    // A single IPv6 address is matched as written (has), never as the IPv4 address it may map.
    const range = slash >= 0 ? ipv4RangeOf(entry.slice(0, slash), Number(entry.slice(slash + 1))) : ipFamily(entry) === 'ipv4' ? ipv4RangeOf(entry, 32) : undefined;
    if (range) ranges.push(range);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return { starts: Uint32Array.from(merged, ([start]) => start), ends: Uint32Array.from(merged, ([, end]) => end) };
}

/** The IPv4 addresses in the canonical network `network`/`prefix`, as a range of numbers, or undefined for none. */
function ipv4RangeOf(network: string, prefix: number): [number, number] | undefined {
  if (ipFamily(network) === 'ipv4') {
    const start = parseIpv4(network);
    return [start, (start + 2 ** (32 - prefix) - 1) >>> 0];
  }
  // An IPv6 network: the part of ::ffff:0:0/96 it covers.
  const groups = parseIpv6(network) as number[];
  for (let i = 0; i < IPV4_MAPPED.length; i++) if ((groups[i] & groupMask(prefix, i)) !== (IPV4_MAPPED[i] & groupMask(prefix, i))) return undefined;
  if (prefix <= 96) return [0, 0xffffffff];
  const low = ((groups[6] << 16) | groups[7]) >>> 0;
  return [low, (low + 2 ** (128 - prefix) - 1) >>> 0];
}

function inRanges({ starts, ends }: Ranges, value: number): boolean {
  // The last range starting at or before the value.
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (starts[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low > 0 && value <= ends[low - 1];
}

// Addresses that are not on the public Internet (IANA's special-purpose
// registries): a client there is a proxy, a monitor or a test, never one to throttle.
const NON_GLOBAL_NETWORKS: readonly ListEntry[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/127',
  '100::/64',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];
let nonGlobal: AddressList | undefined;
const nonGlobalList = () => (nonGlobal ??= buildAddressList(NON_GLOBAL_NETWORKS));

/** True for private, loopback, link-local, shared (CGN), multicast and reserved addresses. */
export function isNonGlobal(address: string): boolean {
  return nonGlobalList().has(address);
}

/** As isNonGlobal, for an IPv4 address given as its 32-bit number. */
export function isNonGlobalIpv4(value: number): boolean {
  return nonGlobalList().hasIpv4(value);
}

/**
 * Parses a list file's lines: one address or network per line, `#` comments,
 * blank lines. Problems are `FILE:LINE: message`. Takes the lines one by one
 * (an iterable, sync or async) so that a long list is never one string.
 */
export async function parseListLines(lines: AsyncIterable<string> | Iterable<string>, file: string): Promise<{ entries: ListEntry[]; problems: string[] }> {
  const entries: ListEntry[] = [];
  const problems: string[] = [];
  let number = 0;
  for await (const raw of lines) {
    number++;
    const hash = raw.indexOf('#');
    const entryText = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (entryText === '') continue;
    const parsed = parseListEntry(entryText);
    if ('entry' in parsed) entries.push(parsed.entry);
    else problems.push(`${file}:${number}: ${parsed.problem}`);
  }
  return { entries, problems };
}
