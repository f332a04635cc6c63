/**
 * The run lock as cron meets it: lock files left by killed runs whose pid
 * lives again (pid 1 in a container, a pid reused by another program), a
 * live run that blocks for long, runs starting together, and links planted
 * where the lock is made. Real runs of bin/ipanalyse where the operator
 * would notice; lock-holding children where only timing can show it.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, FIXTURES, REPO_ROOT } from './support/paths.js';
import { holdRunLock } from './support/lock-holder.js';
import { CHILD_ENV, runCli } from './support/run-cli.js';

const MAP = 'ip_blocks.map';
const LOCK = `${MAP}.lock`;
const CHANGES = 'restricted_ip.log';
const SMALL = path.join(FIXTURES, 'cases/state-machine');
const RUN_LOCK_MODULE = path.join(REPO_ROOT, 'dist/src/write/run-lock.js');
const ARGS = ['--settings', path.join(SMALL, 'ip_blocks.conf'), '--map', MAP, '--changelog', CHANGES, '--now', '2026-11-20 12:00:00', '--loadavg', '14', path.join(SMALL, 'access.log')];
const PREVIOUS = fs.readFileSync(path.join(SMALL, 'previous.map'), 'utf8');
const EXPECTED = fs.readFileSync(path.join(SMALL, 'expected.map'), 'utf8');

/** A pid that was just used and is gone. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout);
}

/** Resolves with the first line `child` prints. */
function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (data) => {
      out += data;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.stderr.on('data', (data) => (err += data));
    child.on('close', (code) => reject(new Error(`child exited (${code}) before a line: ${out}${err}`)));
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
}

