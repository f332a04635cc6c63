/**
 * The map files on disk: the map the web server reads and the nginx geo
 * include. The one module that reads or writes them; their text is made in
 * map-file.ts.
 */
import { statSync } from 'node:fs';
import { type ExitError, OutputError, describeSystemError } from '../errors.js';
import { readBoundedFile } from '../read/bounded-file.js';
import { writeFileAtomic } from './atomic-write.js';

/** A million clients take about 30 MiB; a map far larger is not one this tool wrote. */
const MAX_MAP_BYTES = 256 * 1024 * 1024;

/** A map file's text, or undefined when there is none yet; refuses what is not a regular file of sane size. */
export function readMapText(mapFile: string): string | undefined {
  try {
    return readBoundedFile(mapFile, MAX_MAP_BYTES, 'a map').toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OutputError(`cannot read the map ${describeSystemError(error, mapFile)}`, { cause: error });
  }
}

/**
 * The previous map for a run. One too large to be ours is not a reason to
 * fail every run for ever: it is left out, with a warning, and the run
 * writes a new map from the log. (Malformed lines are skipped by parseMap.)
 */
export function readPreviousMap(mapFile: string): { text: string | undefined; warning?: string } {
  try {
    return { text: readMapText(mapFile) };
  } catch (error) {
    const cause = (error as ExitError).cause as NodeJS.ErrnoException | undefined;
    if (cause?.code !== 'ETOOLARGE') throw error;
    return { text: undefined, warning: `ignoring the previous map ${describeSystemError(cause, mapFile)}: rebuilding it from the log` };
  }
}

/** The map's text with the time it last changed, for `status`; undefined when there is no map. */
export function readMapWithAge(mapFile: string): { text: string; modified: Date } | undefined {
  const text = readMapText(mapFile);
  // Stat after reading: a run renaming a new map over it in between only makes the time a little newer.
  const modified = text === undefined ? undefined : statSync(mapFile, { throwIfNoEntry: false })?.mtime;
  return text !== undefined && modified ? { text, modified } : undefined;
}

/** Writes `content` to `file` unless it already holds exactly that; true when it wrote. */
export function writeIfChanged(file: string, content: string): boolean {
  if (readMapText(file) === content) return false;
  writeFileAtomic(file, content);
  return true;
}
