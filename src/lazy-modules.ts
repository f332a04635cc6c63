/**
 * Node's modules that most runs never use, loaded when first asked for: zlib
 * for a compressed generation, child_process for ON_CHANGE. Loaded at the
 * start, they took a cron run 1.5 ms.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(id) as T);
}

export const zlib = lazy<typeof import('node:zlib')>('node:zlib');
export const childProcess = lazy<typeof import('node:child_process')>('node:child_process');
