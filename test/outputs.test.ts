import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readIfExists } from './support/files.js';
import { FIXTURES } from './support/paths.js';
import { runCli } from './support/run-cli.js';

const CASE = path.join(FIXTURES, 'cases/state-machine');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-outputs-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

let dirs = 0;
/** A work dir holding the state-machine case's log and settings, plus `extra` settings lines. */
function setUp(extra = ''): string {
  const dir = path.join(work, `run-${dirs++}`);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(CASE, 'access.log'), path.join(dir, 'access.log'));
  fs.writeFileSync(path.join(dir, 'ip_blocks.conf'), fs.readFileSync(path.join(CASE, 'ip_blocks.conf'), 'utf8') + extra);
  return dir;
}

function run(dir: string, ...args: string[]) {
  return runCli(['--settings', 'ip_blocks.conf', '--map', 'ip_blocks.map', '--changelog', 'changes.log', '--now', '2026-11-20 12:00:00', '--loadavg', '14', ...args, 'access.log'], { cwd: dir });
}

const read = (dir: string, name: string) => fs.readFileSync(path.join(dir, name), 'utf8');

describe('ON_CHANGE', () => {
  test('runs exactly when the map changed', () => {
    const dir = setUp("ON_CHANGE = 'echo \"$IPANALYSE_MAP\" >> reloads.txt'\n");
    const mapNow = () => readIfExists(path.join(dir, 'ip_blocks.map'));
    const reloads = () => (fs.existsSync(path.join(dir, 'reloads.txt')) ? read(dir, 'reloads.txt').split('\n').length - 1 : 0);
    // The same hour again and again: the map settles (releases follow the first run's restrictions), then stays.
    let changes = 0;
    for (let i = 0; i < 4; i++) {
      const before = mapNow();
      assert.equal(run(dir).status, 0);
      if (mapNow() !== before) changes++;
      assert.equal(reloads(), changes, `after run ${i + 1}`);
    }
    assert.ok(changes >= 1);
    assert.match(read(dir, 'reloads.txt'), /^ip_blocks\.map$/m);
  });
  test('is not run when the map stays the same', () => {
    // Only the bans remain once the heavy clients are whitelisted: a fixed point from the first run on.
    const dir = setUp("WHITELIST = '198.51.100.0/24'\nON_CHANGE = 'echo reload >> reloads.txt'\n");
    assert.equal(run(dir).status, 0);
    assert.equal(run(dir).status, 0);
    assert.equal(run(dir).status, 0);
    assert.equal(read(dir, 'reloads.txt'), 'reload\n');
  });
  test('a failing command is reported as an output error, and the map is still written', () => {
    const dir = setUp();
    const result = run(dir, '--on-change', 'echo "nginx: [emerg] unexpected end of file" >&2; exit 1');
    assert.equal(result.status, 74);
    assert.match(result.stderr, /the map was written, but ON_CHANGE .* failed \(exit 1\): nginx: \[emerg\] unexpected end of file/);
    assert.match(read(dir, 'ip_blocks.map'), /198\.51\.100\.5 bulk/);
  });
  test('a failed reload is retried by every following run until it succeeds, and each says so', () => {
    // Fails while the file 'broken' exists, as a reload does while the web server's configuration is wrong.
    // The heavy clients whitelisted: the map is a fixed point from the first run on.
    const dir = setUp("WHITELIST = '198.51.100.0/24'\nON_CHANGE = 'echo reload >> reloads.txt; test ! -e broken || { echo \"nginx: [emerg] broken\" >&2; exit 1; }'\n");
    fs.writeFileSync(path.join(dir, 'broken'), '');
    const first = run(dir);
    assert.equal(first.status, 74);
    assert.match(first.stderr, /the map was written, but ON_CHANGE .* failed \(exit 1\): nginx: \[emerg\] broken; every run retries it/);
    // The map stays the same now, but the web server has not loaded it yet.
    const mapBefore = read(dir, 'ip_blocks.map');
    const second = run(dir);
    assert.equal(second.status, 75, 'retry later: nothing new, a reload still pending');
    assert.equal(read(dir, 'ip_blocks.map'), mapBefore);
    assert.match(second.stderr, /a reload is still pending \(an earlier ON_CHANGE failed\) and ON_CHANGE .* failed/);
    fs.rmSync(path.join(dir, 'broken'));
    assert.equal(run(dir).status, 0);
    const reloadsAfterSuccess = read(dir, 'reloads.txt');
    assert.equal(run(dir).status, 0);
    assert.equal(read(dir, 'reloads.txt'), reloadsAfterSuccess, 'no reload once nothing is pending and nothing changed');
    assert.ok(!fs.existsSync(path.join(dir, 'ip_blocks.map.reload-pending')));
  });
  test('the temporary copies a killed run left of the pending-reload marker and of the digests are removed, each with a warning', () => {
    const dir = setUp();
    const left = ['.ip_blocks.map.reload-pending.ipanalyse-tmp-4242-abcdef', '.ip_blocks.map.state.lines.ipanalyse-tmp-4242-abcdef'];
    for (const name of left) fs.writeFileSync(path.join(dir, name), 'half written');
    const result = run(dir);
    assert.equal(result.status, 0, result.stderr);
    for (const name of left) {
      assert.ok(!fs.existsSync(path.join(dir, name)), name);
      assert.equal(result.stderr.split(name).length - 1, 1, `one warning for ${name}:\n${result.stderr}`);
    }
  });
  test('a command that hangs and ignores SIGTERM is killed with its whole process group', () => {
    const dir = setUp("ON_CHANGE_TIMEOUT = 1\nON_CHANGE = 'trap \"\" TERM; sleep 60 & echo $! > child.pid; wait'\n");
    const started = Date.now();
    const result = run(dir);
    assert.equal(result.status, 74);
    assert.match(result.stderr, /timed out after 1 s; its process group was killed/);
    assert.ok(Date.now() - started < 20_000, 'the run did not wait for the command');
    const child = Number(read(dir, 'child.pid'));
    assert.throws(() => process.kill(child, 0), /ESRCH/, 'the command\'s child is gone too');
  });
  test('output beyond the cap is dropped, not fatal', () => {
    const dir = setUp("ON_CHANGE = 'head -c 3000000 /dev/zero | tr \"\\\\0\" x; head -c 3000000 /dev/zero >&2'\n");
    const result = run(dir);
    assert.equal(result.status, 0, result.stderr);
  });
  test('a dry run never runs it', () => {
    const dir = setUp();
    assert.equal(run(dir, '--dry-run', '--on-change', 'touch ran').status, 0);
    assert.equal(fs.existsSync(path.join(dir, 'ran')), false);
  });
});

