// Writes dist/ipanalyse.cjs.cache, the V8 code cache bin/ipanalyse compiles the bundle from, by running the bundled
// example once as `npm start` does, but as a dry run into a scratch directory: the cache holds the functions an
// analysis compiles, not only those of the start.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-code-cache-'));
try {
  fs.rmSync(path.join(root, 'dist/ipanalyse.cjs.cache'), { force: true });
  const example = path.join(root, 'fixtures/example');
  const run = spawnSync(
    process.execPath,
    [path.join(root, 'bin/ipanalyse'), '--settings', path.join(example, 'ip_blocks.conf'), '--map', path.join(scratch, 'ip_blocks.map'), '--changelog', path.join(scratch, 'restricted_ip.log'), '--now', '2026-11-20 12:00:00', '--loadavg', '2.5', '--dry-run', '--verbose', path.join(example, 'access.log')],
    { env: { ...process.env, TZ: 'UTC', IPANALYSE_WRITE_CODE_CACHE: '1' }, encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`the example run that fills the code cache failed (exit ${run.status}): ${run.stderr.trim()}`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
