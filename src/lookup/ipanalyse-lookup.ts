/**
 * bin/ipanalyse-lookup MAPFILE: Apache's `RewriteMap prg:` helper. Apache
 * starts it once and writes one client address per line to its stdin under
 * the rewrite-map mutex, then waits for one line back; so every answer is
 * written at once, and a lookup never waits for anything but a stat.
 */
import { readFileSync, statSync } from 'node:fs';
import readline from 'node:readline';
import { parseMap } from '../write/map-file.js';
import { buildMapLookup, NOT_FOUND } from './map-lookup.js';

const mapFile = process.argv[2];
if (mapFile === undefined || process.argv.length > 3) {
  process.stderr.write('usage: ipanalyse-lookup MAPFILE (as RewriteMap NAME "prg:/.../bin/ipanalyse-lookup MAPFILE")\n');
  process.exit(64);
}

// The map is replaced by rename, so a new inode (or mtime, or size) is a new map,
// as Apache's txt: maps are reread when their mtime changes.
let loadedVersion = '';
let lookup: (line: string) => string = () => NOT_FOUND;
let lastProblem = '';

/** Stderr is Apache's error log: each problem once, not once per request. */
function complain(problem: string): void {
  if (problem !== lastProblem) process.stderr.write(`ipanalyse-lookup: ${problem}\n`);
  lastProblem = problem;
}

function currentLookup(): (line: string) => string {
  try {
    const stat = statSync(mapFile);
    const version = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (version !== loadedVersion) {
      const parsed = parseMap(readFileSync(mapFile, 'utf8'));
      lookup = buildMapLookup(parsed);
      loadedVersion = version;
      lastProblem = '';
      for (const warning of parsed.warnings) process.stderr.write(`ipanalyse-lookup: ${mapFile}:${warning}\n`);
    }
  } catch (error) {
    // Keeping the last map restricts what it restricted; with none yet, everyone is www, as with an empty map.
    complain(`cannot read ${mapFile} (${(error as Error).message}); answering from the last map read`);
  }
  return lookup;
}

// Apache gone: nothing left to answer.
process.stdout.on('error', () => process.exit(0));
readline.createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
  process.stdout.write(`${currentLookup()(line)}\n`);
});
