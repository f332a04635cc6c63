/**
 * Every step of `ipanalyse simulate` is the cron run at that time: over six
 * hours of a log with a crowd of clients, over a log with gaps stepped every
 * five minutes, and under a load series that moves the bulk limit. Each
 * single run is a real run (runAnalysis, what the CLI's main command calls)
 * that writes its map and change log, and the next one starts from them.
 */
process.env.TZ = 'UTC';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveSettings } from '../src/commands/common.js';
import { readPeriod } from '../src/commands/simulate.js';
import type { Plan } from '../src/decide/plan.js';
import { formatLocalTime } from '../src/local-time.js';
import { DISORDER_SECONDS } from '../src/read/read-window.js';
import { runAnalysis } from '../src/run.js';
import type { Settings } from '../src/settings/settings.js';
import { PeriodLines } from '../src/simulate/period-lines.js';
import { simulate, stepTimes } from '../src/simulate/simulation.js';
import { SlidingWindow } from '../src/simulate/sliding-window.js';
import { formatStartDate, mulberry32 } from './support/log-generator.js';
import { FIXTURES } from './support/paths.js';
import { PERIOD_START, QUIET_BURST, QUIET_BURST_MINUTES, periodLog } from './support/period-log.js';
import { runCli } from './support/run-cli.js';

const SETTINGS = path.join(FIXTURES, 'example/ip_blocks.conf');
const MINUTE = 60;
let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-simulate-steps-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Step {
  time: string;
  /** The map after the step; undefined when it decided nothing. */
  map: string | undefined;
  changeLines: string;
  skipped?: string;
}

/** The steps of simulate() over `log` (named `logFile` in messages), as the plan of each gives them. */
async function simulatedSteps(settings: Settings, log: string, from: number, to: number, every: number, loadAt: (time: number) => number, logFile = log): Promise<Step[]> {
  const read = await readPeriod(log, settings, from, to);
  const steps: Step[] = [];
  simulate({
    settings,
    ...read,
    logFile,
    mapFile: settings.BLOCKEDFILE,
    format: 'apache',
    from,
    to,
    every,
    disorder: DISORDER_SECONDS,
    loadAverageAt: loadAt,
    previousMapText: undefined,
    onPlan: (time: number, plan: Plan) =>
      steps.push(plan.decided ? { time: formatLocalTime(time), map: plan.map.content, changeLines: plan.changeLines } : { time: formatLocalTime(time), map: undefined, changeLines: '', skipped: plan.skipped }),
  });
  return steps;
}

/**
 * A real run at each of `times`, each writing the map and the change log the
 * next one reads; `replay`: given STARTDATE (the window's start) as well as
 * the clock, as `ipanalyse ... LOG STARTDATE` replays an old log; `logAt`:
 * the log each run reads, for the time it runs at (default: `log`).
 */
async function singleRuns(
  settings: Settings,
  log: string,
  times: number[],
  loadAt: (time: number) => number,
  name: string,
  replay: boolean,
  logAt: (time: number) => string = () => log,
): Promise<{ steps: Step[]; changeLog: string }> {
  const mapFile = path.join(dir, `${name}.map`);
  const changeLog = path.join(dir, `${name}-changes.log`);
  const own = { ...settings, BLOCKEDFILE: mapFile, LOGFILE: changeLog };
  const steps: Step[] = [];
  for (const time of times) {
    const report = await runAnalysis({
      settings: own,
      logFile: logAt(time),
      now: new Date(time * 1000),
      startDate: replay ? new Date((time - settings.BLOCKCOOLOFF_SECONDS) * 1000) : undefined,
      loadAverage: loadAt(time),
      format: 'apache',
      dryRun: false,
    });
    if (report.map) assert.equal(fs.readFileSync(mapFile, 'utf8'), report.map.content, 'the run wrote the map it decided');
    steps.push(report.map ? { time: formatLocalTime(time), map: report.map.content, changeLines: report.changeLines ?? '' } : { time: formatLocalTime(time), map: undefined, changeLines: '', skipped: report.skipped });
  }
  return { steps, changeLog: fs.existsSync(changeLog) ? fs.readFileSync(changeLog, 'utf8') : '' };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The log as it stood at `time`, for a live run then: the lines logged by
 * then, stamped at most DISORDER_SECONDS later (those a run takes for no
 * future ones), and the unreadable lines among them. A run over the whole
 * log would seek past a gap to the lines after it and take the log for a
 * live one; cron at that time found it had stopped.
 */
function logAsItStood(text: string, file: string): (time: number) => string {
  const lines = text.split('\n').filter((line) => line !== '');
  const stamps = lines.map((line) => {
    const m = /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) \+0000\]/.exec(line);
    return m ? Date.UTC(Number(m[3]), MONTHS.indexOf(m[2]), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000 : NaN;
  });
  return (time) => {
    let last = stamps.length - 1;
    while (last >= 0 && !(stamps[last] <= time + DISORDER_SECONDS)) last--;
    fs.writeFileSync(file, lines.filter((_, i) => i <= last && !(stamps[i] > time + DISORDER_SECONDS)).map((line) => `${line}\n`).join(''));
    return file;
  };
}

