/**
 * The incremental read against the full one: a cron simulation, a run every
 * minute for hours, over one log that grows as a server writes it (lines
 * logged late, a few stamped far in the past or the future, garbage, a line
 * caught half written), through a rotation by rename, a copytruncate, a
 * rotation into a compressed generation, a run killed after it kept its
 * state, a state lost, a corrupt state, and a clock stepped back. Each minute
 * one installation runs incrementally (MAP.state) and another with --full on
 * the same log; their maps, change logs and summaries must be the same after
 * every run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { digestFileOf, readWindowsIncremental } from '../src/read/incremental.js';
import { analysisWindow, readWindows } from '../src/read/read-window.js';
import type { WindowStats } from '../src/read/window-stats.js';
import { type RunReport, runAnalysis, stateFileOf } from '../src/run.js';
import { type Settings, defaultSettings } from '../src/settings/settings.js';
import { mulberry32 } from './support/log-generator.js';
import { readIfExists, withScratchDirectory } from './support/files.js';
import { CLI } from './support/paths.js';
import { CHILD_ENV } from './support/run-cli.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const START = Date.UTC(2026, 10, 20, 6, 0, 0) / 1000;

function clfTime(epoch: number): string {
  const d = new Date(epoch * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** A population: many quiet clients, a few that hammer the API in phases, listed ones, bad user agents. */
class Traffic {
  private readonly random = mulberry32(20261120);
  private readonly quiet = Array.from({ length: 300 }, (_, i) => (i % 4 === 0 ? `2001:db8:${(i >> 8).toString(16)}::${(i & 255).toString(16)}` : `198.51.${i >> 8}.${i & 255}`));
  private readonly heavy = ['203.0.113.7', '203.0.113.8', '2001:db8:ff::1', '203.0.113.9'];
  private oneOff = 0;

  /** `tidy`: without the lines a block's digest cannot hold (garbage, no address, stamped ahead of the clock). */
  constructor(private readonly tidy = false) {}

  /** The lines a server writes between `from` (exclusive) and `to`, as bytes, in the order it writes them. */
  minute(from: number, to: number, run: number): string {
    const lines: string[] = [];
    const r = this.random;
    for (let t = from + 1; t <= to; t++) {
      const count = 2 + Math.floor(r() * 4);
      for (let i = 0; i < count; i++) {
        // Mostly now; some logged late (slow requests), a few far in the past, a few ahead of the clock.
        const roll = r();
        const stamp = roll < 0.15 ? t - Math.floor(r() * 110) : roll < 0.152 ? t - 600 - Math.floor(r() * 3000) : roll < 0.153 && !this.tidy ? t + 60 + Math.floor(r() * 600) : t;
        lines.push(this.line(stamp, this.quiet[Math.floor(r() * this.quiet.length)], r() < 0.3, r() < 0.02));
      }
      // Heavy clients come and go, so that bulks and blocks are made and released.
      for (const [k, address] of this.heavy.entries()) {
        const active = Math.floor((run + k * 37) / 100) % 2 === 0;
        if (active && r() < [0.12, 0.25, 0.45, 0.7][k]) lines.push(this.line(t - (r() < 0.1 ? Math.floor(r() * 100) : 0), address, true, k === 3, false));
      }
      if (r() < 0.05) lines.push(this.line(t, '192.0.2.1', true, false)); // whitelisted
      if (r() < 0.05) lines.push(this.line(t, '192.0.2.2', true, false)); // blacklisted
      // A blacklisted network's addresses are banned one by one while they have a line in the window: each comes once, and leaves.
      if (r() < 0.01) lines.push(this.line(t - (r() < 0.2 ? Math.floor(r() * 100) : 0), `192.0.2.${128 + Math.floor(r() * 128)}`, false, false));
      // Clients seen once: their rows outlive their lines in an incremental run's table, until it is made again.
      if (r() < 0.3) lines.push(this.line(t, `10.${(this.oneOff >> 16) & 255}.${(this.oneOff >> 8) & 255}.${this.oneOff++ & 255}`, r() < 0.5, false));
      if (r() < 0.01 && !this.tidy) lines.push('garbage that is no log line at all');
      if (r() < 0.01 && !this.tidy) lines.push(`not-an-address - - [${clfTime(t)}] "GET /search?q=1 HTTP/1.1" 200 12 "-" "curl/8"`);
    }
    return lines.map((line) => `${line}\n`).join('');
  }