describe('lists with networks', () => {
  test('a blacklisted network bans each of its clients seen, and goes whole into the geo include', () => {
    const dir = setUp("BLACKLIST = '198.51.100.0/24 192.0.2.66 2001:db8:66::/48'\n");
    assert.equal(run(dir, '--geo', 'ip_blocks.geo').status, 0);
    const map = read(dir, 'ip_blocks.map');
    for (const address of ['198.51.100.5', '198.51.100.6', '198.51.100.7', '198.51.100.200']) assert.match(map, new RegExp(`^${address.replace(/\./g, '\\.')} ban$`, 'm'));
    assert.doesNotMatch(map, /198\.51\.100\.\d+ (bulk|block)/);
    assert.doesNotMatch(map, /198\.51\.100\.9 /, 'a client seen only before the window is not listed');
    assert.equal(read(dir, 'ip_blocks.geo'), '192.0.2.66 1;\n198.51.100.0/24 1;\n2001:db8:66::/48 1;\n');
  });
  test('a whitelisted network is never restricted', () => {
    const dir = setUp("WHITELIST = '198.51.100.0/25'\n");
    assert.equal(run(dir).status, 0);
    assert.doesNotMatch(read(dir, 'ip_blocks.map'), /198\.51\.100\./);
  });
  test('list files: one entry per line, comments; a bad entry names file and line', () => {
    const dir = setUp("WHITELIST_FILE = 'partners.list'\n");
    fs.writeFileSync(path.join(dir, 'partners.list'), '# partners\n198.51.100.0/25  # the big one\n\n2001:db8::/32\n');
    assert.equal(run(dir).status, 0);
    assert.doesNotMatch(read(dir, 'ip_blocks.map'), /198\.51\.100\./);
    fs.appendFileSync(path.join(dir, 'partners.list'), '10.0.0.300\n');
    const result = run(dir);
    assert.equal(result.status, 78);
    assert.match(result.stderr, /partners\.list:5: '10\.0\.0\.300' is not an IPv4 or IPv6 address or network/);
  });
  test('a missing list file is a settings error naming the key and the file, not a hang', () => {
    const dir = setUp("BLACKLIST_FILE = 'gone.list'\n");
    const result = run(dir);
    assert.equal(result.status, 78);
    assert.match(result.stderr, /ip_blocks\.conf:\d+ BLACKLIST_FILE: \S*gone\.list: no such file or directory/);
  });
  test('EXCLUDE_NON_GLOBAL leaves private addresses out', () => {
    const dir = setUp('EXCLUDE_NON_GLOBAL = True\n');
    fs.appendFileSync(path.join(dir, 'access.log'), fs.readFileSync(path.join(dir, 'access.log'), 'utf8').replace(/198\.51\.100\.7 /g, '192.168.1.7 '));
    assert.equal(run(dir).status, 0);
    const map = read(dir, 'ip_blocks.map');
    assert.match(map, /198\.51\.100\.7 block/);
    assert.doesNotMatch(map, /192\.168\.1\.7/);
  });
});