describe('the run lock', () => {
  let scratch: string;
  const newWork = () => {
    const work = fs.mkdtempSync(path.join(scratch, 'w-'));
    fs.writeFileSync(path.join(work, MAP), PREVIOUS);
    return work;
  };
  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-lock-'));
  });
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  const assertTookOver = (work: string, result: { status: number | null; stderr: string }, pid: number) => {
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^ipanalyse: warning: took over the stale lock [^\n]*ip_blocks\.map\.lock[^\n]*\n$/, result.stderr);
    assert.ok(result.stderr.includes(`pid ${pid}`), `names the pid the lock file held: ${result.stderr}`);
    assert.equal(fs.readFileSync(path.join(work, MAP), 'utf8'), EXPECTED, 'the run did its work');
    assert.ok(!fs.existsSync(path.join(work, LOCK)), 'the lock is released');
  };

  test('a lock file naming pid 1 (alive: init, or node itself in a container) that no run holds is taken over', () => {
    const work = newWork();
    fs.writeFileSync(path.join(work, LOCK), '1\n');
    assertTookOver(work, runCli(ARGS, { cwd: work }), 1);
  });

  test('a lock file naming a live program that is no run (a reused pid) is taken over', () => {
    const work = newWork();
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(work, LOCK), `${sleeper.pid}\n`);
      assertTookOver(work, runCli(ARGS, { cwd: work }), sleeper.pid!);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  test("a live run's lock is never taken, however old its lock file and however long the run blocks its event loop", async () => {
    const work = newWork();
    const lockFile = path.join(work, LOCK);
    const holder = await holdRunLock(path.join(work, MAP));
    try {
      const year = Date.now() / 1000 - 365 * 86400;
      fs.utimesSync(lockFile, year, year);
      const owner = fs.readFileSync(lockFile, 'utf8');
      assert.equal(owner, `${holder.pid}\n`, 'the lock file names its owner');
      const started = performance.now();
      const held = runCli(ARGS, { cwd: work });
      assert.equal(held.status, 75, held.stderr);
      assert.ok(performance.now() - started < 5000, 'a locked run gives up at once');
      assert.match(held.stderr, /^ipanalyse: another run \(pid \d+\) holds \S*ip_blocks\.map\.lock; nothing done, retry later\n$/);
      assert.ok(held.stderr.includes(`pid ${holder.pid}`), held.stderr);
      assert.equal(fs.readFileSync(path.join(work, MAP), 'utf8'), PREVIOUS, 'nothing written');
      assert.equal(fs.readFileSync(lockFile, 'utf8'), owner, 'the owner keeps its lock');
      assert.deepEqual(fs.readdirSync(work).sort(), [MAP, LOCK]);
      assert.equal(await holder.release(), 0);
    } finally {
      holder.kill();
    }
    assert.ok(!fs.existsSync(lockFile), 'released on the way out');
    const next = runCli(ARGS, { cwd: work });
    assert.equal(next.status, 0, next.stderr);
    assert.equal(next.stderr, '', 'no stale lock to warn about');
  });

  test('runs that start together on a stale lock: never two hold it at once, and the lock changes hands', async () => {
    const work = newWork();
    const mapFile = path.join(work, MAP);
    const journal = path.join(work, 'journal');
    fs.writeFileSync(`${mapFile}.lock`, `${deadPid()}\n`);
    // Each child takes the lock repeatedly and notes, in one O_APPEND journal, when it holds it.
    const script = `(async () => {
      const fs = require('node:fs');
      const { acquireRunLock } = await import(${JSON.stringify(RUN_LOCK_MODULE)});
      const [mapFile, journal] = process.argv.slice(1);
      const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      let held = 0;
      for (let tries = 0; held < 15 && tries < 2000; tries++) {
        let lock;
        try { lock = acquireRunLock(mapFile); } catch (error) { if (error.exitCode !== 75) throw error; sleep(Math.random() * 3); continue; }
        fs.appendFileSync(journal, 'in ' + process.pid + '\\n');
        sleep(2);
        fs.appendFileSync(journal, 'out ' + process.pid + '\\n');
        lock.release();
        held++;
      }
      process.stdout.write(held + '\\n');
    })()`;
    const children = [...Array(5)].map(() => spawn(process.execPath, ['-e', script, mapFile, journal], { stdio: ['pipe', 'pipe', 'pipe'] }));
    let stderr = '';
    for (const child of children) child.stderr.on('data', (data) => (stderr += data));
    const holds = (await Promise.all(children.map(firstLine))).map(Number);
    assert.equal(stderr, '');
    const lines = fs.readFileSync(journal, 'utf8').trimEnd().split('\n');
    for (let i = 0; i < lines.length; i += 2) {
      assert.match(lines[i], /^in \d+$/, `line ${i + 1}: someone took the lock while ${lines[i - 1]} held it`);
      assert.equal(lines[i + 1], lines[i].replace('in', 'out'), `line ${i + 2}: two holders at once`);
    }
    assert.equal(lines.length / 2, holds.reduce((sum, count) => sum + count, 0));
    assert.ok(holds.filter((count) => count > 0).length >= 2, `the lock changed hands: ${holds}`);
    assert.ok(!fs.existsSync(`${mapFile}.lock`), 'the last holder released it');
  });

  describe('links planted where the lock is made are never followed', () => {
    const plantVictim = () => {
      const victim = path.join(fs.mkdtempSync(path.join(scratch, 'victim-')), 'precious');
      fs.writeFileSync(victim, 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
      return { victim, stat: fs.statSync(victim) };
    };
    const assertUntouched = (victim: string, stat: fs.Stats) => {
      assert.equal(fs.readFileSync(victim, 'utf8'), 'root:x:0:0:root:/root:/bin/bash\n', 'the file the link points to is untouched');
      assert.equal(fs.statSync(victim).mtimeMs, stat.mtimeMs);
      assert.equal(fs.statSync(victim).mode, stat.mode);
    };

    for (const [kind, plant] of [
      ['a symbolic link', fs.symlinkSync],
      ['a hard link (another name of some file)', fs.linkSync],
    ] as const) {
      test(`${kind} at MAP.lock: exit 74 naming it, the linked file and the map untouched`, () => {
        const work = newWork();
        const { victim, stat } = plantVictim();
        plant(victim, path.join(work, LOCK));
        const result = runCli(ARGS, { cwd: work });
        assert.equal(result.status, 74, result.stderr);
        assert.match(result.stderr, /^ipanalyse: [^\n]*ip_blocks\.map\.lock[^\n]*\n$/, result.stderr);
        assert.ok(result.stderr.includes(kind.split(' (')[0].replace('a ', '')), `says why: ${result.stderr}`);
        assertUntouched(victim, stat);
        assert.ok(fs.existsSync(path.join(work, LOCK)), 'the link is left for the operator to look at');
        assert.equal(fs.readFileSync(path.join(work, MAP), 'utf8'), PREVIOUS);
      });
    }

    test('a symbolic link at MAP.lock.PID, where a takeover once wrote its claim, is not followed', async () => {
      const work = newWork();
      const { victim, stat } = plantVictim();
      const stalePid = deadPid();
      fs.writeFileSync(path.join(work, LOCK), `${stalePid}\n`);
      // exec keeps the shell's pid: the run's pid is known before it starts, as an attacker could guess it.
      const run = spawn('/bin/sh', ['-c', 'read go; exec "$0" "$@"', process.execPath, CLI, ...ARGS], { cwd: work, env: CHILD_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
      fs.symlinkSync(victim, path.join(work, `${LOCK}.${run.pid}`));
      let stderr = '';
      run.stderr.on('data', (data) => (stderr += data));
      run.stdin.end('\n');
      const status = await exited(run);
      assertUntouched(victim, stat);
      assert.equal(status, 0, stderr);
      assert.match(stderr, /took over the stale lock/);
      assert.equal(fs.readFileSync(path.join(work, MAP), 'utf8'), EXPECTED);
      assert.deepEqual(fs.readdirSync(work).sort(), [MAP, `${LOCK}.${run.pid}`, `${MAP}.state`, `${MAP}.state.lines`, CHANGES].sort(), 'the run made no other file than its state');
    });
  });
});
