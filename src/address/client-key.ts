/**
 * What a client is, for counting: its address, or the network it owns
 * (IPV6_PREFIX, IPV4_PREFIX). An IPv6 client owns at least a /64 and can send
 * every request from a new address in it; counted per address it is never
 * throttled. Pure.
 */
import { networkAddress } from './address-list.js';
import { ipFamily } from './ip-address.js';
import { unmapIpv4 } from './prefix-table.js';

export interface ClientPrefixes {
  ipv4: number;
  ipv6: number;
}

/** Per address, as the original counts: IPv4 /32, IPv6 /128. */
export const PER_ADDRESS: ClientPrefixes = { ipv4: 32, ipv6: 128 };

export function countsPerAddress(prefixes: ClientPrefixes): boolean {
  return keepsIpv4Addresses(prefixes) && prefixes.ipv6 === 128;
}

/** Whether every IPv4 address is its own key, as clientKeyFunction makes them: a dotted quad needs no string to be counted. */
export function keepsIpv4Addresses(prefixes: ClientPrefixes): boolean {
  return prefixes.ipv4 === 32;
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
  return (address) => {
    const plain = unmapIpv4(address);
    const family = ipFamily(plain);
    const prefix = prefixes[family];
    return prefix === (family === 'ipv4' ? 32 : 128) ? plain : `${networkAddress(plain, prefix, family)}/${prefix}`;
  };
}
