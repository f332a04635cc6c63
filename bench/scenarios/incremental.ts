/**
 * Incremental runs (INCREMENTAL): a live cron run at the realistic hour's
 * end whose state was kept by a run 1, 5 or 15 minutes earlier, on a copy of
 * the log that held only the lines written by then and has since grown to
 * the whole hour. Measured as dry runs, which read the state and keep it as
 * it was, so that every round does the same work. Next to it, the same
 * live window read whole (--full), and the target against the original on
 * the realistic hour. Then real runs, which keep their state as cron's do
 * (the state and map of the prepared step are put back before each): the
 * realistic hour's and the 1M-client flood's, for the time and the peak
 * memory of a step that also writes its state, and the state files' sizes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { seekToTime } from '../../src/read/seek-to-time.js';
import { formatStartDate } from '../../test/support/log-generator.js';
import { CLI } from '../../test/support/paths.js';
import { CACHE_DIR, type ChildOutcome, type Scenario, mb, ratioTarget, runChild } from '../harness.js';
import { WINDOW_END } from '../logs.js';
import type { BenchSetup } from '../setup.js';

const MINUTES = [1, 5, 15];
const MIN_SPEEDUP = 40;
const MAX_RSS_MB = 150;
const DIR = path.join(CACHE_DIR, 'incremental');
/** What a real run overwrites (the digests: appended to, or made again). */
const KEPT = ['ip_blocks.map', 'ip_blocks.map.state', 'ip_blocks.map.state.lines', 'restricted_ip.log'];

function run(what: string, dir: string, now: number, extra: string[]): Promise<ChildOutcome> {
  const args = ['--settings', path.join(DIR, 'incremental.conf'), '--map', path.join(dir, 'ip_blocks.map'), '--changelog', path.join(dir, 'restricted_ip.log'), '--loadavg', '1', '--now', formatStartDate(now), ...extra, path.join(dir, 'access.log')];
  return runChild(what, process.execPath, [CLI, ...args], { node: true });
}