  private line(time: number, address: string, api: boolean, badUa: boolean, mayBeBot = true): string {
    const r = this.random;
    const path = api ? ['/search?q=x', '/reverse?lat=1&lon=2', '/details?place_id=3'][Math.floor(r() * 3)] : `/static/${Math.floor(r() * 100)}.png`;
    const status = r() < 0.9 ? 200 : 404;
    const agent = badUa ? '-' : mayBeBot && r() < 0.01 ? 'BadBot/1.0' : 'Mozilla/5.0 (X11; Linux x86_64)';
    return `${address} - - [${clfTime(time)}] "GET ${path} HTTP/1.1" ${status} ${100 + Math.floor(r() * 900)} "-" "${agent}"`;
  }
}

/** Changes the lowest bit of the byte of `file` that `at` picks (a digit stays a digit). */
function flipByte(file: string, at: (bytes: Buffer) => number): void {
  const bytes = fs.readFileSync(file);
  bytes[at(bytes)] ^= 0x01;
  fs.writeFileSync(file, bytes);
}

function settingsFor(dir: string): Settings {
  return {
    ...defaultSettings(dir),
    MIN_LOG_SIZE: 0,
    BULKLONG_LIMIT: 300,
    BULKSHORT_LIMIT: 100,
    BULK_LOWER: 50,
    BULK_LOADFAC: 0,
    BLOCK_UPPER: 1500,
    BLOCK_LOWER: 1000,
    BLOCK_LOADFAC: 1,
    MAX_BULK_IPS: 2,
    MAX_UNREADABLE_SHARE: 0.5,
    UA_BLOCKLIST: ['BadBot'],
    WHITELIST: ['192.0.2.1'],
    BLACKLIST: ['192.0.2.2', '192.0.2.128/25'],
    ROTATED_LOGS: ['.1', '.2.gz'],
    INCREMENTAL: true,
    BLOCKEDFILE: path.join(dir, 'ip_blocks.map'),
    LOGFILE: path.join(dir, 'restricted_ip.log'),
  };
}

function statisticsOf(stats: WindowStats | undefined): unknown {
  if (stats === undefined) return undefined;
  const byAddress = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  return { clients: [...stats.clients.entries()].sort(byAddress), size: stats.clients.size, listed: [...stats.clients.listedAddresses].sort() };
}

/** What a run reports that a full read and an incremental one must agree on. */
function summaryOf(report: RunReport): unknown {
  return {
    stats: report.stats,
    limits: report.limits,
    skipped: report.skipped,
    changes: report.changes,
    changeLines: report.changeLines,
    map: report.map && { content: report.map.content, counts: report.map.counts, changed: report.map.changed },
    problems: report.problems,
    sight: report.sight,
    files: report.files.map(({ seekReads: _, ...file }) => file),
    logs: report.logs.map(({ files: _, ...log }) => log),
    safetyValve: report.safetyValve,
  };
}

