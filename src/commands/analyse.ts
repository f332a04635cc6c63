/** The main job: `ipanalyse [options] LOGFILE [STARTDATE]`, run by cron. */
import type { Argv } from 'yargs';
import { runAnalysis } from '../run.js';
import { renderJson, renderSummary } from '../summary.js';
import { type Output, resolveAnalysisInputs, resolveSettings, withAnalysisOptions } from './common.js';

export function analyseOptions<T>(y: Argv<T>) {
  return withAnalysisOptions(y)
    .option('dry-run', { type: 'boolean', default: false, describe: 'decide and print the map and changes; write nothing' })
    .option('verbose', { type: 'boolean', default: false, describe: 'print a summary of the run' });
}

type AnalyseArgs = Awaited<ReturnType<typeof analyseOptions>['argv']>;

export async function analyseCommand(args: AnalyseArgs, out: Output): Promise<void> {
  const inputs = resolveAnalysisInputs(args);
  const { loaded, mapFile, changeLogFile } = await resolveSettings(args);
  const dryRun = args['dry-run'];
  const report = await runAnalysis({ settings: loaded.settings, ...inputs, mapFile, changeLogFile, format: args.format, dryRun });

  for (const warning of report.warnings) out.stderr(`ipanalyse: warning: ${warning}\n`);
  if (report.stats && report.stats.linesInWindow === 0 && report.stats.garbageLines > 0) {
    out.stderr(`ipanalyse: ${report.logFile}: no usable lines (${report.stats.garbageLines} lines could not be read as combined log format); the map is left as it is\n`);
  }
  if (args.json) out.stdout(renderJson(report, dryRun));
  else if (args.verbose) out.stdout(renderSummary(report, dryRun));
  if (dryRun && !args.json) {
    out.stdout(`--- map ${report.map?.file ?? ''} (not written)\n${report.map?.content ?? ''}--- change log (not written)\n${report.changeLines ?? ''}`);
  }
}
