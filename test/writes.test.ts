/**
 * How the map, the geo include and the change log are written, as the web
 * server and the operator see it: through the links deployments make, with
 * the owner and mode the web server needs, and a change log that many runs
 * share and that grows for years.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appendChangeLines } from '../src/write/atomic-write.js';
import { FIXTURES, REPO_ROOT } from './support/paths.js';
import { runCli } from './support/run-cli.js';

const SMALL = path.join(FIXTURES, 'cases/state-machine');
const NOW = '2026-11-20 12:00:00';
const PREVIOUS = fs.readFileSync(path.join(SMALL, 'previous.map'), 'utf8');
const EXPECTED = fs.readFileSync(path.join(SMALL, 'expected.map'), 'utf8');
const EXPECTED_CHANGES = fs.readFileSync(path.join(SMALL, 'expected-changes.log'), 'utf8');
// BLACKLIST of the state-machine settings, as a geo include.
const EXPECTED_GEO = '192.0.2.66 1;\n2001:db8::66 1;\n';
const EARLIER = '2026-11-20 11:55 new bulks: 192.0.2.7\n';
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

function args(map: string, changes: string, extra: string[] = []): string[] {
  return ['--settings', path.join(SMALL, 'ip_blocks.conf'), '--map', map, '--changelog', changes, ...extra, '--now', NOW, '--loadavg', '14', path.join(SMALL, 'access.log')];
}

function ownerOf(file: string): string {
  const stat = fs.statSync(file);
  return `${stat.uid}:${stat.gid} ${(stat.mode & 0o7777).toString(8)}`;
}

describe('writes', () => {
  let scratch: string;
  let mountRefused: string | undefined;
  const mounted: string[] = [];
  const newWork = () => fs.mkdtempSync(path.join(scratch, 'w-'));

  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-writes-'));
    fs.chmodSync(scratch, 0o755);
    if (!isRoot) mountRefused = 'not running as root';
  });
  after(() => {
    for (const directory of mounted) if (spawnSync('umount', [directory]).status !== 0) spawnSync('umount', ['-l', directory]);
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  describe('through symbolic links', () => {
    test('a linked map, change log and geo include are written to their targets; the links stay links', () => {
      const work = newWork();
      const etc = path.join(work, 'etc-nginx');
      const srv = path.join(work, 'srv');
      fs.mkdirSync(etc);
      fs.mkdirSync(srv);
      fs.writeFileSync(path.join(etc, 'ip_blocks.map'), PREVIOUS, { mode: 0o640 });
      fs.chmodSync(path.join(etc, 'ip_blocks.map'), 0o640);
      fs.writeFileSync(path.join(etc, 'restricted_ip.log'), EARLIER);
      fs.writeFileSync(path.join(etc, 'banned.geo'), '198.51.100.200 1;\n');
      // One relative link, two absolute ones, and a link to a link: all the ways `ln -s` gets used.
      fs.symlinkSync('../etc-nginx/ip_blocks.map', path.join(srv, 'ip_blocks.map'));
      fs.symlinkSync(path.join(etc, 'restricted_ip.log'), path.join(srv, 'restricted_ip.log'));
      fs.symlinkSync(path.join(etc, 'banned.geo'), path.join(srv, 'banned-1.geo'));
      fs.symlinkSync('banned-1.geo', path.join(srv, 'banned.geo'));
      const links = ['ip_blocks.map', 'restricted_ip.log', 'banned.geo', 'banned-1.geo'].map((name) => [name, fs.readlinkSync(path.join(srv, name))]);

      const result = runCli(args('srv/ip_blocks.map', 'srv/restricted_ip.log', ['--geo', 'srv/banned.geo']), { cwd: work });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stderr, '');
      for (const [name, target] of links) {
        assert.ok(fs.lstatSync(path.join(srv, name)).isSymbolicLink(), `${name} is still a link`);
        assert.equal(fs.readlinkSync(path.join(srv, name)), target, `${name} still points where it did`);
      }
      assert.equal(fs.readFileSync(path.join(etc, 'ip_blocks.map'), 'utf8'), EXPECTED, 'the web server reads the new map');
      assert.equal(fs.statSync(path.join(etc, 'ip_blocks.map')).mode & 0o777, 0o640, "the target's mode is kept");
      assert.equal(fs.readFileSync(path.join(etc, 'restricted_ip.log'), 'utf8'), EARLIER + EXPECTED_CHANGES);
      assert.equal(fs.readFileSync(path.join(etc, 'banned.geo'), 'utf8'), EXPECTED_GEO);
      assert.deepEqual(fs.readdirSync(etc).sort(), ['banned.geo', 'ip_blocks.map', 'restricted_ip.log'], 'no temporary file left beside the targets');
      assert.deepEqual(fs.readdirSync(srv).sort(), ['banned-1.geo', 'banned.geo', 'ip_blocks.map', 'ip_blocks.map.state', 'ip_blocks.map.state.lines', 'restricted_ip.log'], 'nothing left beside the links but the state');

      // A link whose target does not exist yet: the first run creates the target, not a file in the link's place.
      fs.rmSync(path.join(etc, 'ip_blocks.map'));
      const again = runCli(args('srv/ip_blocks.map', 'srv/restricted_ip.log'), { cwd: work });
      assert.equal(again.status, 0, again.stderr);
      assert.ok(fs.lstatSync(path.join(srv, 'ip_blocks.map')).isSymbolicLink());
      assert.ok(fs.existsSync(path.join(etc, 'ip_blocks.map')), 'the dangling link now has its target');
    });

    test('a link that another user planted, to a file not theirs, is not followed: exit 74, the file untouched', (t) => {
      if (!isRoot) return t.skip('needs root to own links as nobody');
      const work = newWork();
      const victim = path.join(work, 'shadow');
      fs.writeFileSync(victim, 'root:*:19000:0:99999:7:::\n', { mode: 0o600 });
      for (const [name, flags] of [
        ['ip_blocks.map', []],
        ['restricted_ip.log', []],
        ['banned.geo', ['--geo', 'banned.geo']],
      ] as const) {
        const dir = fs.mkdtempSync(path.join(work, 'd-'));
        const own = (file: string) => path.join(dir, file);
        if (name !== 'ip_blocks.map') fs.writeFileSync(own('ip_blocks.map'), PREVIOUS);
        fs.symlinkSync(victim, own(name));
        fs.lchownSync(own(name), NOBODY, NOBODY);
        const result = runCli(args(own('ip_blocks.map'), own('restricted_ip.log'), [...flags].map((flag) => (flag === 'banned.geo' ? own(flag) : flag))), { cwd: dir });
        assert.equal(result.status, 74, `${name}: ${result.stderr}`);
        assert.match(result.stderr, /^ipanalyse: [^\n]*symbolic link[^\n]*\n$/, result.stderr);
        assert.ok(result.stderr.includes(own(name)), `names the link: ${result.stderr}`);
        assert.equal(fs.readFileSync(victim, 'utf8'), 'root:*:19000:0:99999:7:::\n', `${name}: the linked file is untouched`);
        assert.equal(ownerOf(victim), '0:0 600');
        assert.ok(fs.lstatSync(own(name)).isSymbolicLink());
      }
    });
  });

  test("a rewrite keeps the map's owner and mode: www-data's 0600 map stays www-data's, readable by the web server", (t) => {
    if (!isRoot) return t.skip('needs root to give files away');
    const work = newWork();
    fs.chmodSync(work, 0o755);
    const mapFile = path.join(work, 'ip_blocks.map');
    const geoFile = path.join(work, 'banned.geo');
    fs.writeFileSync(mapFile, PREVIOUS, { mode: 0o600 });
    fs.writeFileSync(geoFile, '', { mode: 0o600 });
    for (const file of [mapFile, geoFile]) {
      fs.chownSync(file, NOBODY, NOBODY);
      fs.chmodSync(file, 0o600);
    }
    const result = runCli(args(mapFile, path.join(work, 'restricted_ip.log'), ['--geo', geoFile]), { cwd: work });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(fs.readFileSync(mapFile, 'utf8'), EXPECTED);
    for (const file of [mapFile, geoFile]) assert.equal(ownerOf(file), `${NOBODY}:${NOBODY} 600`, `${path.basename(file)} keeps its owner and mode`);
    if (spawnSync('setpriv', ['--version']).status === 0) {
      const read = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'cat', mapFile], { encoding: 'utf8' });
      assert.equal(read.stdout, EXPECTED, `the web server's user can read the new map: ${read.stderr}`);
    }
  });

  describe('the change log', () => {
    test('an append costs the run its lines, not the log: a log bigger than the free space is appended in place', (t) => {
      if (mountRefused) return t.skip(`needs a tmpfs mount: ${mountRefused}`);
      const work = newWork();
      const disk = path.join(work, 'log');
      fs.mkdirSync(disk);
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', disk], { encoding: 'utf8' });
      if (mount.status !== 0) return t.skip(`mount -t tmpfs failed: ${mount.stderr.trim()}`);
      mounted.push(disk);
      const changeLog = path.join(disk, 'restricted_ip.log');
      // 30 MB of history on 48 MB: a copy of it would not fit.
      const history = EARLIER.repeat(Math.ceil(30e6 / EARLIER.length));
      fs.writeFileSync(changeLog, history);
      const inode = fs.statSync(changeLog).ino;
      fs.writeFileSync(path.join(work, 'ip_blocks.map'), PREVIOUS);
      const result = runCli(args('ip_blocks.map', changeLog), { cwd: work });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(fs.statSync(changeLog).ino, inode, 'appended in place, not copied');
      const text = fs.readFileSync(changeLog, 'utf8');
      assert.equal(text.length, history.length + EXPECTED_CHANGES.length);
      assert.ok(text.endsWith(EXPECTED_CHANGES) && text.startsWith(EARLIER), 'the history, then the new lines');
      assert.deepEqual(fs.readdirSync(disk), ['restricted_ip.log']);
    });

    test('runs on different maps sharing one change log lose no line', async () => {
      const work = newWork();
      const changeLog = path.join(work, 'restricted_ip.log');
      const module = path.join(REPO_ROOT, 'dist/src/write/atomic-write.js');
      const WRITERS = 4;
      const APPENDS = 150;
      const script = `(async () => {
        const { appendChangeLines } = await import(${JSON.stringify(module)});
        const [file, writer] = process.argv.slice(1);
        for (let i = 0; i < ${APPENDS}; i++) appendChangeLines(file, '2026-11-20 12:00 new block: 10.' + writer + '.' + (i >> 8) + '.' + (i & 255) + '\\n');
      })()`;
      const children = [...Array(WRITERS)].map((_, writer) => spawn(process.execPath, ['-e', script, changeLog, String(writer)], { stdio: ['ignore', 'ignore', 'pipe'] }));
      const failures = await Promise.all(
        children.map(
          (child) =>
            new Promise<string>((resolve) => {
              let stderr = '';
              child.stderr.on('data', (data) => (stderr += data));
              child.on('close', (code) => resolve(code === 0 ? '' : `exit ${code}: ${stderr}`));
            }),
        ),
      );
      assert.deepEqual(failures.filter(Boolean), []);
      const lines = fs.readFileSync(changeLog, 'utf8').split('\n');
      assert.equal(lines.pop(), '', 'ends in a whole line');
      assert.equal(lines.length, WRITERS * APPENDS, 'every append is there');
      assert.equal(new Set(lines).size, WRITERS * APPENDS, 'each once');
      for (const line of lines) assert.match(line, /^2026-11-20 12:00 new block: 10\.\d\.\d+\.\d+$/);
    });

    test("a torn last line, left by a run killed in mid-append, is cut before the next run's lines", () => {
      const work = newWork();
      const changeLog = path.join(work, 'restricted_ip.log');
      fs.writeFileSync(changeLog, `${EARLIER}2026-11-20 11:59 unblocked: 192.0.2.1, 10.0.`);
      const warning = appendChangeLines(changeLog, EXPECTED_CHANGES);
      assert.equal(fs.readFileSync(changeLog, 'utf8'), EARLIER + EXPECTED_CHANGES, 'no half line, no line glued to it');
      assert.match(warning ?? '', /torn.*restricted_ip\.log/, 'the cut is reported');

      // A note an operator typed without a final newline is not ours to cut: it is ended instead.
      fs.writeFileSync(changeLog, `${EARLIER}checked by jo`);
      appendChangeLines(changeLog, EXPECTED_CHANGES);
      assert.equal(fs.readFileSync(changeLog, 'utf8'), `${EARLIER}checked by jo\n${EXPECTED_CHANGES}`);
    });

    test('a run with no changes of its own still cuts the torn line a killed run left, and creates no change log', () => {
      const work = newWork();
      const changeLog = path.join(work, 'restricted_ip.log');
      fs.writeFileSync(changeLog, `${EARLIER}2026-11-20 11:59 unblocked: 192.0.2.1, 10.0.`);
      assert.match(appendChangeLines(changeLog, '') ?? '', /torn.*restricted_ip\.log/);
      assert.equal(fs.readFileSync(changeLog, 'utf8'), EARLIER);
      const none = path.join(work, 'none.log');
      assert.equal(appendChangeLines(none, ''), undefined);
      assert.equal(fs.existsSync(none), false);
    });

    test('a new change log gets mode 0644 whatever the umask, and its directory is made', () => {
      const work = newWork();
      const changeLog = path.join(work, 'log', 'restricted_ip.log');
      const umask = process.umask(0o077);
      try {
        appendChangeLines(changeLog, EARLIER);
      } finally {
        process.umask(umask);
      }
      assert.equal(fs.readFileSync(changeLog, 'utf8'), EARLIER);
      assert.equal(fs.statSync(changeLog).mode & 0o777, 0o644);
    });
  });
});
