/**
 * `ipanalyse simulate LOGFILE --from DATE --to DATE`: cron's job at every
 * step of a past period, in one process, writing nothing but its outputs.
 * The period's lines are read once; src/simulate/ slides the window over
 * them and decides each step with the plan a run makes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { InputError, type Problem, UsageError, describeSystemError } from '../errors.js';
import { CLOCK_STEP_SECONDS, DISORDER_SECONDS, newWindowReader } from '../read/read-window.js';
import { closeGenerations, findGenerations, generationsToRead, readGenerations } from '../read/log-source.js';
import { parseDuration } from '../settings/settings-schema.js';
import type { Settings } from '../settings/settings.js';
import { type LoadSample, loadAt, parseLoadSeries } from '../simulate/load-series.js';
import { PeriodLines } from '../simulate/period-lines.js';
import { type Simulation, type SimulationInput, simulate } from '../simulate/simulation.js';
import { renderComparison, renderStepJson, renderSummaryText, summarize } from '../simulate/summary.js';
import { renderHtmlReport } from '../simulate/html-report.js';
import { MAP_FORMATS, type MapFormat } from '../write/map-file.js';
import { type Output, SETTINGS_OPTION, parseDateArgument, resolveSettings } from './common.js';

export function simulateOptions<T>(y: Argv<T>) {
  return y
    .positional('logfile', { type: 'string', demandOption: true, describe: 'the access log of the period' })
    .option('from', { type: 'string', demandOption: true, describe: 'the first step\'s clock, "YYYY-mm-dd HH:MM:SS"' })
    .option('to', { type: 'string', demandOption: true, describe: 'the last step\'s clock, "YYYY-mm-dd HH:MM:SS"' })
    .option('every', { type: 'string', default: '1 min', describe: "the step, as cron runs it: '1 min', '5 min'" })
    .option('settings', SETTINGS_OPTION)
    .option('map', { type: 'string', describe: 'the map before the first step (default: none, an empty start); never written' })
    .option('loadavg', { type: 'string', default: '0', describe: 'the 15-minute load average: a number, or a file of "TIME VALUE" lines' })
    .option('log-format', { type: 'string', describe: "the access log's format (default: LOG_FORMAT)" })
    .option('format', { choices: MAP_FORMATS, default: 'apache' as MapFormat, describe: 'map syntax: apache or nginx' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per step' })
    .option('html', { type: 'string', describe: 'also write a self-contained HTML report to FILE' })
    .option('compare', { type: 'string', describe: 'a second settings file: the same period under both, side by side' })
    .option('flap-steps', { type: 'number', default: 15, describe: 'a client released and restricted again within this many steps flapped' });
}

type SimulateArgs = Awaited<ReturnType<typeof simulateOptions>['argv']>;

export async function simulateCommand(args: SimulateArgs, out: Output): Promise<Problem[]> {
  const from = seconds(parseDateArgument(args.from, '--from'));
  const to = seconds(parseDateArgument(args.to, '--to'));
  if (to < from) throw new UsageError('--to is before --from');
  const every = parseDuration(args.every);
  if ('problem' in every) throw new UsageError(`--every: ${every.problem}`);
  if (every.seconds < 1 || !Number.isInteger(every.seconds)) throw new UsageError('--every needs whole seconds, 1 or more');
  const loadAverageAt = resolveLoad(args.loadavg);
  const previousMapText = args.map === undefined ? undefined : readText(args.map, 'the map');
  const flapSteps = args['flap-steps'];
  const logFile = String(args.logfile);

  const run = async (settingsFile: string | undefined, label: string): Promise<Simulation> => {
    const { settings } = await resolveSettings({ settings: settingsFile, 'log-format': args['log-format'], map: args.map });
    const read = await readPeriod(logFile, settings, from, to);
    const steps = Math.floor((to - from) / every.seconds) + 1;
    return simulate({
      settings,
      ...read,
      logFile,
      mapFile: settings.BLOCKEDFILE,
      format: args.format,
      from,
      to,
      every: every.seconds,
      disorder: DISORDER_SECONDS,
      loadAverageAt,
      previousMapText,
      onStep: out.stderrIsTerminal && !args.json ? showProgress(out, label, steps) : undefined,
    });
  };
  const first = await run(args.settings, args.compare ? 'A' : '');
  const second = args.compare ? await run(args.compare, 'B') : undefined;
  const names = [args.settings ?? 'settings', args.compare ?? ''];
  const runs = second ? [first, second] : [first];
  // Once each: the text and the HTML report show the same summaries (a pass over the steps, cheap beside them).
  const summaries = runs.map((sim) => summarize(sim, flapSteps));

  if (args.json) {
    for (const step of first.steps) out.stdout(renderStepJson(step, second ? names[0] : undefined));
    if (second) for (const step of second.steps) out.stdout(renderStepJson(step, names[1]));
  } else if (second) {
    out.stdout(renderComparison([summaries[0], summaries[1]], names));
  } else out.stdout(renderSummaryText(summaries[0]));
  if (args.html) {
    const html = renderHtmlReport(
      runs.map((sim, i) => ({ name: second ? names[i] : logFile, simulation: sim, summary: summaries[i] })),
      logFile,
    );
    try {
      writeFileSync(args.html, html);
    } catch (error) {
      throw new InputError(`cannot write the report ${describeSystemError(error, args.html)}`);
    }
  }
  return [];
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${what} ${describeSystemError(error, file)}`);
  }
}

function resolveLoad(value: string): (time: number) => number {
  if (/^\d+(\.\d*)?$/.test(value)) {
    const load = Number(value);
    return () => load;
  }
  let samples: LoadSample[];
  try {
    samples = parseLoadSeries(readText(value, 'the load average series'), value);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new UsageError(`--loadavg: ${(error as Error).message}`);
  }
  return (time) => loadAt(samples, time);
}

type PeriodRead = Pick<SimulationInput, 'lines' | 'addresses' | 'garbageSamples' | 'logBytes'>;

/**
 * Reads the lines every step's window holds, once, from the first window's
 * start (less the disorder allowance) to past the last one's end, with the
 * reader a run uses, keeping a few numbers per line.
 */