/** Compares every step and fails on the first that differs, naming it. */
function assertSameSteps(simulated: Step[], single: Step[]): void {
  assert.equal(simulated.length, single.length);
  for (let i = 0; i < simulated.length; i++) assert.deepEqual(simulated[i], single[i], `step ${i + 1}, ${simulated[i].time}`);
}

describe('simulate: every step is the run at that time', () => {
  test('six hours every minute (360 steps) over a crowd of 3000 clients beside the scripted ones, against replays of the log', async () => {
    const log = path.join(dir, 'crowd.log');
    fs.writeFileSync(log, periodLog(7, { crowd: 3000 }));
    const { settings } = await resolveSettings({ settings: SETTINGS, map: path.join(dir, 'unused.map') });
    // A rising load: the bulk limit falls during the period, a step at a time.
    const loadAt = (time: number) => 10 + ((time - PERIOD_START) / 3600) * 3;
    const from = PERIOD_START + 3600 + MINUTE;
    const to = PERIOD_START + 7 * 3600;
    const simulated = await simulatedSteps(settings, log, from, to, MINUTE, loadAt);
    assert.equal(simulated.length, 360);
    const single = await singleRuns(settings, log, stepTimes(from, to, MINUTE), loadAt, 'crowd', true);
    assertSameSteps(simulated, single.steps);
    assert.equal(single.changeLog, simulated.map((step) => step.changeLines).join(''));
    const kinds = new Set(single.changeLog.split('\n').map((line) => /^[^ ]+ [^ ]+ +([a-z. ]+?):/.exec(line)?.[1]));
    // Equality covers each transition only if the log drives it.
    for (const kind of ['new bulks', 'debulked', 'new block', 'ua block', 'unblocked']) assert.ok(kinds.has(kind), `no ${kind} in\n${single.changeLog}`);
  });

  test('a log with gaps stepped every 5 minutes: stale and empty windows are skipped as the runs skip them, the map carried over', async () => {
    const log = path.join(dir, 'gaps.log');
    // Twenty quiet minutes, then 75 without a line: the newest line grows older than STALE_AFTER, and lines come back.
    const text = periodLog(6, { gaps: [[130, 150], [200, 275]] });
    fs.writeFileSync(log, text);
    const { settings } = await resolveSettings({ settings: SETTINGS, map: path.join(dir, 'unused.map') });
    const loadAt = () => 2;
    const from = PERIOD_START + 63 * MINUTE;
    const to = PERIOD_START + 6 * 3600;
    const every = 5 * MINUTE;
    // The runs read the log as it stood then, under the same name.
    fs.mkdirSync(path.join(dir, 'live'));
    const live = path.join(dir, 'live/gaps.log');
    const simulated = await simulatedSteps(settings, log, from, to, every, loadAt, live);
    assert.equal(simulated.length, Math.floor((to - from) / every) + 1);
    const single = await singleRuns(settings, log, stepTimes(from, to, every), loadAt, 'gaps', false, logAsItStood(text, live));
    assertSameSteps(simulated, single.steps);
    const skipped = simulated.filter((step) => step.skipped).map((step) => step.skipped ?? '');
    assert.ok(skipped.some((reason) => /STALE_AFTER/.test(reason)), 'a step with a stale log');
    assert.ok(skipped.some((reason) => /no usable lines in the window/.test(reason)), 'a step with an empty window');
    // Steps after the gap decide again, from the map the last deciding step left.
    assert.ok(simulated.at(-1)?.map !== undefined);
    assert.ok(simulated.some((step) => /unblocked|debulked/.test(step.changeLines)), 'releases while the window empties');
  });

  test('a load series from a file moves the bulk limit: a client whose counts stand still turns bulk at the step the load rises, as the run with --loadavg says', async () => {
    const log = path.join(dir, 'load.log');
    fs.writeFileSync(log, periodLog(6));
    // The load rises 18 minutes after the quiet client's last request: none of its lines enters or leaves a window then.
    const jump = PERIOD_START + (QUIET_BURST_MINUTES[1] + 18) * MINUTE;
    const loadFile = path.join(dir, 'load.txt');
    fs.writeFileSync(loadFile, `# time, 15-minute load average\n${formatStartDate(PERIOD_START)} 5\n${jump},40\n`);
    const loadAt = (time: number) => (time < jump ? 5 : 40);
    const from = PERIOD_START + 240 * MINUTE;
    const to = PERIOD_START + 330 * MINUTE;
    const result = runCli(['simulate', '--settings', SETTINGS, '--from', formatStartDate(from), '--to', formatStartDate(to), '--loadavg', loadFile, '--json', log]);
    assert.equal(result.status, 0, result.stderr);
    const steps = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { time: string; changes: Record<string, string[]>; counts: Record<string, number>; limits: { bulkLongLimit: number } });
    assert.equal(steps.length, 91);

    const { settings } = await resolveSettings({ settings: SETTINGS, map: path.join(dir, 'unused.map') });
    const times = stepTimes(from, to, MINUTE);
    const mapFile = path.join(dir, 'load.map');
    const own = { ...settings, BLOCKEDFILE: mapFile, LOGFILE: path.join(dir, 'load-changes.log') };
    for (const [i, time] of times.entries()) {
      const run = (loadAverage: number, dryRun: boolean) => runAnalysis({ settings: own, logFile: log, now: new Date(time * 1000), loadAverage, format: 'apache', dryRun });
      if (time === jump) {
        // From the same map, the load before the jump changes nothing for it: only the load does.
        const unchanged = await run(loadAt(time - MINUTE), true);
        assert.ok(!Object.values(unchanged.changes ?? {}).flat().includes(QUIET_BURST), 'the quiet client changes without the load');
        assert.ok(!fs.readFileSync(mapFile, 'utf8').includes(QUIET_BURST), 'the quiet client is free before the jump');
      }
      const report = await run(loadAt(time), false);
      const changes = Object.fromEntries(Object.entries(report.changes ?? {}).filter(([, addresses]) => addresses.length > 0));
      assert.deepEqual(steps[i].changes, changes, steps[i].time);
      assert.deepEqual(steps[i].counts, report.map?.counts, steps[i].time);
      assert.equal(steps[i].limits.bulkLongLimit, report.limits?.bulkLongLimit, steps[i].time);
    }
    const atJump = steps[times.indexOf(jump)];
    assert.ok(atJump.changes['new bulks']?.includes(QUIET_BURST), JSON.stringify(atJump));
    assert.ok(atJump.limits.bulkLongLimit < steps[times.indexOf(jump) - 1].limits.bulkLongLimit);
  });
});

