/**
 * Deployed like a system tool, with the real tools: the tarball `npm pack`
 * makes from a tree that was never built, installed by `npm install -g` into
 * a temporary root laid out as Debian's (/usr/local), the command it gives,
 * the systemd units as installed checked by `systemd-analyze verify` in that
 * root, and the logrotate snippet with logrotate itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ExitCode } from '../src/errors.js';
import { FIXTURES, REPO_ROOT } from './support/paths.js';
import { CHILD_ENV, runCli } from './support/run-cli.js';
import { findExecutable } from './support/web-server.js';

const npm = findExecutable('npm');
const git = findExecutable('git');
const tar = findExecutable('tar');
const systemdAnalyze = findExecutable('systemd-analyze');
const logrotate = findExecutable('logrotate');

const VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
const EXAMPLE = path.join(FIXTURES, 'example');

function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const result = spawnSync(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: `${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

function must(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): string {
  const result = run(command, args, options);
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The settings of fixtures/example with the map and change log put in `dir`: a run that writes only there. */
function exampleSettings(dir: string): string {
  const file = path.join(dir, 'ip_blocks.conf');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(EXAMPLE, 'previous.map'), path.join(dir, 'ip_blocks.map'));
  const own = `BLOCKEDFILE = '${dir}/ip_blocks.map'\nLOGFILE = '${dir}/restricted_ip.log'\n`;
  fs.writeFileSync(file, `${fs.readFileSync(path.join(EXAMPLE, 'ip_blocks.conf'), 'utf8')}\n${own}`);
  return file;
}

const EXAMPLE_RUN = ['--now', '2026-11-20 12:00:00', '--loadavg', '2.5', path.join(EXAMPLE, 'access.log')];

const whyNoPackage = !npm ? 'npm is not installed' : !git ? 'git is not installed (it lists the files to pack)' : !tar ? 'tar is not installed' : false;

