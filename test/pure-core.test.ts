/**
 * The core decides from plain values: the decide, settings-parsing and report
 * code (and the text formats the write stage uses) reach no file system, no
 * child process and no clock, not even through a module they import. This is
 * what lets every decision be tested with plain values and every run replayed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from './support/paths.js';

const SRC = path.join(REPO_ROOT, 'src');

/** Pure by contract: whole folders, and single files of the stages that also do I/O. */
const PURE = [
  'decide/',
  'simulate/',
  'report/',
  'address/',
  'errors.ts',
  'lazy-require.ts',
  'local-time.ts',
  'settings/settings.ts',
  'settings/settings-schema.ts',
  'settings/settings-conflicts.ts',
  'settings/python-literal.ts',
  'write/map-file.ts',
  'write/firewall-sets.ts',
  'lookup/map-lookup.ts',
  'write/change-log.ts',
  'read/log-line.ts',
  'read/window-stats.ts',
  'read/incremental-state.ts',
  'read/address-table.ts',
  'read/log-format.ts',
  'read/caddy-format.ts',
  'read/line-fields.ts',
  'read/strftime.ts',
  'read/request-path.ts',
  'read/clickhouse-query.ts',
  'read/client-address.ts',
  'read/detect-format.ts',
];

const FORBIDDEN_MODULES = /^(node:)?(fs|fs\/promises|child_process|worker_threads|http|https|dgram|os|readline)$/;
/** The clock and the process's environment: a pure function gets them as arguments. */
const FORBIDDEN_CALLS = /\bnew Date\(\s*\)|\bDate\.now\(|\bperformance\.now\(|\bprocess\.(env|hrtime|uptime|cwd|argv|exit)\b/;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The modules a file loads at run time (import and export ... from, static or dynamic); `import type` loads nothing. */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\s[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
    if (match[2]) continue;
    specifiers.push(match[3] ?? match[4]);
  }
  return specifiers;
}

const isPure = (relative: string) => PURE.some((entry) => (entry.endsWith('/') ? relative.startsWith(entry) : relative === entry));

describe('the pure core', () => {
  const files = sourceFiles(SRC).map((file) => path.relative(SRC, file));
  const pureFiles = files.filter(isPure);

  test('the contract names files that exist', () => {
    for (const entry of PURE) assert.ok(files.some((file) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry)), `${entry} matches no file in src/`);
  });

  for (const file of pureFiles) {
    test(`${file} imports only pure modules and reads no clock`, () => {
      const text = fs.readFileSync(path.join(SRC, file), 'utf8');
      for (const specifier of importsOf(text)) {
        assert.doesNotMatch(specifier, FORBIDDEN_MODULES, `${file} imports ${specifier}`);
        if (!specifier.startsWith('.')) continue;
        const imported = path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), specifier.replace(/\.js$/, '.ts')));
        // Through an impure module, I/O would come in by the back door.
        assert.ok(isPure(imported), `${file} imports ${imported}, which is not in the pure core`);
      }
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      assert.doesNotMatch(code, FORBIDDEN_CALLS, `${file} reads the clock or the process's environment`);
    });
  }
});