describe('a run that ends with a problem still reports everything', () => {
  const VALVE_CASE = path.join(FIXTURES, 'cases/safety-valve-load-balancer');
  function valveDir(): string {
    const dir = path.join(work, `run-${dirs++}`);
    fs.mkdirSync(dir);
    for (const name of ['access.log', 'ip_blocks.conf', 'previous.map']) fs.copyFileSync(path.join(VALVE_CASE, name), path.join(dir, name));
    fs.copyFileSync(path.join(dir, 'previous.map'), path.join(dir, 'ip_blocks.map'));
    return dir;
  }
  const summaryOf = (stdout: string) => JSON.parse(stdout) as { safetyValve?: { withheld: string[] }; problems: { kind: string; message: string }[]; map: { written: boolean } };

  test('safety valve tripped: --metrics written, --json printed, exit 65', () => {
    const dir = valveDir();
    // A success first, so that there is a last-success time the failed run must not advance.
    fs.writeFileSync(path.join(dir, 'ipanalyse.prom'), 'ipanalyse_last_success_timestamp_seconds 1700000000\n');
    const result = run(dir, '--metrics', 'ipanalyse.prom', '--json');
    assert.equal(result.status, 65, result.stderr);
    assert.match(result.stderr, /safety valve: 198\.51\.100\.7 made 100% of all requests/);
    const summary = summaryOf(result.stdout);
    assert.deepEqual(summary.safetyValve?.withheld, ['198.51.100.7']);
    assert.deepEqual(summary.problems.map((p) => p.kind), ['safety-valve']);
    const metrics = read(dir, 'ipanalyse.prom');
    assert.match(metrics, /^ipanalyse_problem\{kind="safety-valve"\} 1$/m);
    assert.match(metrics, /^ipanalyse_problem\{kind="on-change-failed"\} 0$/m);
    assert.match(metrics, /^ipanalyse_last_success_timestamp_seconds 1700000000$/m, 'the last success stays where it was');
  });
  test('ON_CHANGE failed: --metrics written, --verbose printed, exit 74', () => {
    const dir = setUp();
    const result = run(dir, '--metrics', 'ipanalyse.prom', '--verbose', '--on-change', 'exit 3');
    assert.equal(result.status, 74, result.stderr);
    assert.match(result.stderr, /ON_CHANGE 'exit 3' failed \(exit 3\)/);
    assert.match(result.stdout, /^map: +\d+ bulk, \d+ block, \d+ ban -> ip_blocks\.map \(written\)$/m);
    assert.match(result.stdout, /^changes:$/m);
    const metrics = read(dir, 'ipanalyse.prom');
    assert.match(metrics, /^ipanalyse_problem\{kind="on-change-failed"\} 1$/m);
    assert.match(metrics, /^ipanalyse_clients\{state="bulk"\} 1$/m);
    assert.doesNotMatch(metrics, /last_success/, 'no success ever: no last-success time');
  });
});