export async function readPeriod(logFile: string, settings: Settings, from: number, to: number): Promise<PeriodRead> {
  const warnings: string[] = [];
  const generations = findGenerations(logFile, settings.ROTATED_LOGS, warnings);
  try {
    const logBytes = generations.reduce((sum, generation) => sum + generation.size, 0);
    const start = from - settings.BLOCKCOOLOFF_SECONDS - DISORDER_SECONDS;
    const end = to + DISORDER_SECONDS;
    const lines = new PeriodLines();
    // Its clock is set past the reading's end, so that it stops once lines are well past the period, as a replay does, and takes none for future ones.
    const reader = newWindowReader(settings, { start, shortStart: start, end, now: end + CLOCK_STEP_SECONDS + 2 * DISORDER_SECONDS + 1 }, { onLine: lines.listener });
    await readGenerations(await generationsToRead(generations, start, reader.lineTime, warnings), start, reader, warnings);
    const stats = reader.finish();
    const addresses = Array.from(stats.clients.entries(), ([address]) => address);
    return { lines, addresses, garbageSamples: stats.garbageSamples, logBytes };
  } finally {
    closeGenerations(generations);
  }
}

/** Only a person at a terminal sees it; cron's stderr is no terminal. */
function showProgress(out: Output, label: string, total: number): (done: number, total: number) => void {
  const started = performance.now();
  let shown = 0;
  return (done) => {
    const now = performance.now();
    if (done < total && now - shown < 250) return;
    shown = now;
    const eta = ((now - started) / done) * (total - done) / 1000;
    const line = `ipanalyse simulate${label ? ` ${label}` : ''}: step ${done} of ${total}${done < total ? `, about ${Math.ceil(eta)} s left` : ''}`;
    out.stderr(`\r${line}${done >= total ? '\n' : ''}`);
  };
}