test('incremental runs: the same map, change log and summary as full reads, run after run', () =>
  withScratchDirectory('ipanalyse-incremental-', async (root) => {
    const logFile = path.join(root, 'access.log');
    const incrementalDir = path.join(root, 'incremental');
    const fullDir = path.join(root, 'full');
    fs.mkdirSync(incrementalDir);
    fs.mkdirSync(fullDir);
    const incremental = settingsFor(incrementalDir);
    const full = settingsFor(fullDir);
    const stateFile = stateFileOf(incremental.BLOCKEDFILE);
    const traffic = new Traffic();
    // An hour of log before the first run.
    let written = START - 3600;
    fs.writeFileSync(logFile, traffic.minute(written - 600, written, 0));
    let halfLine = '';
    const notes = new Map<string, number>();
    const RUNS = 420;
    let compared = 0;
    let remade = 0;
    let now = START;
    for (let run = 0; run < RUNS; run++, now += 60) {
      // The server writes up to now; sometimes the last line is caught half written.
      let text = halfLine + traffic.minute(written, now, run);
      written = now;
      halfLine = '';
      if (run % 7 === 3) {
        const cut = text.lastIndexOf('\n', text.length - 2) + 1 + 20;
        halfLine = text.slice(cut);
        text = text.slice(0, cut);
      }
      fs.appendFileSync(logFile, text);

      if (run === 90 || run === 330) {
        // logrotate by rename (create): the server goes on in a new file.
        if (fs.existsSync(`${logFile}.1`)) fs.writeFileSync(`${logFile}.2.gz`, zlib.gzipSync(fs.readFileSync(`${logFile}.1`)));
        fs.renameSync(logFile, `${logFile}.1`);
        fs.writeFileSync(logFile, '');
      }
      if (run === 200) {
        // copytruncate: copied away, then emptied in place.
        fs.copyFileSync(logFile, `${logFile}.1`);
        fs.truncateSync(logFile, 0);
      }
      if (run === 150) fs.rmSync(stateFile); // a state lost
      if (run === 250) fs.writeFileSync(stateFile, '{"version": 1, "logs": [tr'); // a state torn
      // A byte of the client table changed on disk: its header (two lines) still fits, its table does not.
      if (run === 260) flipByte(stateFile, (bytes) => bytes.indexOf(0x0a, bytes.indexOf(0x0a) + 1) + 7);
      if (run === 262) flipByte(digestFileOf(stateFile), (bytes) => bytes.length - 3);
      // A digit of a block's figures changed: still JSON, and still a block, but not the header its hash vouches for.
      if (run === 266) {
        flipByte(stateFile, (bytes) => {
          const blocks = bytes.indexOf('"blocks":[[');
          return bytes.findIndex((byte, i) => i > blocks + 11 && byte >= 0x30 && byte <= 0x39);
        });
      }
      const clockStep = run === 270 ? -120 : 0; // the clock stepped back for a run
      const at = new Date((now + clockStep) * 1000);
      if (run === 120 || run === 300) {
        // Killed after keeping its state, before writing the map: neither installation's map moves this minute.
        await readWindowsIncremental([{ path: logFile, formats: incremental.LOG_FORMAT }], incremental, analysisWindow(incremental, at), [], { stateFile, write: true });
        continue;
      }
      if (run % 5 === 0) {
        // Beneath the outputs, the statistics: every client's counts, and the listed addresses that ban a network's clients one by one.
        const window = analysisWindow(incremental, at);
        const viaState = await readWindowsIncremental([{ path: logFile, formats: incremental.LOG_FORMAT }], incremental, window, [], { stateFile, write: false });
        const whole = await readWindows([{ path: logFile, formats: full.LOG_FORMAT }], full, window, []);
        assert.deepEqual(statisticsOf(viaState.stats), statisticsOf(whole.stats), `run ${run}: statistics differ (${viaState.note})`);
      }
      const before = run === 180 ? readIfExists(stateFile) : undefined;
      const a = await runAnalysis({ settings: incremental, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: false });
      // Killed after writing the map, before keeping its state: the next run goes on from the state before.
      if (before !== undefined) fs.writeFileSync(stateFile, before);
      const b = await runAnalysis({ settings: full, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: false, full: true });
      if (run === 260) assert.match(a.stateNote ?? '', /discarded \(corrupt client table\)/);
      if (run === 266) assert.match(a.stateNote ?? '', /^state: corrupt \(header\); the window was read whole/);
      // A state that describes the log is never judged otherwise: that would cost a whole read, with the same result.
      assert.doesNotMatch(a.stateNote ?? '', /counts below zero/, `run ${run}`);
      if (/dropped \d+ clients/.test(a.stateNote ?? '')) remade++;
      const note = (a.stateNote ?? '').replace(/ at .*|\(.*\)/g, '');
      notes.set(note, (notes.get(note) ?? 0) + 1);
      assert.deepEqual(summaryOf(a), summaryOf(b), `run ${run}: summaries differ (${a.stateNote})`);
      assert.equal(readIfExists(incremental.BLOCKEDFILE), readIfExists(full.BLOCKEDFILE), `run ${run}: maps differ`);
      assert.equal(readIfExists(incremental.LOGFILE), readIfExists(full.LOGFILE), `run ${run}: change logs differ`);
      compared++;
    }
    // The simulation must exercise what it is about: runs continued from a state, and changes made.
    const continued = notes.get('state: continued from the run') ?? 0;
    assert.ok(continued > RUNS / 2, `only ${continued} runs continued from a state: ${JSON.stringify([...notes])}`);
    assert.ok(remade >= 2, `the table was made again only ${remade} times: ${JSON.stringify([...notes])}`);
    const changeLog = readIfExists(full.LOGFILE) ?? '';
    for (const kind of ['new bulks', 'new block', 'unblocked', 'debulked']) assert.match(changeLog, new RegExp(kind), `no ${kind} in the change log`);
    assert.ok(compared >= RUNS - 2);
    if (process.env.INCREMENTAL_NOTES) console.log([...notes], changeLog);
  }));

