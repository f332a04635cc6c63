/**
 * The run as a Prometheus textfile, for node_exporter's textfile collector.
 * Pure: the caller passes the duration and the last success's time.
 */
import { CHANGE_KINDS } from '../decide/policy.js';
import { PROBLEM_EXIT_CODES, type ProblemKind } from '../errors.js';
import type { RunReport } from '../run.js';

function metric(lines: string[], name: string, help: string, samples: [labels: string, value: number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 'NaN'}`);
}

const LAST_SUCCESS = 'ipanalyse_last_success_timestamp_seconds';
/** Written here, read back by `status`. */
export const UNREADABLE_SHARE = 'ipanalyse_unreadable_share';
export const NEWEST_LINE_AGE = 'ipanalyse_newest_line_age_seconds';

/**
 * Renders the metrics of a run. `lastSuccess` is now for a run without
 * problems; after a problem it is the previous file's value (lastSuccessOf),
 * so that an alert on its age fires; undefined leaves it out.
 */
export function renderMetrics(report: RunReport, durationSeconds: number, lastSuccess: Date | undefined): string {
  const lines: string[] = [];
  const counts = report.map?.counts;
  if (counts) metric(lines, 'ipanalyse_clients', 'Clients in the map, per state.', Object.entries(counts).map(([state, n]) => [`{state="${state}"}`, n]));
  if (report.stats) {
    metric(lines, 'ipanalyse_lines_read', 'Log lines read in the last run.', [['', report.stats.linesRead]]);
    metric(lines, 'ipanalyse_lines_in_window', 'Log lines inside the analysis window.', [['', report.stats.linesInWindow]]);
    metric(lines, 'ipanalyse_garbage_lines', 'Lines that could not be read as combined log format.', [['', report.stats.garbageLines]]);
  }
  const { sight } = report;
  metric(lines, UNREADABLE_SHARE, 'Share of the lines read that could not be read with the format in force.', [['', sight.unreadableShare]]);
  metric(lines, 'ipanalyse_future_lines', 'Lines stamped later than now, skipped.', [['', sight.futureLines]]);
  if (sight.newestLineAgeSeconds !== null) metric(lines, NEWEST_LINE_AGE, "Age of the log's newest line at the run (alert: logging stopped).", [['', sight.newestLineAgeSeconds]]);
  metric(lines, 'ipanalyse_window_start_seconds', 'Start of the long window, Unix time.', [['', report.window.start]]);
  metric(lines, 'ipanalyse_window_end_seconds', 'End of the window, Unix time.', [['', report.window.end]]);
  const limits = report.limits;
  if (limits) {
    metric(lines, 'ipanalyse_limit_requests', 'API requests per window above which the rule applies.', [
      ['{limit="bulk_long"}', limits.bulkLongLimit],
      ['{limit="bulk_short"}', limits.bulkShortLimit],
      ['{limit="block"}', limits.blockLimit],
      ['{limit="block_upper"}', limits.blockUpper],
    ]);
    metric(lines, 'ipanalyse_load_average', 'The 15-minute load average the limits were adapted to.', [['', limits.loadAverage]]);
    metric(lines, 'ipanalyse_dbload', 'API requests answered 200 per second in the short window.', [['', limits.dbload]]);
  }
  if (report.changes) {
    const changes = report.changes;
    metric(lines, 'ipanalyse_changes', 'Clients per kind of change in the last run.', CHANGE_KINDS.map((kind) => [`{kind="${kind}"}`, changes[kind].length]));
  }
  metric(lines, 'ipanalyse_skipped', '1 when the last run decided nothing (log too small, no usable line).', [['', report.skipped ? 1 : 0]]);
  metric(lines, 'ipanalyse_run_duration_seconds', 'How long the last run took.', [['', durationSeconds]]);
  const kinds = Object.keys(PROBLEM_EXIT_CODES) as ProblemKind[];
  metric(lines, 'ipanalyse_problem', '1 when the last run ended with this problem (safety valve, ON_CHANGE failed), else 0.', kinds.map((kind) => [`{kind="${kind}"}`, report.problems.some((p) => p.kind === kind) ? 1 : 0]));
  if (lastSuccess) metric(lines, LAST_SUCCESS, 'When a run last finished without a problem, Unix time.', [['', Math.floor(lastSuccess.getTime() / 1000)]]);
  return `${lines.join('\n')}\n`;
}

/** The last success's time in a metrics file this module wrote, or undefined. */
export function lastSuccessOf(metricsText: string): Date | undefined {
  const match = new RegExp(`^${LAST_SUCCESS} (\\d+)$`, 'm').exec(metricsText);
  return match ? new Date(Number(match[1]) * 1000) : undefined;
}

/** The unlabelled samples of a metrics file this module wrote, by name. */
export function readMetricValues(metricsText: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const match of metricsText.matchAll(/^(ipanalyse_\w+) (\S+)$/gm)) values.set(match[1], Number(match[2]));
  return values;
}

/** The problems the last run ended with, as the metrics file says. */
export function problemsOf(metricsText: string): ProblemKind[] {
  return [...metricsText.matchAll(/^ipanalyse_problem\{kind="([a-z-]+)"\} 1$/gm)].map((match) => match[1] as ProblemKind);
}
