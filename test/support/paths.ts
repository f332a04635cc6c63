import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from the compiled test's place in dist/test/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = path.join(REPO_ROOT, 'fixtures');
export const CLI = path.join(REPO_ROOT, 'bin/ipanalyse');