/**
 * Cron minutes on a tidy log in `root` (its access.log, an hour of it
 * before the first run), each run incrementally (root/incremental) and with
 * --full (root/full): their maps, change logs and summaries must agree
 * after every run. `before` comes ahead of each minute's runs. The
 * incremental runs' reports.
 */
async function tidyMinutes(root: string, runs: number, before: (run: number, stateFile: string) => void = () => {}): Promise<RunReport[]> {
  const logFile = path.join(root, 'access.log');
  const incremental = settingsFor(path.join(root, 'incremental'));
  const full = settingsFor(path.join(root, 'full'));
  const traffic = new Traffic(true);
  let written = START - 3600;
  fs.writeFileSync(logFile, traffic.minute(written - 600, written, 0));
  const reports: RunReport[] = [];
  for (let run = 0, now = START; run < runs; run++, now += 60) {
    fs.appendFileSync(logFile, traffic.minute(written, now, run));
    written = now;
    before(run, stateFileOf(incremental.BLOCKEDFILE));
    const at = new Date(now * 1000);
    const a = await runAnalysis({ settings: incremental, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: false });
    const b = await runAnalysis({ settings: full, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: false, full: true });
    if (run > 0) assert.match(a.stateNote ?? '', /continued from the run/, `run ${run}`);
    assert.deepEqual(summaryOf(a), summaryOf(b), `run ${run}: summaries differ (${a.stateNote})`);
    assert.equal(readIfExists(incremental.BLOCKEDFILE), readIfExists(full.BLOCKEDFILE), `run ${run}: maps differ`);
    assert.equal(readIfExists(incremental.LOGFILE), readIfExists(full.LOGFILE), `run ${run}: change logs differ`);
    reports.push(a);
  }
  return reports;
}

test('incremental runs on a tidy log: the blocks a boundary moves over are counted again from their digests, exactly', () =>
  withScratchDirectory('ipanalyse-incremental-digests-', async (root) => {
    const reports = await tidyMinutes(root, 200, (run, stateFile) => {
      // The digests lost, or a byte of one changed: their blocks are read from the log, and the runs go on from the state.
      if (run === 60) fs.rmSync(digestFileOf(stateFile));
      if (run === 90) flipByte(digestFileOf(stateFile), (bytes) => bytes.length - 2000);
    });
    const notes = reports.map((report) => report.stateNote ?? '');
    const fromDigests = notes.reduce((sum, note) => sum + Number(/counted (\d+) lines again/.exec(note)?.[1] ?? 0), 0);
    const remade = notes.filter((note) => /dropped \d+ clients/.test(note)).length;
    // Every line leaves the short window and then the long one: most of them were counted again from a digest, twice.
    const lines = fs.readFileSync(path.join(root, 'access.log'), 'latin1').split('\n').length;
    assert.ok(fromDigests > lines, `only ${fromDigests} lines counted from digests, of ${lines}`);
    // Digests made before the table was made again name its old rows: the runs after it count them renumbered.
    assert.ok(remade >= 2, `the table was made again only ${remade} times`);
  }));

