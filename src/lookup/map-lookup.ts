/**
 * The answers of bin/ipanalyse-lookup, Apache's `RewriteMap prg:` helper: a
 * client address in, the value of the map's most specific key holding it
 * out, as nginx's geo answers from the same file. Pure.
 */
import { buildPrefixTable } from '../address/prefix-table.js';
import type { MapValue, ParsedMap } from '../write/map-file.js';

/** What mod_rewrite takes for "no such key": it then uses the lookup's default (`|www`). */
export const NOT_FOUND = 'NULL';

/** Returns the function that answers one lookup line (without its newline): a state, `www`, or NOT_FOUND. */
export function buildMapLookup(map: ParsedMap): (line: string) => string {
  // As in renderMap, a key that is both an exception and a state keeps its state.
  const table = buildPrefixTable<MapValue>([...map.exceptions.map((key) => [key, 'www'] as const), ...map.states]);
  return (line) => table.match(line.trim()) ?? NOT_FOUND;
}