describe('SlidingClients: the clients a step hands the decision', () => {
  test('entriesOver and size equal a scan of every client at every step, whether the thresholds hold or move', () => {
    const rng = mulberry32(11);
    const lines = new PeriodLines();
    const addresses = Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`);
    const buf = Buffer.alloc(0);
    // Bursts of a few clients at a time over quieter ones, a little out of order; the last client only in the first half hour, so that it leaves.
    const others = addresses.length - 1;
    for (let second = 0; second < 4 * 3600; second += 5) {
      const busy = Math.floor(second / 900) % others;
      for (let k = 0; k < 3; k++) {
        const client = second < 1800 && k === 0 ? others : rng() < 0.6 ? (busy + k) % others : Math.floor(rng() * others);
        lines.listener(PERIOD_START + second - Math.floor(rng() * 30), client, rng() < 0.8, 200, rng() < 0.05, buf, 0, 0);
      }
    }
    const window = new SlidingWindow(lines, addresses, { long: 3600, short: 900, disorder: DISORDER_SECONDS }, []);
    let thresholds = { longApi: 40, shortApi: 12 };
    for (let time = PERIOD_START + 60; time <= PERIOD_START + 4 * 3600; time += 60) {
      const stats = window.moveTo(time);
      // Now and then the load moves the limits; a NaN one keeps everyone, as ClientTable does.
      if (rng() < 0.1) thresholds = rng() < 0.1 ? { longApi: NaN, shortApi: 12 } : { longApi: 20 + Math.floor(rng() * 60), shortApi: 5 + Math.floor(rng() * 20) };
      const named = [addresses[Math.floor(rng() * addresses.length)], addresses[3], addresses[3], '198.51.100.1'];
      const all = [...stats.clients.entries()];
      const expected = all.filter(([address, s]) => !(s.longApi <= thresholds.longApi && s.shortApi <= thresholds.shortApi) || named.includes(address));
      assert.deepEqual([...stats.clients.entriesOver(thresholds.longApi, thresholds.shortApi, named)], expected, formatLocalTime(time));
      assert.equal(stats.clients.size, all.length, formatLocalTime(time));
    }
  });
});