test('a link planted where the digests are kept is not followed: the runs go on, reading moved blocks from the log', () =>
  withScratchDirectory('ipanalyse-incremental-link-', async (root) => {
    const victim = path.join(root, 'victim');
    fs.writeFileSync(victim, 'not the run\'s to append to, or to empty\n');
    const digestFile = digestFileOf(stateFileOf(settingsFor(path.join(root, 'incremental')).BLOCKEDFILE));
    fs.mkdirSync(path.dirname(digestFile));
    fs.symlinkSync(victim, digestFile);
    for (const report of await tidyMinutes(root, 20)) assert.doesNotMatch(report.stateNote ?? '', /counted \d+ lines again/);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'not the run\'s to append to, or to empty\n');
    assert.ok(fs.lstatSync(digestFile).isSymbolicLink());
  }));

test('INCREMENTAL = False keeps no state: a real run removes the one left from before, a dry run leaves it', () =>
  withScratchDirectory('ipanalyse-incremental-off-', async (root) => {
    const logFile = path.join(root, 'access.log');
    const settings = settingsFor(root);
    const stateFile = stateFileOf(settings.BLOCKEDFILE);
    fs.writeFileSync(logFile, new Traffic(true).minute(START - 600, START, 0));
    const at = new Date(START * 1000);
    await runAnalysis({ settings, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: false });
    assert.ok(fs.existsSync(stateFile) && fs.existsSync(digestFileOf(stateFile)));
    const off = { ...settings, INCREMENTAL: false };
    await runAnalysis({ settings: off, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: true });
    assert.ok(fs.existsSync(stateFile) && fs.existsSync(digestFileOf(stateFile)), 'a dry run writes nothing, and removes nothing');
    await runAnalysis({ settings: off, logFile, now: at, loadAverage: 1, format: 'nginx', dryRun: false });
    assert.ok(!fs.existsSync(stateFile) && !fs.existsSync(digestFileOf(stateFile)));
  }));

/** The settings of settingsFor as a settings file, for runs of bin/ipanalyse. */
const SETTINGS_FILE = `MIN_LOG_SIZE = 0
BULKLONG_LIMIT = 300
BULKSHORT_LIMIT = 100
BULK_LOWER = 50
BULK_LOADFAC = 0
BLOCK_UPPER = 1500
BLOCK_LOWER = 1000
BLOCK_LOADFAC = 1
MAX_BULK_IPS = 2
UA_BLOCKLIST = ('BadBot',)
WHITELIST = '192.0.2.1'
BLACKLIST = '192.0.2.2 192.0.2.128/25'
INCREMENTAL = True
`;

