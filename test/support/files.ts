import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A file's text, or undefined when there is no such file. */
export function readIfExists(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
}

/** Runs `body` in a new directory of the system's temporary one (its name starting with `prefix`), removed after it whatever happens. */
export async function withScratchDirectory<T>(prefix: string, body: (root: string) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return await body(root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
