/**
 * What a client is, for counting: its address, or the network it owns
 * (IPV6_PREFIX, IPV4_PREFIX). An IPv6 client owns at least a /64 and can send
 * every request from a new address in it; counted per address it is never
 * throttled. Pure.
 */
import { formatIpv6, ipFamily, parseIpv4, parseIpv6 } from './ip-address.js';
import { unmapIpv4 } from './prefix-table.js';

export interface ClientPrefixes {
  ipv4: number;
  ipv6: number;
}

/** Per address, as the original counts: IPv4 /32, IPv6 /128. */
export const PER_ADDRESS: ClientPrefixes = { ipv4: 32, ipv6: 128 };

export function countsPerAddress(prefixes: ClientPrefixes): boolean {
  return prefixes.ipv4 === 32 && prefixes.ipv6 === 128;
}

/**
 * The key a canonical address is counted under: the address itself per
 * address (today's maps, byte for byte, mapped addresses included, as
 * nginx's `map` and Apache's `txt:` look up the address as logged); else its
 * network in canonical CIDR (`2001:db8:1:2::/64`), a full-length prefix as
 * the plain address, and an IPv4-mapped client as its IPv4 form, since
 * nginx's `geo` looks mapped clients up among the IPv4 entries.
 */
export function clientKeyFunction(prefixes: ClientPrefixes): (address: string) => string {
  if (countsPerAddress(prefixes)) return (address) => address;
  // Called once per new address of a flood: the groups are masked as numbers, no bit loop, no second parse.
  const v4Mask = prefixes.ipv4 === 0 ? 0 : (0xffffffff << (32 - prefixes.ipv4)) >>> 0;
  return (address) => {
    const plain = unmapIpv4(address);
    if (ipFamily(plain) === 'ipv4') {
      if (prefixes.ipv4 === 32) return plain;
      const v = (parseIpv4(plain) & v4Mask) >>> 0;
      return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${prefixes.ipv4}`;
    }
    if (prefixes.ipv6 === 128) return plain;
    const groups = parseIpv6(plain) as number[];
    for (let i = 0; i < 8; i++) {
      const keep = Math.max(0, Math.min(16, prefixes.ipv6 - 16 * i));
      groups[i] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
    }
    return `${formatIpv6(groups)}/${prefixes.ipv6}`;
  };
}
