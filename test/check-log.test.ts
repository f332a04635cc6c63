import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { formatLogTimestamp } from './support/log-generator.js';
import { runCli } from './support/run-cli.js';

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-check-log-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** An hour of combined lines, or of vhost_combined ones (Debian's other_vhosts_access.log), enough to need a head and a tail sample. */
function writeLog(name: string, vhost: boolean, lines = 20_000): string {
  const file = path.join(work, name);
  let text = '';
  for (let i = 0; i < lines; i++) {
    const time = END - 3600 + Math.floor((i * 3600) / lines);
    const request = `198.51.100.${i % 200} - - [${formatLogTimestamp(time)}] "GET /search?q=${i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"`;
    text += `${vhost ? 'nominatim.example.org:443 ' : ''}${request}\n`;
  }
  fs.writeFileSync(file, text);
  return file;
}

const check = (...args: string[]) => runCli(['check-log', '--now', '2026-11-20 12:05:00', ...args]);

describe('ipanalyse check-log', () => {
  const combined = writeLog('access.log', false);
  const vhost = writeLog('other_vhosts_access.log', true);

  test('a log the configured format reads: exit 0, the share, the time span and the newest line\'s age', () => {
    const result = check(combined);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^format: +LOG_FORMAT 'combined' reads 100% of them: readable$/m);
    assert.match(result.stdout, /lines sampled from its start and its end/);
    assert.match(result.stdout, /^time: +2026-11-20 11:00:00 \.\. 2026-11-20 11:59:59 \(local time\); the newest line is 5 min old$/m);
  });
  test('a vhost_combined log read as combined: exit 69, unreadable samples, and the preset that reads it', () => {
    const result = check(vhost);
    assert.equal(result.status, 69);
    assert.match(result.stdout, /NOT readable/);
    assert.match(result.stdout, /^ +unreadable: nominatim\.example\.org:443 198\.51\.100\.\d+ - - \[/m);
    assert.match(result.stdout, /^presets: +vhost_combined 100%$/m);
    assert.match(result.stdout, /^use: +LOG_FORMAT = 'vhost_combined' \(or --log-format vhost_combined\)$/m);
    assert.match(result.stderr, /LOG_FORMAT = 'vhost_combined' does/);
  });
  test('--log-format names the format to check; --json gives the same as one object', () => {
    assert.equal(check('--log-format', 'vhost_combined', vhost).status, 0);
    const json = JSON.parse(check('--json', vhost).stdout) as { readable: boolean; readShare: number; suggestions: string[]; newestLineAgeSeconds: number };
    assert.deepEqual([json.readable, json.readShare, json.suggestions, json.newestLineAgeSeconds], [false, 0, ['vhost_combined'], 301]);
  });
  test("a log with its own format in LOG_FILES is checked with it, and told to set it there; --log-format still names the one to check", () => {
    const settings = (format: string) => {
      const file = path.join(work, `own-${format}.conf`);
      fs.writeFileSync(file, `LOG_FILES = [('${combined}', 'common'), ('${vhost}', '${format}')]\n`);
      return file;
    };
    const own = check('--settings', settings('vhost_combined'), vhost);
    assert.equal(own.status, 0, own.stderr);
    assert.match(own.stdout, /^format: +LOG_FORMAT 'vhost_combined' \(its own, in LOG_FILES\) reads 100% of them: readable$/m);
    const wrong = check('--settings', settings('combined'), vhost);
    assert.equal(wrong.status, 69);
    assert.match(wrong.stdout, /^format: +LOG_FORMAT 'combined' \(its own, in LOG_FILES\) reads 0% of them: NOT readable/m);
    assert.ok(wrong.stdout.includes(`use:       ('${vhost}', 'vhost_combined') in LOG_FILES\n`), wrong.stdout);
    assert.ok(wrong.stderr.includes(`('${vhost}', 'vhost_combined') in LOG_FILES does`), wrong.stderr);
    assert.equal(check('--settings', settings('combined'), '--log-format', 'vhost_combined', vhost).status, 0);
    // A log without an entry of its own is read with LOG_FORMAT, as before.
    assert.match(check('--settings', settings('combined'), writeLog('elsewhere.log', false, 100)).stdout, /^format: +LOG_FORMAT 'combined' reads 100%/m);
  });
  test('a missing log is an input error naming it', () => {
    const missing = check(path.join(work, 'none.log'));
    assert.equal(missing.status, 66);
    assert.match(missing.stderr, /cannot read the log \S*none\.log: no such file or directory/);
  });
});
