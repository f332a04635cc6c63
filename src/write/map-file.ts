/**
 * The map file's text: what the web server reads. Pure.
 *
 * Apache's `RewriteMap txt:` (or bin/ipanalyse-lookup) reads `KEY STATE`
 * lines; an nginx `map` or `geo` include needs each to end in `;`. Both ignore
 * `#` comments. A key is an address or, when clients are counted per network,
 * a network in canonical CIDR form; `KEY www` lines are the whitelist's
 * exceptions inside a restricted network (see whitelistExceptions).
 */
import { compareAddresses } from '../address/ip-address.js';
import { parseListEntry, type ListEntry } from '../address/address-list.js';
import { buildPrefixTable, splitEntry, unmapIpv4 } from '../address/prefix-table.js';
import type { MapState } from '../decide/policy.js';

export type MapFormat = 'apache' | 'nginx';
export const MAP_FORMATS: readonly MapFormat[] = ['apache', 'nginx'];

/** What a key can be mapped to: a state, or `www` for an exception that lets a whitelisted client through. */
export type MapValue = MapState | 'www';
const MAP_VALUES: ReadonlySet<string> = new Set<MapValue>(['bulk', 'block', 'ban', 'www']);

export interface ParsedMap {
  /** Addresses and networks (canonical ListEntry form) with their state. */
  states: Map<ListEntry, MapState>;
  /** The keys written `www`: exceptions, rebuilt by every run from the whitelist, never a state. */
  exceptions: ListEntry[];
  /** One message per line that was skipped, `LINE: why`. */
  warnings: string[];
}

/**
 * Reads a previous map leniently: comments, blank lines and a trailing `;`
 * are fine; a malformed line is skipped with a warning, never fatal, because
 * a hand-edited map must not stop the next run from repairing it.
 */
export function parseMap(text: string): ParsedMap {
  const states = new Map<ListEntry, MapState>();
  const exceptions: ListEntry[] = [];
  const warnings: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i].indexOf('#');
    let line = (hash >= 0 ? lines[i].slice(0, hash) : lines[i]).trim();
    if (line.endsWith(';')) line = line.slice(0, -1).trimEnd();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    const key = fields.length === 2 ? parseListEntry(fields[0]) : undefined;
    if (key === undefined || !('entry' in key) || !MAP_VALUES.has(fields[1])) {
      warnings.push(`${i + 1}: ignoring malformed line '${printable(lines[i])}'`);
      continue;
    }
    if (fields[1] === 'www') exceptions.push(key.entry);
    else states.set(key.entry, fields[1] as MapState);
  }
  return { states, exceptions, warnings };
}

function printable(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}

/**
 * The order of keys in the map and the geo include: by address (as
 * compareAddresses), an address before the networks that start with it,
 * wider networks first. With addresses only, this is compareAddresses.
 */
export function compareMapKeys(a: ListEntry, b: ListEntry): number {
  const left = splitEntry(a);
  const right = splitEntry(b);
  return compareAddresses(left.address, right.address) || Number(b === right.address) - Number(a === left.address) || left.prefix - right.prefix;
}

/**
 * Renders the map sorted by key (compareMapKeys), so that the same decisions
 * always give the same bytes and an unchanged map is never rewritten.
 * `exceptions` (see whitelistExceptions) are written `KEY www`; a key that
 * also has a state keeps its state.
 */
export function renderMap(states: ReadonlyMap<ListEntry, MapState>, format: MapFormat, exceptions: readonly ListEntry[] = []): string {
  const end = format === 'nginx' ? ';\n' : '\n';
  const values = new Map<ListEntry, MapValue>(states);
  for (const key of exceptions) if (!values.has(key)) values.set(key, 'www');
  let text = '';
  for (const key of [...values.keys()].sort(compareMapKeys)) text += `${key} ${values.get(key)}${end}`;
  return text;
}

/**
 * The whitelist entries that lie inside a restricted network of `states`,
 * to be written `ENTRY www`: both servers take the most specific key that
 * holds a client (nginx's geo, bin/ipanalyse-lookup), so the whitelisted
 * address or network is let through while the rest of the network is not.
 * IPv4-mapped entries come out in their IPv4 form, the one geo matches.
 * Empty when `states` holds no network, so a per-address map never changes.
 * A restricted key inside a whitelisted network cannot be excepted this way
 * (the wider `www` loses): the plan must not restrict it in the first place.
 */
export function whitelistExceptions(states: ReadonlyMap<ListEntry, MapState>, whitelist: readonly ListEntry[]): ListEntry[] {
  const networks = [...states].filter(([key]) => key.includes('/'));
  if (networks.length === 0) return [];
  const restricted = buildPrefixTable(networks);
  const exceptions = new Set<ListEntry>();
  for (const entry of whitelist.map(unmapIpv4)) {
    const { address, prefix } = splitEntry(entry);
    if (!states.has(entry) && restricted.match(address, prefix) !== undefined) exceptions.add(entry);
  }
  return [...exceptions];
}

/**
 * The nginx `geo` include of the blacklist, for a `map` include that cannot
 * match a network. Use as `geo $ipanalyse_banned { default 0; include FILE; }`.
 */
export function renderGeo(blacklist: readonly string[]): string {
  return [...blacklist]
    .sort(compareMapKeys)
    .map((entry) => `${entry} 1;\n`)
    .join('');
}

export function countStates(states: ReadonlyMap<string, MapState>): Record<MapState, number> {
  const counts: Record<MapState, number> = { bulk: 0, block: 0, ban: 0 };
  for (const state of states.values()) counts[state]++;
  return counts;
}