describe('never silent when blind', () => {
  test('a log whose client field holds host names (HostnameLookups On): exit 69, the map untouched, a sample line', () => {
    const dir = setUp();
    const log = read(dir, 'access.log');
    let n = 0;
    fs.writeFileSync(path.join(dir, 'access.log'), log.replace(/^\S+ /gm, () => `host-${n++}.example.net `));
    fs.writeFileSync(path.join(dir, 'ip_blocks.map'), '192.0.2.1 block\n');
    const result = run(dir, '--metrics', 'ipanalyse.prom');
    assert.equal(result.status, 69, result.stderr);
    assert.match(result.stderr, /access\.log: \d+ of \d+ lines read \(\d+%\) cannot be read as LOG_FORMAT 'combined', more than MAX_UNREADABLE_SHARE 0\.1; nothing decided, the map is left as it is; a line: host-\d+\.example\.net - - \[/);
    assert.equal(read(dir, 'ip_blocks.map'), '192.0.2.1 block\n');
    assert.match(read(dir, 'ipanalyse.prom'), /^ipanalyse_problem\{kind="blind"\} 1$/m);
  });
  test('a log whose newest line is days old: exit 69, logging stopped or the wrong file, the map untouched', () => {
    const dir = setUp();
    fs.writeFileSync(path.join(dir, 'ip_blocks.map'), '192.0.2.1 block\n');
    // The same hour, three days later: the log has not grown since.
    const result = runCli(['--settings', 'ip_blocks.conf', '--map', 'ip_blocks.map', '--changelog', 'changes.log', '--now', '2026-11-23 12:00:00', '--loadavg', '14', 'access.log'], { cwd: dir });
    assert.equal(result.status, 69, result.stderr);
    assert.match(result.stderr, /the newest line of access\.log is 3 days old \(2026-11-20 11:5\d:\d\d\), more than STALE_AFTER 3600 s: logging stopped, or the wrong file; nothing decided/);
    assert.equal(read(dir, 'ip_blocks.map'), '192.0.2.1 block\n');
    assert.equal(run(dir).status, 0, 'the same log at its own time is fresh');
    // A replay of an old hour is expected to read an old log; STALE_AFTER = 0 turns the check off.
    fs.appendFileSync(path.join(dir, 'ip_blocks.conf'), 'STALE_AFTER = 0\n');
    const off = runCli(['--settings', 'ip_blocks.conf', '--map', 'ip_blocks.map', '--changelog', 'changes.log', '--now', '2026-11-23 12:00:00', '--loadavg', '14', 'access.log'], { cwd: dir });
    assert.equal(off.status, 0, off.stderr);
  });
  test('a FIFO, a character device or a directory as the log: exit 66 at once, named for what it is', () => {
    const fifo = path.join(work, `fifo-log-${dirs++}`);
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    for (const [log, kind] of [[fifo, 'a FIFO'], ['/dev/zero', 'a character device'], [work, 'a directory']] as const) {
      const dir = setUp();
      const result = runCli(['--settings', 'ip_blocks.conf', '--map', 'ip_blocks.map', '--changelog', 'changes.log', '--now', '2026-11-20 12:00:00', '--loadavg', '14', log], { cwd: dir });
      assert.equal(result.status, 66, result.stderr);
      assert.match(result.stderr, new RegExp(`cannot read the log \\S+: is ${kind}, not a regular file`));
    }
  });
  test('a FIFO as LOG.1 is skipped with a warning; the run goes on', () => {
    const dir = setUp();
    assert.equal(spawnSync('mkfifo', [path.join(dir, 'access.log.1')]).status, 0);
    const result = run(dir);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /warning: skipping \S*access\.log\.1: is a FIFO, not a regular file/);
  });
  test('a few unreadable lines among many are data, not blindness', () => {
    const dir = setUp();
    const lines = read(dir, 'access.log').split('\n');
    const broken = lines.map((line, i) => (i % 20 === 0 && line ? `garbage ${line}` : line)).join('\n');
    fs.writeFileSync(path.join(dir, 'access.log'), broken);
    assert.equal(run(dir).status, 0);
  });
});

