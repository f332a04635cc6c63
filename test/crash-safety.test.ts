/**
 * "Nothing lost, nothing broken": real runs of bin/ipanalyse killed with
 * SIGKILL at random instants, a held and a stale lock, a full disk and a
 * read-only map directory. Every check looks only at what the web server and
 * the operator see: the map file, the change log and the directory.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIfExists } from './support/files.js';
import { holdRunLock } from './support/lock-holder.js';
import { appendChangeLines } from '../src/write/atomic-write.js';
import { installedCopy } from './support/installed-copy.js';
import { CLI, FIXTURES, REPO_ROOT } from './support/paths.js';
import { CHILD_ENV, runCli } from './support/run-cli.js';
import { formatLogTimestamp, mulberry32 } from './support/log-generator.js';

const SEED = 20261120;
const KILLS = 200;
const APPEND_KILLS = 30;
// Kills land this far into the append's write(2), which takes about as long for 16 MB.
const APPEND_KILL_WINDOW_MS = 8;
const WORKERS = Math.min(4, Math.max(2, os.availableParallelism()));
const NOW = '2026-11-20 12:00:00';
const END = Date.UTC(2026, 10, 20, 12) / 1000;
const MAP = 'ip_blocks.map';
const CHANGES = 'restricted_ip.log';
const TEMP_MARK = '.ipanalyse-tmp-';
const SMALL = path.join(FIXTURES, 'cases/state-machine');

const MAP_LINE = /^\S+ (bulk|block|ban)$/;
const CHANGE_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d (unblocked:| debulked:|new bulks:|dir\.block:| ua block:|new block:) \S+(, \S+)*$/;

function assertWholeMap(text: string, what: string): void {
  assert.ok(text === '' || text.endsWith('\n'), `${what}: the map ends in a torn line`);
  for (const line of text.split('\n').slice(0, -1)) assert.match(line, MAP_LINE, `${what}: a map line that is not ADDRESS STATE`);
}

function assertWholeChangeLog(text: string, what: string): void {
  assert.ok(text === '' || text.endsWith('\n'), `${what}: the change log ends in a torn line`);
  for (const line of text.split('\n').slice(0, -1)) assert.match(line, CHANGE_LINE, `${what}: a torn or malformed change-log line`);
}

/** Change logs of 100 kB: on a difference, say where and show the bytes around it, not two truncated copies. */
function assertSameText(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 80), at + 80));
  assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}; they differ at byte ${at}:\n  actual:   ${around(actual)}\n  expected: ${around(expected)}`);
}

function assertOneLine(stderr: string, what: string): void {
  assert.match(stderr, /^ipanalyse: [^\n]+\n$/, `${what}: one line on stderr, got:\n${stderr}`);
}

/** Files other than the map, the change log and the incremental state a run keeps beside the map. */
function leftovers(directory: string): string[] {
  return fs.readdirSync(directory).filter((name) => name !== MAP && name !== CHANGES && name !== `${MAP}.state` && name !== `${MAP}.state.lines`);
}

function tempFiles(directory: string): string[] {
  return fs.readdirSync(directory).filter((name) => name.includes(TEMP_MARK));
}

// ---------------------------------------------------------------------------
// A big run: enough log, clients and map for every phase to take measurable time

const BROWSER = 'Mozilla/5.0';

/** Writes access.log (~2.5 MB), previous.map (10500 entries) and ip_blocks.conf for a run that makes every kind of change but dir.block. */
function generateBigInputs(directory: string): void {
  const rng = mulberry32(SEED);
  const between = (from: number, until: number) => from + Math.floor(rng() * (until - from));
  const events: [number, string][] = [];
  const hits = (address: string, count: number, from: number, until: number, ua = BROWSER) => {
    for (let i = 0; i < count; i++) {
      const t = between(from, until);
      events.push([t, `${address} - - [${formatLogTimestamp(t)}] "GET /search?q=${between(0, 1e6)} HTTP/1.1" 200 ${between(100, 5000)} "-" "${ua}"`]);
    }
  };
  const map: string[] = [];
  // Stay as they were: in the map and active in the short window.
  for (let i = 0; i < 2500; i++) {
    const address = `10.1.${i >> 8}.${i & 255}`;
    map.push(`${address} ${i % 2 ? 'bulk' : 'block'}`);
    hits(address, 5, END - 600, END - 60);
  }
  // Released (unblocked, debulked): in the map, silent.
  for (let i = 0; i < 8000; i++) map.push(`10.2.${i >> 8}.${i & 255} ${i % 3 ? 'bulk' : 'block'}`);
  // New bulks, ua blocks (curl) and new blocks (over BLOCK_UPPER), in a log that starts before the window.
  for (let i = 0; i < 40; i++) {
    const address = i % 2 ? `203.0.113.${i}` : `2001:db8::${i.toString(16)}`;
    if (i < 3) hits(address, 450, END - 3500, END - 5);
    else hits(address, 150, END - 4200, END, i % 6 === 0 ? 'curl/8.5.0' : BROWSER);
  }
  for (let i = 0; i < 2000; i++) hits(`198.18.${i >> 8}.${i & 255}`, between(1, 6), END - 4200, END);
  events.sort((a, b) => a[0] - b[0]);
  fs.writeFileSync(path.join(directory, 'access.log'), events.map((event) => `${event[1]}\n`).join(''));
  fs.writeFileSync(path.join(directory, 'previous.map'), map.map((line) => `${line}\n`).join(''));
  fs.writeFileSync(
    path.join(directory, 'ip_blocks.conf'),
    "BULKLONG_LIMIT = 100\nBULKSHORT_LIMIT = 100\nBLOCK_UPPER = 400\nBLOCK_LOWER = 200\nBULK_LOWER = 50\nMIN_LOG_SIZE = 0\nUA_BLOCKLIST = ('curl/',)\n",
  );
}

/** What a run's directory shows of its progress: lock taken, temporary map created, map renamed, lock released. */
type Milestone = 'lock' | 'temp' | 'map' | 'unlock';

interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the spawn. */
  at: Partial<Record<Milestone, number>>;
  exitMs: number;
}

/** Starts a real run in `work`, async so that other workers' kill timers keep firing; `onMilestone` sees its progress. */
function startRun(args: string[], work: string, onMilestone?: (milestone: Milestone) => void): { child: ChildProcess; done: Promise<RunResult> } {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const at: RunResult['at'] = {};
  const reach = (milestone: Milestone) => {
    if (at[milestone] !== undefined) return;
    at[milestone] = performance.now() - started;
    onMilestone?.(milestone);
  };
  let lockRenames = 0;
  const watcher = fs.watch(work, (event, name) => {
    if (name === `${MAP}.lock`) reach(event === 'rename' && ++lockRenames === 2 ? 'unlock' : 'lock');
    else if (name?.includes(TEMP_MARK)) reach('temp');
    else if (name === MAP) reach('map');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (data) => (stdout += data));
  child.stderr!.on('data', (data) => (stderr += data));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      watcher.close();
      resolve({ status, signal, stdout, stderr, at, exitMs: performance.now() - started });
    });
  });
  return { child, done };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// ---------------------------------------------------------------------------
// Mounts (root only); everything mounted is unmounted in after()

const mounted: string[] = [];
let mountRefused: string | undefined;

/** Creates `directory` with a tmpfs of `size` mounted on it; returns it. */
function mountTmpfs(directory: string, size: string): string {
  fs.mkdirSync(directory);
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', directory], { encoding: 'utf8' });
  assert.equal(result.status, 0, `mount: ${result.stderr}`);
  mounted.push(directory);
  return directory;
}

/** Fills the file system of `directory` with a filler file, then frees `freePages` whole pages of it. */
/** The small case's inputs, copied under `dir` (world-readable, as scratch is), for a run as another user. */
function copyCaseInputs(dir: string): string {
  const caseDir = path.join(dir, 'case');
  fs.mkdirSync(caseDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(caseDir, 0o755);
  for (const name of ['ip_blocks.conf', 'access.log']) {
    fs.copyFileSync(path.join(SMALL, name), path.join(caseDir, name));
    fs.chmodSync(path.join(caseDir, name), 0o644);
  }
  return caseDir;
}

function fillUp(directory: string, freePages: number): void {
  const filler = path.join(directory, 'filler');
  const fd = fs.openSync(filler, 'w');
  const page = Buffer.alloc(4096, 120);
  try {
    for (;;) fs.writeSync(fd, page);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  const size = fs.fstatSync(fd).size;
  fs.ftruncateSync(fd, Math.max(0, Math.floor(size / 4096) - freePages) * 4096);
  fs.closeSync(fd);
}

describe('nothing lost, nothing broken: real runs of bin/ipanalyse', () => {
  let inputs: string;
  let scratch: string;
  let previous: string;
  const big = () => ['--settings', path.join(inputs, 'ip_blocks.conf'), '--map', MAP, '--changelog', CHANGES, '--now', NOW, '--loadavg', '14', path.join(inputs, 'access.log')];
  const small = (map: string, changes: string) => ['--settings', path.join(SMALL, 'ip_blocks.conf'), '--map', map, '--changelog', changes, '--now', NOW, '--loadavg', '14', path.join(SMALL, 'access.log')];
  const newWork = () => fs.mkdtempSync(path.join(scratch, 'w-'));

  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-crash-'));
    // Traversable, so that a run as nobody fails on the map directory, not on the way to it.
    fs.chmodSync(scratch, 0o755);
    inputs = path.join(scratch, 'inputs');
    fs.mkdirSync(inputs);
    generateBigInputs(inputs);
    previous = fs.readFileSync(path.join(inputs, 'previous.map'), 'utf8');
    if (process.getuid?.() !== 0) mountRefused = 'not running as root';
    else {
      const probe = path.join(scratch, 'probe');
      fs.mkdirSync(probe);
      const result = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { encoding: 'utf8' });
      if (result.status === 0) spawnSync('umount', [probe]);
      else mountRefused = `mount -t tmpfs failed: ${(result.stderr || String(result.error)).trim()}`;
    }
  });

  after(() => {
    for (const directory of mounted.reverse()) {
      if (spawnSync('umount', [directory]).status !== 0) spawnSync('umount', ['-l', directory]);
    }
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  test(`kill -9 at ${KILLS}+ random instants: the map is the old or the new one, the change log never torn, the next run recovers`, async (t) => {
    // Uninterrupted runs give the expected results and each phase's length, at the concurrency the kills use.
    const calibrate = async () => {
      const work = newWork();
      fs.writeFileSync(path.join(work, MAP), previous, { mode: 0o640 });
      const inode = fs.statSync(path.join(work, MAP)).ino;
      const first = await startRun(big(), work).done;
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stderr, '');
      const stat = fs.statSync(path.join(work, MAP));
      assert.notEqual(stat.ino, inode, 'the map is replaced by a rename, not rewritten in place');
      assert.equal(stat.mode & 0o777, 0o640, 'the map keeps its mode');
      const newMap = fs.readFileSync(path.join(work, MAP), 'utf8');
      const changes = fs.readFileSync(path.join(work, CHANGES), 'utf8');
      const second = await startRun(big(), work).done;
      assert.equal(second.status, 0, second.stderr);
      const nextMap = fs.readFileSync(path.join(work, MAP), 'utf8');
      const nextChanges = fs.readFileSync(path.join(work, CHANGES), 'utf8').slice(changes.length);
      assert.deepEqual(leftovers(work), []);
      const { lock, temp, map, unlock } = first.at;
      assert.ok(lock !== undefined && temp !== undefined && map !== undefined && unlock !== undefined, `every milestone seen: ${JSON.stringify(first.at)}`);
      return { newMap, changes, nextMap, nextChanges, phases: [lock, temp - lock, map - temp, unlock - map, first.exitMs - unlock] };
    };
    const samples = (await Promise.all([...Array(WORKERS)].map(calibrate))).concat(await Promise.all([...Array(WORKERS)].map(calibrate)));
    const { newMap, changes, nextMap, nextChanges } = samples[0];
    for (const sample of samples) assert.deepEqual([sample.newMap, sample.changes, sample.nextMap, sample.nextChanges], [newMap, changes, nextMap, nextChanges], 'runs are deterministic');
    assertWholeMap(newMap, 'uninterrupted run');
    assertWholeChangeLog(changes, 'uninterrupted run');
    assert.notEqual(newMap, previous, 'the run changes the map');
    for (const label of ['unblocked:', 'debulked:', 'new bulks:', 'ua block:', 'new block:']) assert.ok(changes.includes(label), label);
    // A kill picks a phase, then an instant in it, timed from the milestone that opens it: the writes take
    // milliseconds out of hundreds, and a delay from the spawn alone would almost never land in them.
    const phases = (['startup', 'reading and deciding', 'writing the map', 'appending the change log', 'releasing the lock and exiting'] as const).map((name, i) => ({
      name,
      anchor: ([undefined, 'lock', 'temp', 'map', 'unlock'] as const)[i],
      // Half the last phase: a kill timed for its end would mostly find the run already gone.
      ms: Math.max(1, median(samples.map((sample) => sample.phases[i])) * (i === 4 ? 0.5 : 1)),
    }));
    t.diagnostic(`uninterrupted run (${WORKERS} at once, ms): ${phases.map((phase) => `${phase.name} ${phase.ms.toFixed(1)}`).join(', ')}; map ${previous.length} -> ${newMap.length} bytes, change log +${changes.length} bytes`);

    const outcomes = {
      'nothing yet (old map)': 0,
      'lock held (old map)': 0,
      'temporary file left (old map)': 0,
      'map replaced, change log not yet appended (new map)': 0,
      'change log cut short (new map)': 0,
      'change log appended, lock held (new map)': 0,
      'lock released (new map)': 0,
    };
    let killed = 0;
    let finished = 0;
    const killOnce = async (index: number) => {
      const rng = mulberry32(SEED + index);
      const phase = phases[Math.floor(rng() * phases.length)];
      const delay = rng() * phase.ms;
      const what = `kill #${index} (seed ${SEED + index}: ${delay.toFixed(1)} ms into ${phase.name})`;
      const work = newWork();
      const mapFile = path.join(work, MAP);
      const changeLog = path.join(work, CHANGES);
      fs.writeFileSync(mapFile, previous);
      const inode = fs.statSync(mapFile).ino;
      let timer: NodeJS.Timeout | undefined;
      const run = startRun(big(), work, (milestone) => {
        if (milestone === phase.anchor) timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
      });
      if (phase.anchor === undefined) timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
      const result = await run.done;
      clearTimeout(timer);
      if (result.signal !== 'SIGKILL') {
        assert.equal(result.status, 0, `${what}: ${result.stderr}`);
        assert.equal(readIfExists(mapFile), newMap, what);
        finished++;
        return;
      }
      killed++;
      const temps = tempFiles(work);
      const locked = fs.existsSync(`${mapFile}.lock`);
      const mapText = fs.readFileSync(mapFile, 'utf8');
      assertWholeMap(mapText, what);
      const isNew = mapText === newMap;
      assert.ok(isNew || mapText === previous, `${what}: the map is neither the previous nor the new one`);
      assert.equal(fs.statSync(mapFile).ino !== inode, isNew, `${what}: the map was written in place`);
      const logText = readIfExists(changeLog) ?? '';
      // Appended in place: a kill inside the write(2) leaves the first part of the lines, to be cut by the next run.
      assert.ok(changes.startsWith(logText), `${what}: the change log is not the first part of the run's lines`);
      const wholeLines = logText.slice(0, logText.lastIndexOf('\n') + 1);
      const torn = wholeLines !== logText;
      assertWholeChangeLog(wholeLines, what);
      assert.ok(logText === '' || isNew, `${what}: the change log tells of changes the map does not have`);
      const outcome: keyof typeof outcomes = !isNew
        ? temps.length > 0
          ? 'temporary file left (old map)'
          : locked
            ? 'lock held (old map)'
            : 'nothing yet (old map)'
        : !logText
          ? 'map replaced, change log not yet appended (new map)'
          : logText !== changes
            ? 'change log cut short (new map)'
            : locked
              ? 'change log appended, lock held (new map)'
              : 'lock released (new map)';
      outcomes[outcome]++;

      const next = await startRun(big(), work).done;
      assert.equal(next.status, 0, `${what}: the next run: ${next.stderr}`);
      const warnings = next.stderr.split('\n').slice(0, -1);
      for (const line of warnings) assert.match(line, /^ipanalyse: warning: /, `${what}: the next run`);
      assert.equal(warnings.some((line) => line.includes('took over the stale lock')), locked, `${what}: a takeover warning iff a lock was left:\n${next.stderr}`);
      for (const temp of temps) assert.ok(next.stderr.includes(temp), `${what}: no warning about ${temp}:\n${next.stderr}`);
      const repaired = warnings.filter((line) => line.includes('torn last line')).length;
      assert.ok(repaired === 0 || torn, `${what}: a repair of a change log that was whole:\n${next.stderr}`);
      assert.equal(warnings.length, (locked ? 1 : 0) + temps.length + repaired, `${what}: unexpected warnings:\n${next.stderr}`);
      assert.deepEqual(leftovers(work), [], `${what}: files left after the next run`);
      assert.equal(fs.readFileSync(mapFile, 'utf8'), isNew ? nextMap : newMap, `${what}: the next run's map`);
      assertSameText(readIfExists(changeLog) ?? '', wholeLines + (isNew ? nextChanges : changes), `${what}: the next run's change log (the killed run left ${logText.length} bytes${torn ? ', a torn line' : ''})`);
      fs.rmSync(work, { recursive: true, force: true });
    };

    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && killed < KILLS) {
        await killOnce(next++).catch((error: unknown) => {
          failed = true;
          throw error;
        });
      }
    };
    await Promise.all([...Array(WORKERS)].map(worker));
    const newCount = Object.entries(outcomes).reduce((sum, [name, count]) => sum + (name.endsWith('(new map)') ? count : 0), 0);
    t.diagnostic(`${killed} kills: old map ${killed - newCount}, new map ${newCount}; ${Object.entries(outcomes).map(([name, count]) => `${name}: ${count}`).join(', ')}; ${finished} runs ended before their kill`);
    // A kill inside the append's write(2) is rare here (its lines are 0.1 MB); the append test below aims at it.
    for (const [name, count] of Object.entries(outcomes)) if (name !== 'change log cut short (new map)') assert.ok(count > 0, `no kill left the state "${name}"`);
  });

  test(`kill -9 inside ${APPEND_KILLS} change-log appends: the next append cuts the torn line off, keeps every whole one`, async (t) => {
    // 16 MB of change lines in one append: its write(2) takes milliseconds, long enough for kills to land inside it.
    const script = `(async () => {
      const { appendChangeLines } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/write/atomic-write.js'))});
      let text = '';
      for (let i = 0; i < 400000; i++) text += '2026-11-20 12:00 new block: 10.' + (i >> 16) + '.' + ((i >> 8) & 255) + '.' + (i & 255) + '\\n';
      process.stdout.write('go\\n');
      appendChangeLines(process.argv[1], text);
    })()`;
    const earlier = '2026-11-20 11:55 new bulks: 192.0.2.7\n';
    const after = '2026-11-20 12:01  debulked: 192.0.2.7\n';
    const sizeOf = (file: string) => fs.statSync(file).size;
    /** Runs the append in a child; with `killAt`, kills it that many ms after its write(2) began to grow the log. */
    const appendOnce = async (changeLog: string, killAt?: number) => {
      const before = sizeOf(changeLog);
      const child = spawn(process.execPath, ['-e', script, changeLog], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (data) => (stderr += data));
      child.stdout!.once('data', () => {
        if (killAt === undefined) return;
        // Spinning, not timers: a timer's millisecond grain is the length of the whole write.
        const started = performance.now();
        while (sizeOf(changeLog) === before && performance.now() - started < 5000);
        const grew = performance.now();
        while (performance.now() - grew < killAt);
        child.kill('SIGKILL');
      });
      const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (...end) => resolve(end)));
      assert.ok(status === 0 || signal === 'SIGKILL', `the append failed: ${stderr}`);
      return signal === 'SIGKILL';
    };
    const work = newWork();
    const calibration = path.join(work, 'calibration.log');
    fs.writeFileSync(calibration, '');
    await appendOnce(calibration);
    const full = fs.readFileSync(calibration, 'utf8');
    fs.rmSync(calibration);
    const rng = mulberry32(SEED);
    let torn = 0;
    let whole = 0;
    for (let kill = 0; kill < APPEND_KILLS; kill++) {
      const changeLog = path.join(work, `${kill}.log`);
      fs.writeFileSync(changeLog, earlier);
      const delay = rng() * APPEND_KILL_WINDOW_MS;
      const what = `append kill #${kill} (${delay.toFixed(2)} ms into the write)`;
      const killed = await appendOnce(changeLog, delay);
      const text = fs.readFileSync(changeLog, 'utf8');
      assert.ok(text.startsWith(earlier) && full.startsWith(text.slice(earlier.length)), `${what}: the log is not its history and the first part of the append`);
      const kept = text.slice(0, text.lastIndexOf('\n') + 1);
      if (kept !== text) torn++;
      else if (text.length > earlier.length) whole++;
      // The next run's append, under the same lock, repairs first.
      const warning = appendChangeLines(changeLog, after);
      assert.equal(fs.readFileSync(changeLog, 'utf8'), kept + after, `${what}: the next append`);
      assert.equal(warning !== undefined, kept !== text, `${what}: a warning iff a line was cut: ${warning}`);
      assert.ok(killed || text === earlier + full, `${what}: an append that ended is whole`);
      fs.rmSync(changeLog);
    }
    t.diagnostic(`${APPEND_KILLS} kills in a ${(full.length / 1e6).toFixed(0)} MB append: torn ${torn}, whole lines only ${whole}, nothing appended ${APPEND_KILLS - torn - whole}`);
    assert.ok(torn > 0, 'no kill tore a line: the repair was not exercised');
  });

  test('a run that finds the lock held by a live run exits 75 at once and writes nothing; a dead owner is taken over', async () => {
    const work = newWork();
    const mapFile = path.join(work, MAP);
    const lockFile = `${mapFile}.lock`;
    const original = fs.readFileSync(path.join(SMALL, 'previous.map'), 'utf8');
    fs.writeFileSync(mapFile, original);
    const holder = await holdRunLock(mapFile);
    try {
      const started = performance.now();
      const held = runCli(small(MAP, CHANGES), { cwd: work });
      const elapsed = performance.now() - started;
      assert.equal(held.status, 75, held.stderr);
      assertOneLine(held.stderr, 'locked');
      assert.ok(held.stderr.includes(`pid ${holder.pid}`) && held.stderr.includes(`${MAP}.lock`), held.stderr);
      assert.equal(held.stdout, '');
      assert.ok(elapsed < 5000, `exits at once, took ${elapsed.toFixed(0)} ms`);
      assert.equal(fs.readFileSync(mapFile, 'utf8'), original);
      assert.equal(fs.readFileSync(lockFile, 'utf8'), `${holder.pid}\n`, 'the owner keeps its lock');
      assert.deepEqual(fs.readdirSync(work).sort(), [MAP, `${MAP}.lock`], 'nothing written');
      assert.equal(await holder.release(), 0);
    } finally {
      holder.kill();
    }

    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    fs.writeFileSync(lockFile, `${deadPid}\n`);
    const stale = runCli(small(MAP, CHANGES), { cwd: work });
    assert.equal(stale.status, 0, stale.stderr);
    assertOneLine(stale.stderr, 'stale lock');
    assert.match(stale.stderr, /^ipanalyse: warning: took over the stale lock .*ip_blocks\.map\.lock/);
    assert.ok(stale.stderr.includes(`pid ${deadPid}`), stale.stderr);
    assert.equal(fs.readFileSync(mapFile, 'utf8'), fs.readFileSync(path.join(SMALL, 'expected.map'), 'utf8'));
    assert.equal(readIfExists(path.join(work, CHANGES)), fs.readFileSync(path.join(SMALL, 'expected-changes.log'), 'utf8'));
    assert.deepEqual(leftovers(work), []);
  });

  describe('a full disk', () => {
    // Free pages left for the run: 1 holds only the lock, 2 let the map's first page through (a short write).
    for (const freePages of [1, 2]) {
      test(`for the map (${freePages} page(s) free): exit 74 naming the path and the cause, the previous map intact, no temporary file`, (t) => {
        if (mountRefused) return t.skip(`needs a tmpfs mount: ${mountRefused}`);
        const work = newWork();
        const full = mountTmpfs(path.join(work, 'full'), '1m');
        const mapFile = path.join(full, MAP);
        fs.writeFileSync(mapFile, previous.slice(0, previous.indexOf('\n', 100_000) + 1));
        const before = fs.readFileSync(mapFile, 'utf8');
        const inode = fs.statSync(mapFile).ino;
        fillUp(full, freePages);
        const result = runCli(big().map((arg) => (arg === MAP ? mapFile : arg)), { cwd: work });
        assert.equal(result.status, 74, result.stderr);
        assertOneLine(result.stderr, 'disk full');
        assert.ok(result.stderr.includes(`${full}/`) && result.stderr.includes(MAP), `names the path: ${result.stderr}`);
        assert.match(result.stderr, /no space left on device/);
        assert.equal(fs.readFileSync(mapFile, 'utf8'), before, 'the previous map is intact');
        assert.equal(fs.statSync(mapFile).ino, inode, 'the previous map is the same file');
        assert.deepEqual(tempFiles(full), [], 'no temporary file is left');
        assert.ok(!fs.existsSync(`${mapFile}.lock`), 'no lock is left');
      });
    }

    test('for the change log: no partial line, exit 74 naming the path and the cause', (t) => {
      if (mountRefused) return t.skip(`needs a tmpfs mount: ${mountRefused}`);
      const work = newWork();
      const full = mountTmpfs(path.join(work, 'log'), '256k');
      const changeLog = path.join(full, CHANGES);
      // The existing line leaves most of its page free: the append gets that far, then ENOSPC.
      const existing = '2026-11-20 11:55 new bulks: 192.0.2.7\n';
      fs.writeFileSync(changeLog, existing);
      fillUp(full, 0);
      fs.writeFileSync(path.join(work, MAP), previous);
      const result = runCli(big().map((arg) => (arg === CHANGES ? changeLog : arg)), { cwd: work });
      assert.equal(result.status, 74, result.stderr);
      assertOneLine(result.stderr, 'change log full');
      assert.ok(result.stderr.includes(changeLog), `names the path: ${result.stderr}`);
      assert.match(result.stderr, /no space left on device/);
      const text = fs.readFileSync(changeLog, 'utf8');
      assertWholeChangeLog(text, 'full change log');
      assert.equal(text, existing, 'the torn append is taken back out');
      assertWholeMap(fs.readFileSync(path.join(work, MAP), 'utf8'), 'map written before the change log');
      assert.deepEqual(leftovers(work).filter((name) => name !== 'log'), [], 'no temporary file or lock is left');
    });
  });

  describe('a map directory that cannot be written', () => {
    const check = (result: { status: number | null; stderr: string }, directory: string, mapFile: string, original: string, cause: RegExp) => {
      assert.equal(result.status, 74, result.stderr);
      assertOneLine(result.stderr, 'unwritable');
      assert.ok(result.stderr.includes(mapFile), `names the path: ${result.stderr}`);
      assert.match(result.stderr, cause);
      assert.equal(fs.readFileSync(mapFile, 'utf8'), original, 'the previous map is intact');
      assert.deepEqual(leftovers(directory), []);
    };
    const original = fs.readFileSync(path.join(SMALL, 'previous.map'), 'utf8');

    test('read-only file system: exit 74 naming the path, the previous map intact', (t) => {
      if (mountRefused) return t.skip(`needs a tmpfs mount: ${mountRefused}`);
      const work = newWork();
      const directory = mountTmpfs(path.join(work, 'ro'), '64k');
      const mapFile = path.join(directory, MAP);
      fs.writeFileSync(mapFile, original);
      const remount = spawnSync('mount', ['-o', 'remount,ro', directory], { encoding: 'utf8' });
      if (remount.status !== 0) return t.skip(`remount,ro refused: ${remount.stderr.trim()}`);
      check(runCli(small(mapFile, path.join(work, CHANGES)), { cwd: work }), directory, mapFile, original, /read-only file system/);
      assert.ok(!fs.existsSync(path.join(work, CHANGES)), 'no change log written');
    });

    test('no write permission (run as nobody): exit 74 naming the path, the previous map intact', (t) => {
      if (process.getuid?.() !== 0) return t.skip('needs root to run the CLI as nobody');
      if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv is not installed');
      // The clone may sit where nobody cannot enter (root's 0700 home): nobody runs a copy of the installation from scratch.
      const installed = { cli: installedCopy().cli, caseDir: copyCaseInputs(path.join(scratch, 'installed')) };
      const work = newWork();
      fs.chmodSync(work, 0o755);
      const mapFile = path.join(work, MAP);
      fs.writeFileSync(mapFile, original);
      const changeLog = path.join(scratch, `${path.basename(work)}-${CHANGES}`);
      const args = small(mapFile, changeLog).map((arg) => arg.replace(SMALL, installed.caseDir));
      const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, installed.cli, ...args], {
        cwd: work,
        env: CHILD_ENV,
        encoding: 'utf8',
      });
      check(result, work, mapFile, original, /permission denied/);
      assert.ok(!fs.existsSync(changeLog), 'no change log written');
    });
  });
});
