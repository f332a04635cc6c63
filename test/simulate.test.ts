/**
 * `ipanalyse simulate` is cron's job at every step: its steps must equal what
 * single runs at those times decide, each from the map the one before left.
 */
process.env.TZ = 'UTC';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { readPeriod } from '../src/commands/simulate.js';
import { resolveSettings } from '../src/commands/common.js';
import { DISORDER_SECONDS } from '../src/read/read-window.js';
import { runAnalysis } from '../src/run.js';
import { simulate } from '../src/simulate/simulation.js';
import type { Plan } from '../src/decide/plan.js';
import { formatLocalTime } from '../src/local-time.js';
import { FIXTURES } from './support/paths.js';
import { PERIOD_START, periodLog } from './support/period-log.js';
import { runCli } from './support/run-cli.js';

const SETTINGS = path.join(FIXTURES, 'example/ip_blocks.conf');
let dir: string;
let log: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-simulate-'));
  log = path.join(dir, 'access.log');
  fs.writeFileSync(log, periodLog(4));
});

interface StepSeen {
  time: number;
  map: string | undefined;
  changeLines: string;
  skipped?: string;
}

function loadAt(time: number): number {
  return 10 + ((time - PERIOD_START) / 3600) * 3; // rising load: the bulk limit falls during the period
}

describe('simulate', () => {
  test('every step equals a single run at that time, from the map the run before left', async () => {
    const from = PERIOD_START + 3600;
    const to = PERIOD_START + 4 * 3600 - 600;
    const { settings } = await resolveSettings({ settings: SETTINGS, map: path.join(dir, 'unused.map') });
    const read = await readPeriod(log, settings, from, to);
    const simulated: StepSeen[] = [];
    const sim = simulate({
      settings,
      ...read,
      logFile: log,
      mapFile: settings.BLOCKEDFILE,
      format: 'apache',
      from,
      to,
      every: 60,
      disorder: DISORDER_SECONDS,
      loadAverageAt: loadAt,
      previousMapText: undefined,
      onPlan: (time: number, plan: Plan) =>
        simulated.push(plan.decided ? { time, map: plan.map.content, changeLines: plan.changeLines } : { time, map: undefined, changeLines: '', skipped: plan.skipped }),
    });
    assert.equal(sim.steps.length, 171);

    const mapFile = path.join(dir, 'replay.map');
    fs.rmSync(mapFile, { force: true });
    let mismatches = 0;
    for (const step of simulated) {
      const report = await runAnalysis({ settings: { ...settings, BLOCKEDFILE: mapFile }, logFile: log, now: new Date(step.time * 1000), loadAverage: loadAt(step.time), format: 'apache', dryRun: true });
      const single: StepSeen = report.map ? { time: step.time, map: report.map.content, changeLines: report.changeLines ?? '' } : { time: step.time, map: undefined, changeLines: '', skipped: report.skipped };
      if (mismatches < 3 && JSON.stringify(single) !== JSON.stringify(step)) {
        mismatches++;
        assert.deepEqual(step, single, `step ${formatLocalTime(step.time)}`);
      }
      if (report.map) fs.writeFileSync(mapFile, report.map.content);
    }
    const kinds = new Set(sim.steps.flatMap((step) => Object.keys(step.changes)));
    // The log drives these transitions, so equality covers each of them (dir.block needs a database load this log does not make).
    assert.deepEqual([...kinds].sort(), ['debulked', 'new block', 'new bulks', 'ua block', 'unblocked'].sort());
    assert.ok(mismatches === 0);
  });

  test('the CLI prints each step as a JSON line, and the same steps as the real binary run at those times', () => {
    const from = '2026-11-20 10:00:00';
    const result = runCli(['simulate', '--settings', SETTINGS, '--from', from, '--to', '2026-11-20 10:30:00', '--every', '10 min', '--loadavg', '2', '--json', log]);
    assert.equal(result.status, 0, result.stderr);
    const steps = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(steps.map((step) => step.time), ['2026-11-20 10:00:00', '2026-11-20 10:10:00', '2026-11-20 10:20:00', '2026-11-20 10:30:00']);
    const mapFile = path.join(dir, 'cli.map');
    fs.rmSync(mapFile, { force: true });
    for (const step of steps) {
      const single = runCli(['--settings', SETTINGS, '--map', mapFile, '--dry-run', '--json', '--loadavg', '2', '--now', step.time, log]);
      assert.equal(single.status, 0, single.stderr);
      const run = JSON.parse(single.stdout);
      const changes = Object.fromEntries(Object.entries(run.changes as Record<string, string[]>).filter(([, addresses]) => addresses.length > 0));
      assert.deepEqual(step.changes, changes, step.time);
      assert.deepEqual(step.counts, run.map.counts, step.time);
      assert.equal(step.limits.bulkLongLimit, run.limits.bulkLongLimit);
      // The dry run prints no map; rebuild it for the next run from the simulated one's next previous state.
      const dry = runCli(['--settings', SETTINGS, '--map', mapFile, '--dry-run', '--loadavg', '2', '--now', step.time, log]);
      fs.writeFileSync(mapFile, /--- map [^\n]*\n([\s\S]*?)--- change log/.exec(dry.stdout)![1]);
    }
  });
});

describe('simulate summary and --compare', () => {
  test('the summary counts transitions and restricted requests; --compare shows where two settings differ', () => {
    const strict = path.join(dir, 'strict.conf');
    fs.writeFileSync(strict, fs.readFileSync(SETTINGS, 'utf8').replace('BULKLONG_LIMIT = 800', 'BULKLONG_LIMIT = 100').replace('BULK_LOWER = 150', 'BULK_LOWER = 50'));
    const common = ['--from', '2026-11-20 10:00:00', '--to', '2026-11-20 12:50:00', '--loadavg', '2', log];
    const summary = runCli(['simulate', '--settings', SETTINGS, ...common]);
    assert.equal(summary.status, 0, summary.stderr);
    assert.match(summary.stdout, /171 steps, 171 decided/);
    assert.match(summary.stdout, /new block +2\n/);
    assert.match(summary.stdout, /refused \(block\) +[1-9]\d*\n/);
    assert.match(summary.stdout, /198\.51\.100\.7 +\d+ /);
    const compared = runCli(['simulate', '--settings', SETTINGS, '--compare', strict, ...common]);
    assert.equal(compared.status, 0, compared.stderr);
    const newBulks = /^new bulks +(\d+) +(\d+)  \*$/m.exec(compared.stdout);
    assert.ok(newBulks, compared.stdout);
    // A lower bulk limit throttles more clients.
    assert.ok(Number(newBulks[2]) > Number(newBulks[1]), compared.stdout);
    assert.match(compared.stdout, /^API requests throttled \(bulk\) +\d+ +\d+  \*$/m);
  });
});
