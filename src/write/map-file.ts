/**
 * The map file's text: what the web server reads. Pure.
 *
 * Apache's `RewriteMap txt:` reads `ADDRESS STATE` lines; an nginx `map`
 * include needs each to end in `;`. Both ignore `#` comments.
 */
import { canonicalizeIp, compareAddresses } from '../address/ip-address.js';
import type { MapState } from '../decide/policy.js';

export type MapFormat = 'apache' | 'nginx';
export const MAP_FORMATS: readonly MapFormat[] = ['apache', 'nginx'];

const MAP_STATES: ReadonlySet<string> = new Set<MapState>(['bulk', 'block', 'ban']);

export interface ParsedMap {
  states: Map<string, MapState>;
  /** One message per line that was skipped, `LINE: why`. */
  warnings: string[];
}

/**
 * Reads a previous map leniently: comments, blank lines and a trailing `;`
 * are fine; a malformed line is skipped with a warning, never fatal, because
 * a hand-edited map must not stop the next run from repairing it.
 */
export function parseMap(text: string): ParsedMap {
  const states = new Map<string, MapState>();
  const warnings: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i].indexOf('#');
    let line = (hash >= 0 ? lines[i].slice(0, hash) : lines[i]).trim();
    if (line.endsWith(';')) line = line.slice(0, -1).trimEnd();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    const address = fields.length === 2 ? canonicalizeIp(fields[0]) : undefined;
    if (fields.length !== 2 || address === undefined || !MAP_STATES.has(fields[1])) {
      warnings.push(`${i + 1}: ignoring malformed line '${printable(lines[i])}'`);
      continue;
    }
    states.set(address, fields[1] as MapState);
  }
  return { states, warnings };
}

function printable(text: string): string {
  const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Renders the map sorted by address, so that the same decisions always give
 * the same bytes and an unchanged map is never rewritten.
 */
export function renderMap(states: ReadonlyMap<string, MapState>, format: MapFormat): string {
  const end = format === 'nginx' ? ';\n' : '\n';
  const addresses = [...states.keys()].sort(compareAddresses);
  let text = '';
  for (const address of addresses) text += `${address} ${states.get(address)}${end}`;
  return text;
}

/**
 * The nginx `geo` include of the blacklist: `map` cannot match a network,
 * `geo` can. Use as `geo $ipanalyse_banned { default 0; include FILE; }`.
 */
export function renderGeo(blacklist: readonly string[]): string {
  const host = (entry: string) => entry.split('/')[0];
  return [...blacklist]
    .sort((a, b) => compareAddresses(host(a), host(b)) || a.length - b.length)
    .map((entry) => `${entry} 1;\n`)
    .join('');
}

export function countStates(states: ReadonlyMap<string, MapState>): Record<MapState, number> {
  const counts: Record<MapState, number> = { bulk: 0, block: 0, ban: 0 };
  for (const state of states.values()) counts[state]++;
  return counts;
}
