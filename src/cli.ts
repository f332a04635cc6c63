/**
 * The command line: the only module that sees argv, stdout, stderr and the
 * exit code. Everything else throws typed errors and returns values.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ExitCode, ExitError, UsageError } from './errors.js';
import { loadSettings } from './load-settings.js';
import { parseLocalDateTime } from './local-time.js';
import { MAP_FORMATS, type MapFormat } from './map-file.js';
import { runAnalysis } from './run.js';
import { renderJson, renderSummary } from './summary.js';

/** The installation's base directory (the original's BASEDIR): settings/ and log/ hang off it. */
const BASE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function parseDateArgument(text: string, what: string): Date {
  const date = parseLocalDateTime(text);
  if (!date) throw new UsageError(`${what} '${text}' is not a date in the form "YYYY-mm-dd HH:MM:SS"`);
  return date;
}

async function main(argv: string[]): Promise<number> {
  const args = await yargs(argv)
    .scriptName('ipanalyse')
    .usage('$0 [options] LOGFILE [STARTDATE]\n\nAnalyse the access log and update the map of throttled (bulk), blocked and banned clients.')
    .command('$0 <logfile> [startdate]', false, (y) =>
      y
        .positional('logfile', { type: 'string', describe: 'the access log (combined format)', demandOption: true })
        .positional('startdate', { type: 'string', describe: 'start of the window, "YYYY-mm-dd HH:MM:SS" local time (a replay); default: now minus the long window' }),
    )
    .option('settings', { type: 'string', describe: 'settings file (default: BASEDIR/settings/ip_blocks.conf)' })
    .option('map', { type: 'string', describe: 'map file to write (default: BLOCKEDFILE)' })
    .option('changelog', { type: 'string', describe: 'change log to append to (default: LOGFILE)' })
    .option('loadavg', { type: 'number', describe: 'use N as the 15-minute load average instead of reading LOADAVG_FILE' })
    .option('now', { type: 'string', describe: 'the clock, "YYYY-mm-dd HH:MM:SS": end of the window and change-log time (default: now)' })
    .option('format', { choices: MAP_FORMATS, default: 'apache' as MapFormat, describe: 'map syntax: apache (RewriteMap txt:) or nginx (map include)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'decide and print the map and changes; write nothing' })
    .option('verbose', { type: 'boolean', default: false, describe: 'print a summary of the run' })
    .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
    .strict()
    .version(false)
    .help()
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .parseAsync();

  if (args.loadavg !== undefined && !(Number.isFinite(args.loadavg) && args.loadavg >= 0)) {
    throw new UsageError('--loadavg needs a number of 0 or more');
  }
  const now = args.now === undefined ? new Date() : parseDateArgument(args.now, '--now');
  const startDate = typeof args.startdate === 'string' ? parseDateArgument(args.startdate, 'STARTDATE') : undefined;
  const settingsFile = args.settings ?? path.join(BASE_DIR, 'settings/ip_blocks.conf');
  const { settings } = await loadSettings(settingsFile, BASE_DIR, { explicit: args.settings !== undefined });
  const dryRun = args['dry-run'];
  const report = runAnalysis({
    settings,
    logFile: args.logfile as string,
    startDate,
    now,
    loadAverage: args.loadavg,
    mapFile: args.map ?? settings.BLOCKEDFILE,
    changeLogFile: args.changelog ?? settings.LOGFILE,
    format: args.format,
    dryRun,
  });

  for (const warning of report.warnings) process.stderr.write(`ipanalyse: warning: ${warning}\n`);
  if (report.stats && report.stats.linesInWindow === 0 && report.stats.garbageLines > 0) {
    process.stderr.write(`ipanalyse: ${report.logFile}: no usable lines (${report.stats.garbageLines} lines could not be read as combined log format); the map is left as it is\n`);
  }
  if (args.json) process.stdout.write(renderJson(report, dryRun));
  else if (args.verbose) process.stdout.write(renderSummary(report, dryRun));
  if (dryRun && !args.json) {
    process.stdout.write(`--- map ${report.map?.file ?? ''} (not written)\n${report.map?.content ?? ''}--- change log (not written)\n${report.changeLines ?? ''}`);
  }
  return ExitCode.ok;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ExitError) {
      for (const line of error.message.split('\n')) process.stderr.write(`ipanalyse: ${line}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`ipanalyse: internal error (a bug, please report it):\n${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = ExitCode.internal;
    }
  },
);
