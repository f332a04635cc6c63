/**
 * Longest-prefix match over addresses and networks, as nginx's `geo` does it:
 * the most specific entry that holds an address decides. Pure.
 */
import { canonicalizeIp, ipFamily } from './ip-address.js';
import { networkAddress, type ListEntry } from './address-list.js';

const MAPPED = '::ffff:';

/**
 * The IPv4 form of an IPv4-mapped address or network (`::ffff:192.0.2.7` is
 * `192.0.2.7`, `::ffff:192.0.2.0/120` is `192.0.2.0/24`); any other entry as
 * it is. nginx's geo looks a mapped client up among the IPv4 entries, so a
 * mapped client and its IPv4 form are one key, for both servers.
 */
export function unmapIpv4(entry: ListEntry): ListEntry {
  if (!entry.startsWith(MAPPED) || !entry.includes('.')) return entry;
  const [address, prefixText] = entry.slice(MAPPED.length).split('/');
  if (prefixText === undefined) return address;
  const prefix = Number(prefixText) - 96;
  if (prefix < 0) return entry;
  return prefix === 32 ? address : `${address}/${prefix}`;
}

/** The entry's address and prefix length; a plain address is its family's full length. */
export function splitEntry(entry: ListEntry): { address: string; prefix: number } {
  const slash = entry.indexOf('/');
  if (slash >= 0) return { address: entry.slice(0, slash), prefix: Number(entry.slice(slash + 1)) };
  return { address: entry, prefix: ipFamily(entry) === 'ipv6' ? 128 : 32 };
}

export interface PrefixTable<V> {
  /**
   * The value of the longest entry holding `address` (canonical, or any
   * spelling canonicalizeIp accepts), or undefined. With `shorterThan`, only
   * entries with a shorter prefix count: what holds a network from outside.
   */
  match(address: string, shorterThan?: number): V | undefined;
}

/**
 * Builds the table from canonical entries (see parseListEntry). A lookup
 * probes each prefix length in use, longest first, with one hash lookup each:
 * a map holds a handful of lengths, whatever its number of entries.
 */
export function buildPrefixTable<V>(entries: Iterable<readonly [ListEntry, V]>): PrefixTable<V> {
  const byFamily = { ipv4: new Map<number, Map<string, V>>(), ipv6: new Map<number, Map<string, V>>() };
  for (const [entry, value] of entries) {
    const { address, prefix } = splitEntry(unmapIpv4(entry));
    const byPrefix = byFamily[ipFamily(address)];
    if (!byPrefix.has(prefix)) byPrefix.set(prefix, new Map());
    byPrefix.get(prefix)!.set(address, value);
  }
  const lengths = {
    ipv4: [...byFamily.ipv4.keys()].sort((a, b) => b - a),
    ipv6: [...byFamily.ipv6.keys()].sort((a, b) => b - a),
  };
  return {
    match(raw, shorterThan = Infinity) {
      const canonical = canonicalizeIp(raw);
      if (canonical === undefined) return undefined;
      const address = unmapIpv4(canonical);
      const family = ipFamily(address);
      const full = family === 'ipv6' ? 128 : 32;
      for (const prefix of lengths[family]) {
        if (prefix >= shorterThan) continue;
        const value = byFamily[family].get(prefix)!.get(prefix === full ? address : networkAddress(address, prefix, family));
        if (value !== undefined) return value;
      }
      return undefined;
    },
  };
}