describe('inputs that are not what they should be', () => {
  test('a device or a FIFO as the settings or a list file is refused at once, naming it', () => {
    const fifo = path.join(work, `fifo-${dirs++}`);
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    for (const [args, pattern] of [
      [['check-config', '--settings', '/dev/zero'], /\/dev\/zero: cannot read settings: is a character device, not a regular file/],
      [['check-config', '--settings', fifo], /cannot read settings: is a FIFO, not a regular file/],
    ] as const) {
      const result = runCli([...args], { cwd: work });
      assert.equal(result.status, 78, result.stderr);
      assert.match(result.stderr, pattern);
    }
    for (const listFile of ['/dev/urandom', fifo]) {
      const dir = setUp(`WHITELIST_FILE = '${listFile}'\n`);
      const result = run(dir);
      assert.equal(result.status, 78, result.stderr);
      assert.match(result.stderr, /WHITELIST_FILE: \S+: is a (character device|FIFO), not a regular file/);
    }
  });
  test('a list file of binary noise (no line end in 64 KiB) is no list file, and is not held in memory', () => {
    const dir = setUp("BLACKLIST_FILE = 'noise.list'\n");
    fs.writeFileSync(path.join(dir, 'noise.list'), `192.0.2.1\n${'x'.repeat(65536)}`);
    const result = run(dir);
    assert.equal(result.status, 78);
    assert.match(result.stderr, /BLACKLIST_FILE: \S*noise\.list: has a line longer than 4096 bytes: is it a list file\?/);
  });
  test('a 100,000-entry whitelist is accepted as a tuple as it is as a string', () => {
    const addresses = Array.from({ length: 100_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    for (const value of [`(${addresses.map((a) => `'${a}'`).join(', ')})`, `'${addresses.join(' ')}'`]) {
      const dir = setUp(`WHITELIST = ${value}\n`);
      const result = run(dir);
      assert.equal(result.status, 0, result.stderr.slice(0, 300));
    }
  });
  test('a settings file of 20 MiB is refused, not read', () => {
    const dir = setUp();
    fs.appendFileSync(path.join(dir, 'ip_blocks.conf'), `# ${'x'.repeat(20 * 1024 * 1024)}\n`);
    const result = run(dir);
    assert.equal(result.status, 78);
    assert.match(result.stderr, /ip_blocks\.conf: cannot read settings: is 20 MiB, more than the 16 MiB a settings file may be/);
  });
  test('a previous map far too large to be ours is rebuilt from the log, with a warning, not a failure for ever', () => {
    const dir = setUp();
    const mapFile = path.join(dir, 'ip_blocks.map');
    fs.writeFileSync(mapFile, '192.0.2.1 block\n');
    fs.truncateSync(mapFile, 300 * 1024 * 1024); // sparse: costs no disk
    const result = run(dir);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /warning: ignoring the previous map \S*ip_blocks\.map: is 300 MiB, more than the 256 MiB a map may be: rebuilding it from the log/);
    assert.ok(fs.statSync(mapFile).size < 1000);
    assert.match(read(dir, 'ip_blocks.map'), /198\.51\.100\.5 bulk/);
  });
  test('a corrupt previous map: its garbage is skipped with at most ten warnings and one line for the rest', () => {
    const dir = setUp();
    fs.writeFileSync(path.join(dir, 'ip_blocks.map'), `${'garbage line\n'.repeat(5000)}198.51.100.5 bulk\n`);
    const result = run(dir);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.split('\n').filter((line) => /ignoring malformed line/.test(line)).length, 10);
    assert.match(result.stderr, /ip_blocks\.map: 4990 more malformed lines ignored/);
  });
});

describe('metrics and the map file', () => {
  test('--metrics writes a Prometheus textfile', () => {
    const dir = setUp();
    assert.equal(run(dir, '--metrics', 'ipanalyse.prom').status, 0);
    const text = read(dir, 'ipanalyse.prom');
    for (const line of text.trimEnd().split('\n')) assert.match(line, /^(# (HELP|TYPE) ipanalyse_\w+ .+|ipanalyse_\w+(\{\w+="[^"]*"\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN))$/);
    assert.match(text, /^ipanalyse_clients\{state="bulk"\} 1$/m);
    assert.match(text, /^ipanalyse_changes\{kind="new block"\} 1$/m);
    assert.match(text, /^ipanalyse_limit_requests\{limit="bulk_long"\} 20$/m);
    assert.match(text, /^ipanalyse_last_success_timestamp_seconds \d+$/m);
    assert.match(text, /^ipanalyse_unreadable_share 0\.\d+$/m, 'the case has a few garbage lines');
    assert.match(text, /^ipanalyse_newest_line_age_seconds \d+$/m);
  });
  test('--verbose and --json say what share could not be read and how old the newest line is', () => {
    const dir = setUp();
    fs.appendFileSync(path.join(dir, 'access.log'), 'not a log line\n');
    const verbose = run(dir, '--dry-run', '--verbose');
    assert.match(verbose.stdout, /^read: +\d+ lines; \d+ in the window, \d+ garbage \(\d+\.\d% unreadable, newest line \d+ s old\)$/m);
    const json = JSON.parse(run(dir, '--json').stdout) as { sight: { unreadableShare: number; newestLineAgeSeconds: number } };
    assert.ok(json.sight.unreadableShare > 0 && json.sight.unreadableShare < 0.05);
    assert.ok(json.sight.newestLineAgeSeconds >= 0);
  });
  test('a run that decides nothing still creates an empty map, so the web server can start', () => {
    const dir = setUp('MIN_LOG_SIZE = 100000000\n');
    const result = run(dir);
    assert.equal(result.status, 0);
    assert.equal(read(dir, 'ip_blocks.map'), '');
    assert.match(result.stderr, /created an empty ip_blocks\.map/);
  });
  test('a new map is readable by the web server whatever the umask', () => {
    const dir = setUp();
    const result = runCli(['--settings', 'ip_blocks.conf', '--map', 'ip_blocks.map', '--changelog', 'changes.log', '--now', '2026-11-20 12:00:00', '--loadavg', '14', 'access.log'], {
      cwd: dir,
      env: { NODE_OPTIONS: '' },
    });
    assert.equal(result.status, 0);
    assert.equal(fs.statSync(path.join(dir, 'ip_blocks.map')).mode & 0o777, 0o644);
  });
});
