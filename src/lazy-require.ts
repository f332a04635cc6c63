/**
 * A module of Node's, required the first time it is asked for: for those a
 * cron run seldom needs, which took it a millisecond or more each to load.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load(id) as T);
}