/** A copy of `source` as it was `minutes` before the hour's end, its state kept by a run then, then grown to the whole hour. */
async function prepareCopy(source: string, minutes: number, name = `${minutes}m`): Promise<string> {
  const dir = path.join(DIR, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(source, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const then = WINDOW_END - minutes * 60;
    const cut = seekToTime((buffer, position) => fs.readSync(fd, buffer, 0, buffer.length, position), size, then + 1, { stopSpan: 1 }).offset;
    const log = path.join(dir, 'access.log');
    fs.copyFileSync(source, log);
    fs.truncateSync(log, cut);
    await run(`ipanalyse keeping its state ${minutes} min before the end`, dir, then, []);
    const rest = Buffer.alloc(size - cut);
    fs.readSync(fd, rest, 0, rest.length, cut);
    fs.appendFileSync(log, rest);
  } finally {
    fs.closeSync(fd);
  }
  // What a real run overwrites, to put back after it.
  for (const file of KEPT) fs.copyFileSync(path.join(dir, file), path.join(dir, `${file}.prepared`));
  return dir;
}

/**
 * A real run at the hour's end from the prepared step's files, which it
 * keeps its own state over; they are put back after it, for the next round
 * and for the dry runs on the same copy, which would otherwise continue from
 * this run's state (none of the minutes since). Only real runs change them,
 * and each puts them back, so none is needed before one.
 */
async function liveRun(what: string, dir: string): Promise<ChildOutcome> {
  try {
    return await run(what, dir, WINDOW_END, ['--verbose']);
  } finally {
    for (const file of KEPT) fs.copyFileSync(path.join(dir, `${file}.prepared`), path.join(dir, file));
  }
}

function megabytes(file: string): string {
  return `${mb(fs.statSync(file).size, 1)} MB`;
}

export async function incremental(setup: BenchSetup): Promise<Scenario> {
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(path.join(DIR, 'incremental.conf'), '# written by bench/scenarios/incremental.ts\nMIN_LOG_SIZE = 0\nINCREMENTAL = True\n');
  const dirs = new Map<number, string>();
  for (const minutes of MINUTES) dirs.set(minutes, await prepareCopy(setup.logs.realistic.file, minutes));
  const floodDir = await prepareCopy(setup.logs.flood.file, 1, 'flood-1m');
  const checks: string[] = [
    `state files (and their digests): realistic hour ${megabytes(path.join(dirs.get(1) as string, 'ip_blocks.map.state.prepared'))} (${megabytes(path.join(dirs.get(1) as string, 'ip_blocks.map.state.lines.prepared'))}; ${setup.probes.realistic.clients} clients), ` +
      `flood ${megabytes(path.join(floodDir, 'ip_blocks.map.state.prepared'))} (${megabytes(path.join(floodDir, 'ip_blocks.map.state.lines.prepared'))}; ${setup.probes.flood.clients} clients)`,
  ];
  const lines = setup.probes.realistic.linesRead;
  return {
    checks,
    rows: [
      ...MINUTES.map((minutes) => ({
        id: `incr-${minutes}m`,
        what: `ipanalyse incremental, realistic hour, state ${minutes} min old`,
        group: 'child' as const,
        lines,
        measure: async (round: number) => {
          const outcome = await run(`ipanalyse incremental (${minutes} min)`, dirs.get(minutes) as string, WINDOW_END, ['--dry-run', '--verbose']);
          const note = /state: [^\n]*/.exec(outcome.stdout)?.[0] ?? 'no note';
          if (round === 0) checks.push(`state ${minutes} min old: ${note}`);
          // Every round must measure the step it names: a state kept since by another row would make it a shorter one.
          else if (!note.includes(new Date((WINDOW_END - minutes * 60) * 1000).toISOString())) checks.push(`WARNING: round ${round} of the ${minutes}-min step continued from another state: ${note}`);
          return outcome;
        },
      })),
      {
        id: 'incr-full',
        what: 'ipanalyse --full, the same live window',
        group: 'child' as const,
        lines,
        measure: () => run('ipanalyse --full', dirs.get(1) as string, WINDOW_END, ['--dry-run', '--full']),
      },
      {
        id: 'incr-1m-live',
        what: 'ipanalyse incremental, 1 min, a real run keeping its state',
        group: 'child' as const,
        lines,
        measure: () => liveRun('ipanalyse incremental real run (1 min)', dirs.get(1) as string),
      },
      {
        id: 'incr-flood-1m-live',
        what: 'ipanalyse incremental, 1M-client flood, 1 min, real run',
        group: 'child' as const,
        lines: setup.probes.flood.linesRead,
        measure: () => liveRun('ipanalyse incremental real run (flood, 1 min)', floodDir),
      },
    ],
    targets: (s) => {
      const rss = s('incr-flood-1m-live').peakRssMB;
      return [
        ratioTarget('original / ipanalyse incremental (state 1 min old), realistic hour', s('original-real'), s('incr-1m'), { atLeast: MIN_SPEEDUP }, `${s('original-real').wallMs.toFixed(0)} / ${s('incr-1m').wallMs.toFixed(0)} ms`),
        // What cron runs: the same step, writing its state and digests, its files put back after each round.
        ratioTarget('the same, a real run keeping its state', s('original-real'), s('incr-1m-live'), { atLeast: MIN_SPEEDUP }, `${s('original-real').wallMs.toFixed(0)} / ${s('incr-1m-live').wallMs.toFixed(0)} ms`),
        {
          name: 'peak RSS, incremental step keeping its state, 1M-client flood (MB)',
          value: rss ?? NaN,
          target: `<= ${MAX_RSS_MB}`,
          pass: rss === undefined ? undefined : rss <= MAX_RSS_MB,
          detail: `realistic hour's real run: ${s('incr-1m-live').peakRssMB?.toFixed(0) ?? '-'} MB`,
        },
      ];
    },
    figures: (s) => [
      `incremental against --full on the same window: ${MINUTES.map((m) => `${m} min ${(s('incr-full').wallMs / s(`incr-${m}m`).wallMs).toFixed(1)}x`).join(', ')} faster`,
    ],
  };
}
