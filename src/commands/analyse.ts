/** The main job: `ipanalyse [options] LOGFILE... [STARTDATE]`, run by cron. */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import type { Problem } from '../errors.js';
import type { ProgressListener } from '../read/log-source.js';
import { lastSuccessOf, renderMetrics } from '../report/metrics.js';
import { renderJson, renderSummary } from '../report/summary.js';
import { runAnalysis } from '../run.js';
import { writeFileAtomic } from '../write/atomic-write.js';
import { type Output, resolveAnalysisInputs, resolveLogs, resolveSettings, withAnalysisOptions } from './common.js';

export function analyseOptions<T>(y: Argv<T>) {
  return withAnalysisOptions(y)
    .option('dry-run', { type: 'boolean', default: false, describe: 'decide and print the map and changes; write nothing' })
    .option('verbose', { type: 'boolean', default: false, describe: 'print a summary of the run' })
    .option('full', { type: 'boolean', default: false, describe: 'read the whole window; ignore the state the previous run kept in MAP.state' })
    .option('geo', { type: 'string', describe: 'also write the blacklist as an nginx geo include (default: GEO_FILE)' })
    .option('on-change', { type: 'string', describe: 'shell command run when the map changed, e.g. "nginx -t && nginx -s reload" (default: ON_CHANGE)' })
    .option('metrics', { type: 'string', describe: 'write a Prometheus textfile of the run (default: METRICS_FILE)' })
    .option('nft', { type: 'string', describe: 'also write the banned clients and networks as nftables sets for `nft -f` (default: NFT_FILE)' })
    .option('ipset', { type: 'string', describe: 'also write them for `ipset restore` (default: IPSET_FILE)' });
}

type AnalyseArgs = Awaited<ReturnType<typeof analyseOptions>['argv']>;

/** Runs, then writes the metrics and prints everything, whatever the outcome; returns the problems for the CLI's exit code. */
export async function analyseCommand(args: AnalyseArgs, out: Output): Promise<Problem[]> {
  const { logFiles, ...inputs } = resolveAnalysisInputs(args);
  const { settings } = await resolveSettings(args);
  const dryRun = args['dry-run'];
  // Not performance.now(): the global loads perf_hooks, ten of Node's modules, a millisecond of a cron run.
  const started = process.hrtime.bigint();
  const report = await runAnalysis({
    settings,
    logs: resolveLogs(logFiles, settings),
    ...inputs,
    format: args.format,
    dryRun,
    full: args.full,
    progress: out.stderrIsTerminal ? showProgress(out) : undefined,
  });

  const metricsFile = settings.METRICS_FILE;
  if (metricsFile && !dryRun) {
    // A failed run must not look like a success to the alert on the last success's age.
    const lastSuccess = report.problems.length === 0 ? new Date() : lastSuccessOf(readPreviousMetrics(metricsFile));
    writeFileAtomic(metricsFile, renderMetrics(report, Number(process.hrtime.bigint() - started) / 1e9, lastSuccess));
  }
  for (const warning of report.warnings) out.stderr(`ipanalyse: warning: ${warning}\n`);
  const blind = report.problems.some((problem) => problem.kind === 'blind');
  if (!blind && report.stats && report.stats.linesInWindow === 0 && report.stats.garbageLines > 0) {
    for (const log of report.logs.filter((read) => read.garbageLines > 0)) {
      out.stderr(`ipanalyse: ${log.logFile}: no usable lines (${log.garbageLines} lines could not be read as combined log format); the map is left as it is\n`);
    }
  }
  if (args.json) out.stdout(renderJson(report, dryRun));
  else if (args.verbose) out.stdout(renderSummary(report, dryRun));
  if (dryRun && !args.json) {
    out.stdout(`--- map ${report.map?.file ?? ''} (not written)\n${report.map?.content ?? ''}--- change log (not written)\n${report.changeLines ?? ''}`);
  }
  return report.problems;
}

/** The metrics file as the last run left it; '' when there is none or it cannot be read (it is rewritten anyway). */
function readPreviousMetrics(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Only long replays earn a progress line; cron never sees one, as its stderr is no terminal. */
const PROGRESS_FROM_BYTES = 256 * 1024 * 1024;

function showProgress(out: Output): ProgressListener {
  return (file, done, total) => {
    if (total < PROGRESS_FROM_BYTES) return;
    const gigabytes = (bytes: number) => (bytes / 1024 ** 3).toFixed(2);
    const line = `ipanalyse: reading ${file}: ${Math.floor((100 * done) / total)}% (${gigabytes(done)} of ${gigabytes(total)} GB)`;
    out.stderr(`\r${line}${done >= total ? '\n' : ''}`);
  };
}