test('kill -9 at random instants of incremental runs: the next run decides as a full read from the same map', () =>
  withScratchDirectory('ipanalyse-incremental-kill-', async (root) => {
    const settingsFile = path.join(root, 'ip_blocks.conf');
    fs.writeFileSync(settingsFile, SETTINGS_FILE);
    const logFile = path.join(root, 'access.log');
    const work = path.join(root, 'work');
    const check = path.join(root, 'check');
    fs.mkdirSync(work);
    fs.mkdirSync(check);
    const args = (dir: string, now: number, extra: string[] = []) => ['--settings', settingsFile, '--map', path.join(dir, 'ip_blocks.map'), '--changelog', path.join(dir, 'restricted_ip.log'), '--loadavg', '1', '--now', formatNow(now), ...extra, logFile];
    const traffic = new Traffic();
    let written = START - 3600;
    fs.writeFileSync(logFile, traffic.minute(written - 600, written, 0));
    // How long a run takes, to spread the kills over it.
    const started = performance.now();
    assert.equal(spawnSync(process.execPath, [CLI, ...args(work, written)], { env: CHILD_ENV }).status, 0);
    const runMs = performance.now() - started;
    // The state holds every client's address: for the run's user alone, whatever the umask, where the map is for the web server.
    assert.equal(fs.statSync(path.join(work, 'ip_blocks.map.state')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(work, 'ip_blocks.map')).mode & 0o777, 0o644);
    const KILLS = 40;
    const random = mulberry32(7);
    let killedMidway = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const now = written + 60;
      fs.appendFileSync(logFile, traffic.minute(written, now, kill));
      written = now;
      const child = spawn(process.execPath, [CLI, ...args(work, now)], { env: CHILD_ENV, stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise((resolve) => setTimeout(resolve, random() * runMs));
      if (child.kill('SIGKILL')) killedMidway++;
      await exited;
      // The map and change log as the kill left them, for a full read to go on from.
      for (const name of ['ip_blocks.map', 'restricted_ip.log']) {
        const text = readIfExists(path.join(work, name));
        if (text === undefined) fs.rmSync(path.join(check, name), { force: true });
        else fs.writeFileSync(path.join(check, name), text);
      }
      const next = now + 60;
      fs.appendFileSync(logFile, traffic.minute(written, next, kill));
      written = next;
      const a = spawnSync(process.execPath, [CLI, ...args(work, next, ['--verbose'])], { env: CHILD_ENV, encoding: 'utf8' });
      const b = spawnSync(process.execPath, [CLI, ...args(check, next, ['--full'])], { env: CHILD_ENV, encoding: 'utf8' });
      assert.equal(a.status, 0, a.stderr);
      assert.equal(b.status, 0, b.stderr);
      assert.equal(readIfExists(path.join(work, 'ip_blocks.map')), readIfExists(path.join(check, 'ip_blocks.map')), `kill ${kill}: maps differ (${/state: .*/.exec(a.stdout)?.[0]})`);
      assert.equal(readIfExists(path.join(work, 'restricted_ip.log')), readIfExists(path.join(check, 'restricted_ip.log')), `kill ${kill}: change logs differ`);
    }
    assert.ok(killedMidway > KILLS / 3, `only ${killedMidway} of ${KILLS} kills found the run still going`);
  }));

function formatNow(epoch: number): string {
  return new Date(epoch * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

test('a run whose state gives way to a whole read warns once of what it skipped', () =>
  withScratchDirectory('ipanalyse-incremental-warnings-', async (root) => {
    const logFile = path.join(root, 'access.log');
    const at = START + 3600;
    fs.writeFileSync(logFile, Array.from({ length: 50 }, (_, i) => `198.51.100.${i} - - [${clfTime(at - 60 + i)}] "GET /search?q=${i} HTTP/1.1" 200 12 "-" "curl/8"\n`).join(''));
    // A rotated generation that is no file: skipped, with a warning.
    fs.mkdirSync(`${logFile}.1`);
    // Smaller than MIN_LOG_SIZE, and with its window in a compressed generation: the two ways to a whole read.
    const small = { ...settingsFor(root), MIN_LOG_SIZE: 1 << 20 };
    fs.writeFileSync(`${logFile}.2.gz`, zlib.gzipSync(`198.51.100.200 - - [${clfTime(at - 3000)}] "GET /search HTTP/1.1" 200 12 "-" "curl/8"\n`));
    const compressed = { ...settingsFor(root), ROTATED_LOGS: ['.1', '.2.gz'] };
    fs.writeFileSync(logFile, `198.51.100.201 - - [${clfTime(at - 2000)}] "GET /search HTTP/1.1" 200 12 "-" "curl/8"\n${fs.readFileSync(logFile, 'latin1')}`);
    for (const [settings, why] of [
      [small, /smaller than MIN_LOG_SIZE/],
      [compressed, /compressed generation/],
    ] as const) {
      const report = await runAnalysis({ settings, logFile, now: new Date(at * 1000), loadAverage: 1, format: 'nginx', dryRun: true });
      assert.match(report.stateNote ?? '', why);
      assert.deepEqual(
        report.warnings.filter((warning) => warning.startsWith('skipping')),
        [`skipping ${logFile}.1: is a directory, not a regular file`],
        report.warnings.join('\n'),
      );
    }
  }));
