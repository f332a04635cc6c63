import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from the compiled test's place in dist/test/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = path.join(REPO_ROOT, 'fixtures');
export const CLI = path.join(REPO_ROOT, 'bin/ipanalyse');
export const REFERENCE_SCRIPT = path.resolve(REPO_ROOT, '../shared/reference/nominatim-cron_ipanalyse.py.txt');
export const RUN_ORIGINAL = path.join(REPO_ROOT, 'test/support/run-original.py');
