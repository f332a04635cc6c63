/**
 * The banned clients as firewall sets: a file for `nft -f` and one for
 * `ipset restore`. Pure, like map-file.ts: the run writes the text only when
 * it changed, and ON_CHANGE loads it.
 *
 * Each family has a set of its own (an nft set has one type, an ipset one
 * family): `NAME4` and `NAME6` for ipset, `banned4` and `banned6` in the nft
 * table `inet NAME`.
 */
import { canonicalizeIp, ipFamily, parseIpv6 } from '../address/ip-address.js';

/** The sets' contents: networks and single addresses, none inside another, in address order. */
export interface FirewallEntries {
  ipv4: string[];
  ipv6: string[];
}

interface Range {
  family: 'ipv4' | 'ipv6';
  start: bigint;
  prefix: number;
}

/**
 * What the firewall drops: every banned address and every blacklisted
 * network. An entry inside another is left out, because nft refuses
 * overlapping elements in an interval set ("interval overlaps") and ipset
 * would only hold it twice. IPv4-mapped IPv6 entries are written as IPv4:
 * the packets of such a client arrive as IPv4.
 */
export function firewallEntries(banned: Iterable<string>, blacklist: readonly string[]): FirewallEntries {
  const ranges = new Map<string, Range>();
  for (const entry of [...banned, ...blacklist.filter((listed) => listed.includes('/'))]) {
    const range = toRange(entry);
    ranges.set(`${range.family} ${range.start} ${range.prefix}`, range);
  }
  // CIDR blocks are nested or apart: after sorting by start, widest first, a block that starts inside the last kept one lies inside it.
  const sorted = [...ranges.values()].sort((a, b) => (a.family !== b.family ? (a.family === 'ipv4' ? -1 : 1) : a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.prefix - b.prefix));
  const entries: FirewallEntries = { ipv4: [], ipv6: [] };
  let kept: Range | undefined;
  for (const range of sorted) {
    if (kept && kept.family === range.family && range.start <= lastOf(kept)) continue;
    kept = range;
    entries[range.family].push(formatRange(range));
  }
  return entries;
}

const bits = (family: 'ipv4' | 'ipv6') => (family === 'ipv4' ? 32 : 128);

function lastOf(range: Range): bigint {
  return range.start + (1n << BigInt(bits(range.family) - range.prefix)) - 1n;
}

const MAPPED_PREFIX = 0xffffn << 32n;

function toRange(entry: string): Range {
  const [address, prefixText] = entry.split('/');
  const family = ipFamily(address);
  const prefix = prefixText === undefined ? bits(family) : Number(prefixText);
  if (family === 'ipv4') return { family, start: BigInt(address.split('.').reduce((value, part) => value * 256 + Number(part), 0)), prefix };
  const start = (parseIpv6(address) as number[]).reduce((value, group) => (value << 16n) | BigInt(group), 0n);
  if (prefix >= 96 && start >> 32n === MAPPED_PREFIX >> 32n) return { family: 'ipv4', start: start & 0xffffffffn, prefix: prefix - 96 };
  return { family, start, prefix };
}

function formatRange(range: Range): string {
  const address =
    range.family === 'ipv4'
      ? [24n, 16n, 8n, 0n].map((shift) => (range.start >> shift) & 0xffn).join('.')
      : (canonicalizeIp(Array.from({ length: 8 }, (_, i) => ((range.start >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')) as string);
  return range.prefix === bits(range.family) ? address : `${address}/${range.prefix}`;
}

/**
 * The nft file: declares the table and both sets (so that it applies on a
 * machine where they do not exist yet), then flushes and refills them. `nft
 * -f` applies a file as one transaction, so no packet ever sees a set half
 * refilled or empty.
 */
export function renderNftSets(entries: FirewallEntries, name: string): string {
  const lines = [
    `# The clients ipanalyse bans, for \`nft -f\`; rewritten by ipanalyse when they change, do not edit.`,
    `table inet ${name} {`,
    `\tset banned4 { type ipv4_addr; flags interval; }`,
    `\tset banned6 { type ipv6_addr; flags interval; }`,
    `}`,
    `flush set inet ${name} banned4`,
    `flush set inet ${name} banned6`,
  ];
  for (const [set, elements] of [['banned4', entries.ipv4], ['banned6', entries.ipv6]] as const) {
    // An empty element list is a syntax error: an empty set is only flushed.
    if (elements.length > 0) lines.push(`add element inet ${name} ${set} {`, `\t${elements.join(',\n\t')}`, `}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Every ipset created here gets the same parameters, because a swapped-in set
 * keeps its own and `create -exist` fails on a set that differs. Memory grows
 * with the entries, not with this cap.
 */
export const IPSET_MAXELEM = 4 * 1024 * 1024;

/**
 * The `ipset restore` file: each family's set is refilled as a fresh one and
 * swapped in whole, since ipset has no transaction; an iptables rule matching
 * the set sees the old members or the new ones.
 */
export function renderIpsetRestore(entries: FirewallEntries, name: string): string {
  const lines = [`# The clients ipanalyse bans, for \`ipset restore\`; rewritten by ipanalyse when they change, do not edit.`];
  for (const [suffix, family, elements] of [['4', 'inet', entries.ipv4], ['6', 'inet6', entries.ipv6]] as const) {
    const set = `${name}${suffix}`;
    const next = `${set}-next`;
    const create = `hash:net family ${family} maxelem ${IPSET_MAXELEM} -exist`;
    lines.push(`create ${set} ${create}`, `create ${next} ${create}`, `flush ${next}`);
    for (const element of elements.flatMap(splitZeroPrefix)) lines.push(`add ${next} ${element}`);
    lines.push(`swap ${next} ${set}`, `destroy ${next}`);
  }
  return `${lines.join('\n')}\n`;
}

/** hash:net refuses a /0; its two halves hold the same addresses. */
function splitZeroPrefix(element: string): string[] {
  if (element === '0.0.0.0/0') return ['0.0.0.0/1', '128.0.0.0/1'];
  if (element === '::/0') return ['::/1', '8000::/1'];
  return [element];
}
