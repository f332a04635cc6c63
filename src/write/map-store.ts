/**
 * The map files on disk: the map the web server reads and the nginx geo
 * include. The one module that reads or writes them; their text is made in
 * map-file.ts.
 */
import fs from 'node:fs';
import { OutputError, describeSystemError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';

/** A map file's text, or undefined when there is none yet. */
export function readMapText(mapFile: string): string | undefined {
  try {
    return fs.readFileSync(mapFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OutputError(`cannot read the previous map ${describeSystemError(error, mapFile)}`);
  }
}

/** The map's text with the time it last changed, for `status`; undefined when there is no map. */
export function readMapWithAge(mapFile: string): { text: string; modified: Date } | undefined {
  const text = readMapText(mapFile);
  // Stat after reading: a run renaming a new map over it in between only makes the time a little newer.
  const modified = text === undefined ? undefined : fs.statSync(mapFile, { throwIfNoEntry: false })?.mtime;
  return text !== undefined && modified ? { text, modified } : undefined;
}

/** Writes `content` to `file` unless it already holds exactly that; true when it wrote. */
export function writeIfChanged(file: string, content: string): boolean {
  if (readMapText(file) === content) return false;
  writeFileAtomic(file, content);
  return true;
}
