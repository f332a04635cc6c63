/**
 * A copy of the installation in a world-readable directory, for the
 * processes a test runs as another user (nobody, www-data, Apache's prg:
 * helper): the clone may sit where they cannot enter, as in root's 0700
 * home. What a run needs: the CLI and the lookup helper with their bundles,
 * the package.json files (the base directory's, and bin's, which makes the CLI
 * a CommonJS script) and the file lock's addon.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface InstalledCopy {
  root: string;
  cli: string;
  lookup: string;
}

let copy: InstalledCopy | undefined;

function files(): string[] {
  const prebuilds = path.join('node_modules/fs-native-extensions/prebuilds');
  const addons = fs
    .readdirSync(path.join(REPO_ROOT, prebuilds), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.node'))
    .map((name) => path.join(prebuilds, name));
  return ['bin/ipanalyse', 'bin/ipanalyse-lookup', 'bin/package.json', 'dist/ipanalyse.cjs', 'dist/ipanalyse.cjs.cache', 'dist/ipanalyse-lookup.js', 'package.json', ...addons];
}

/** Made once per test process, removed when it exits. */
export function installedCopy(): InstalledCopy {
  if (copy) return copy;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-installed-'));
  fs.chmodSync(root, 0o755);
  for (const file of files()) {
    const to = path.join(root, file);
    fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o755 });
    fs.copyFileSync(path.join(REPO_ROOT, file), to);
    fs.chmodSync(to, file.startsWith('bin/ipanalyse') ? 0o755 : 0o644);
  }
  // mkdir's mode is cut by the umask; the other user must be able to enter every directory.
  for (let dir of files().map((file) => path.dirname(path.join(root, file)))) {
    for (; dir.startsWith(root); dir = path.dirname(dir)) fs.chmodSync(dir, 0o755);
  }
  process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  copy = { root, cli: path.join(root, 'bin/ipanalyse'), lookup: path.join(root, 'bin/ipanalyse-lookup') };
  return copy;
}
