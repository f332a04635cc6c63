import fs from 'node:fs';

/** A file's text, or undefined when there is no such file. */
export function readIfExists(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
}