describe('the package: npm pack, npm install -g, the ipanalyse command', { skip: whyNoPackage }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-deploy-'));
  /** A root laid out as Debian's: npm's global prefix there is /usr/local. */
  const root = path.join(work, 'root');
  const prefix = path.join(root, 'usr/local');
  const installed = path.join(prefix, 'lib/node_modules/ipanalyse');
  const command = path.join(prefix, 'bin/ipanalyse');
  let tarball: string;
  let packed: string[];

  before(() => {
    // The files of the checkout as a clone would have them, without dist/: `npm pack` must build the CLI itself.
    const tree = path.join(work, 'clone');
    const listed = must(git!, ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT }).split('\0').filter(Boolean);
    for (const file of listed) {
      const from = path.join(REPO_ROOT, file);
      if (!fs.existsSync(from)) continue; // deleted in the working tree
      fs.mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
      fs.copyFileSync(from, path.join(tree, file));
    }
    // The dependencies as `npm install` left them; only the tools of the build are used from there.
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    must(npm!, ['pack', '--pack-destination', work], { cwd: tree });
    tarball = path.join(work, `ipanalyse-${VERSION}.tgz`);
    packed = must(tar!, ['-tzf', tarball]).split('\n').filter(Boolean).map((entry) => entry.replace(/^package\//, ''));
    // Offline: the bundle holds every dependency, so the install needs no registry.
    must(npm!, ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball]);
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** What the bundle holds: an installed package must not bring them again. */
  const BUNDLED = ['yargs', 'zod', 'date-fns', 'split2'];

  test('the tarball holds the built CLI, the file lock\'s addon, the settings, contrib/ and the README, and no sources or tests', () => {
    const lockAddon = `node_modules/fs-native-extensions/prebuilds/${process.platform}-${process.arch}/fs-native-extensions.node`;
    for (const file of ['package.json', 'README.md', 'bin/ipanalyse', 'dist/ipanalyse.cjs', 'dist/ipanalyse.cjs.cache', lockAddon, 'settings/ip_blocks.conf', 'contrib/systemd/ipanalyse.service', 'contrib/systemd/ipanalyse.timer', 'contrib/nftables/ipanalyse.nft', 'contrib/logrotate/ipanalyse']) {
      assert.ok(packed.includes(file), `${file} is not in the tarball: ${packed.join(', ')}`);
    }
    assert.deepEqual(packed.filter((file) => /^(src|test|bench|fixtures|dist\/src|dist\/test)\//.test(file)), []);
    assert.deepEqual(packed.filter((file) => BUNDLED.some((name) => file.startsWith(`node_modules/${name}/`))), []);
  });

  // The install ran with --offline: a native addon cannot be bundled, so it comes in the tarball (bundleDependencies).
  test('npm install -g needs no registry: the addon came in the tarball, the rest is in the bundle', () => {
    const modules = fs.readdirSync(path.join(installed, 'node_modules'));
    assert.ok(modules.includes('fs-native-extensions'), modules.join(', '));
    assert.deepEqual(modules.filter((name) => BUNDLED.includes(name)), []);
  });

  test('`ipanalyse --version` prints the package version', () => {
    assert.equal(must(command, ['--version'], { env: CHILD_ENV }).trim(), VERSION);
  });

  test('a run with --settings decides and writes what the checkout writes for the same input', () => {
    const installedDir = path.join(work, 'run-installed');
    const checkoutDir = path.join(work, 'run-checkout');
    const result = run(command, ['--settings', exampleSettings(installedDir), ...EXAMPLE_RUN], { env: CHILD_ENV });
    assert.equal(result.status, 0, result.stderr);
    const reference = runCli(['--settings', exampleSettings(checkoutDir), ...EXAMPLE_RUN]);
    assert.equal(reference.status, 0, reference.stderr);
    const map = fs.readFileSync(path.join(installedDir, 'ip_blocks.map'), 'utf8');
    assert.match(map, / ban\n/);
    assert.equal(map, fs.readFileSync(path.join(checkoutDir, 'ip_blocks.map'), 'utf8'));
    assert.equal(fs.readFileSync(path.join(installedDir, 'restricted_ip.log'), 'utf8'), fs.readFileSync(path.join(checkoutDir, 'restricted_ip.log'), 'utf8'));
  });

  test('installed, the defaults are /etc/ipanalyse, /var/lib/ipanalyse and /var/log/ipanalyse', { skip: fs.existsSync('/etc/ipanalyse/ip_blocks.conf') ? 'this machine has an /etc/ipanalyse/ip_blocks.conf of its own' : false }, () => {
    const shown = JSON.parse(must(command, ['check-config', '--json'], { env: CHILD_ENV }));
    assert.equal(shown.file, null);
    assert.deepEqual(shown.settings.BLOCKEDFILE, { value: '/var/lib/ipanalyse/ip_blocks.map', origin: 'default' });
    assert.deepEqual(shown.settings.LOGFILE, { value: '/var/log/ipanalyse/restricted_ip.log', origin: 'default' });
    assert.match(must(command, ['check-config'], { env: CHILD_ENV }), /^no settings file at \/etc\/ipanalyse\/ip_blocks\.conf: every value is the default\n/);
  });

  test('a checkout keeps the original layout under its own directory', () => {
    const shown = JSON.parse(runCli(['check-config', '--json']).stdout);
    assert.equal(shown.file, path.join(REPO_ROOT, 'settings/ip_blocks.conf'));
    assert.equal(shown.settings.BLOCKEDFILE.value, path.join(REPO_ROOT, 'settings/ip_blocks.map'));
    assert.equal(shown.settings.LOGFILE.value, path.join(REPO_ROOT, 'log/restricted_ip.log'));
  });

  describe('the systemd units, as installed, in that root', { skip: systemdAnalyze ? false : 'systemd-analyze is not installed (Debian package systemd)' }, () => {
    const units = ['ipanalyse.service', 'ipanalyse.timer'];
    const unitText = (unit: string) => fs.readFileSync(path.join(installed, 'contrib/systemd', unit), 'utf8');

    test('systemd-analyze verify finds nothing to say, ExecStart included', () => {
      // The root needs the system's own units (sysinit.target, timers.target) beside ours.
      fs.cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
      fs.mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
      for (const unit of units) fs.copyFileSync(path.join(installed, 'contrib/systemd', unit), path.join(root, 'etc/systemd/system', unit));
      const result = run(systemdAnalyze!, ['verify', '--man=no', `--root=${root}`, ...units]);
      // verify exits 0 after a setting it ignores; only its silence says every line was understood.
      assert.equal(`${result.stdout}${result.stderr}`, '');
      assert.equal(result.status, 0);
    });

    test('only "retry later" (75: the lock, a reload still pending) counts as success', () => {
      const success = unitText('ipanalyse.service').match(/^SuccessExitStatus=(.*)$/m)?.[1].split(/\s+/).map(Number);
      assert.deepEqual(success, [ExitCode.locked]);
    });

    test('the timer starts the service every minute and catches up on a missed one', () => {
      const timer = unitText('ipanalyse.timer');
      assert.match(timer, /^OnCalendar=\*-\*-\* \*:\*:00$/m);
      assert.match(timer, /^Persistent=true$/m);
      const next = run(systemdAnalyze!, ['calendar', '--iterations=2', '*-*-* *:*:00']);
      assert.equal(next.status, 0, next.stderr);
      const times = [...next.stdout.matchAll(/(?:Next elapse|Iter\. #2): \w+ (\S+ \S+)/g)].map((match) => Date.parse(match[1].replace(' ', 'T')));
      assert.equal(times[1] - times[0], 60_000, next.stdout);
    });
  });
});

describe('the logrotate snippet, with logrotate', { skip: logrotate ? false : 'logrotate is not installed' }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-logrotate-'));
  const changeLog = path.join(work, 'restricted_ip.log');
  const config = path.join(work, 'logrotate.conf');
  const state = path.join(work, 'state');
  const owner = os.userInfo().username;
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();

  before(() => {
    // As shipped but for where the log is and whose it is: the service's user does not exist here.
    const shipped = fs.readFileSync(path.join(REPO_ROOT, 'contrib/logrotate/ipanalyse'), 'utf8');
    fs.writeFileSync(config, shipped.replaceAll('/var/log/ipanalyse', work).replaceAll('ipanalyse ipanalyse', `${owner} ${group}`));
    fs.writeFileSync(changeLog, 'an old run\n');
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  test('logrotate -d reads it without error and would rotate the change log', () => {
    const result = run(logrotate!, ['-d', '-f', '-s', state, config]);
    const said = `${result.stdout}${result.stderr}`;
    assert.equal(result.status, 0, said);
    assert.doesNotMatch(said, /^error:/m);
    assert.match(said, new RegExp(`renaming ${changeLog} to ${changeLog}\\.1\\n`));
    assert.match(said, new RegExp(`creating new ${changeLog} mode = 0644`));
  });

  test('after a real rotation, the next run appends to the new change log and the old lines stay rotated', () => {
    must(logrotate!, ['-f', '-s', state, config]);
    assert.equal(fs.readFileSync(`${changeLog}.1`, 'utf8'), 'an old run\n');
    assert.equal(fs.readFileSync(changeLog, 'utf8'), '');
    const map = path.join(work, 'ip_blocks.map');
    fs.copyFileSync(path.join(EXAMPLE, 'previous.map'), map);
    const result = runCli(['--settings', path.join(EXAMPLE, 'ip_blocks.conf'), '--map', map, '--changelog', changeLog, ...EXAMPLE_RUN]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(fs.readFileSync(changeLog, 'utf8'), /^2026-11-20 12:00 new bulks: 198.51.100.7$/m);
    assert.doesNotMatch(fs.readFileSync(changeLog, 'utf8'), /an old run/);
    assert.equal(fs.readFileSync(`${changeLog}.1`, 'utf8'), 'an old run\n');
  });
});
