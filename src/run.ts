/**
 * One run: lock, read, plan, apply. The only module that sequences a run's
 * I/O; what the run decides is the pure plan's (decide/plan.ts). The clock
 * comes in as a value from the command; the load average is read here once,
 * unless given.
 */
import type { Problem } from './errors.js';
import { readClickHouse } from './read/clickhouse-source.js';
import { readLoadAverage } from './read/load-average.js';
import type { LogFileRead, ProgressListener } from './read/log-source.js';
import { digestFileOf, readWindowsIncremental, removeState } from './read/incremental.js';
import { type LogRead, type LogToRead, type WindowsRead, analysisWindow, readWindows } from './read/read-window.js';
import type { AnalysisWindow, WindowStats } from './read/window-stats.js';
import { type DecidePlan, type Plan, type ReadFacts, nothingToDecide, planRun } from './decide/plan.js';
import type { Limits } from './decide/limits.js';
import type { Changes, MapState } from './decide/policy.js';
import type { Settings } from './settings/settings.js';
import { appendChangeLines, removeStaleTempFiles, writeFileAtomic } from './write/atomic-write.js';
import { firewallEntries, renderIpsetRestore, renderNftSets } from './write/firewall-sets.js';
import { type MapFormat, countStates } from './write/map-file.js';
import { readPreviousMap, writeIfChanged } from './write/map-store.js';
import { clearPendingReload, markReloadPending, pendingReloadFile, readPendingReload, runOnChange } from './write/on-change.js';
import { acquireRunLock } from './write/run-lock.js';

export interface RunOptions {
  /** The effective settings, flags applied: BLOCKEDFILE, LOGFILE, GEO_FILE and ON_CHANGE say where to write. */
  settings: Settings;
  /** The log, read with LOG_FORMAT; ignored when `logs` is given, and both when CLICKHOUSE_URL is set. */
  logFile?: string;
  /** Several servers' logs, each with its formats, counted together. */
  logs?: readonly LogToRead[];
  /** Start of the long window (a replay); default: `now` minus the long window. */
  startDate?: Date;
  /** The clock; stamps the change log and, without startDate, ends the window. */
  now: Date;
  /** Overrides the load average file (replays and tests). */
  loadAverage?: number;
  format: MapFormat;
  /** Decide and report; write nothing, take no lock. */
  dryRun: boolean;
  /** Read the whole window, ignoring (and keeping) the state in MAP.state. */
  full?: boolean;
  progress?: ProgressListener;
}

export interface RunReport {
  /** The first log. */
  logFile: string;
  /** Every log's size with its previous generations. */
  logBytes: number;
  /** Each log as read, in the order given: one, or one per server. */
  logs: LogReport[];
  window: AnalysisWindow;
  /** Set when the run decided nothing and left the map as it was. */
  skipped?: string;
  /** The files read, oldest first (log by log), and from where. */
  files: LogFileRead[];
  stats?: Omit<WindowStats, 'clients'> & { clients: number };
  limits?: Limits;
  previous?: Record<MapState, number>;
  /** Problems worth an operator's attention that did not stop the run. */
  warnings: string[];
  map?: { file: string; counts: Record<MapState, number>; changed: boolean; written: boolean; content: string };
  changes?: Changes;
  changeLines?: string;
  /** Set when the safety valve withheld the new blocks. */
  safetyValve?: { reason: string; withheld: string[] };
  changeLogWritten: boolean;
  geoWritten?: boolean;
  /** The firewall set files (NFT_FILE, IPSET_FILE) this run rewrote. */
  firewallWritten?: string[];
  /** What went wrong after the run wrote what it could, most urgent first; the CLI makes the exit code of it. */
  problems: Problem[];
  /** Whether the run could see: what it could not read, and how old the log's newest line is. */
  sight: Sight;
  /** The whole plan, for `explain`; not part of the JSON summary. */
  plan: Plan;
  /** What became of the incremental state (MAP.state), for --verbose; unset when it was not consulted. */
  stateNote?: string;
}

/** One log's share of the run. */
export interface LogReport {
  logFile: string;
  formats: readonly string[];
  logBytes: number;
  files: LogFileRead[];
  /** Lines of this log: read, inside the window, unreadable; 0 when nothing was read (MIN_LOG_SIZE). */
  linesRead: number;
  linesInWindow: number;
  garbageLines: number;
  sight: Sight;
}

export interface Sight {
  /** Unreadable lines among the lines read, 0 to 1. */
  unreadableShare: number;
  /** Lines stamped later than now (plus the disorder allowance): skipped. */
  futureLines: number;
  /** Epoch seconds; null when no line could be read. Of several logs, the stalest one's: what an alert on the age wants. */
  newestLineTime: number | null;
  /** Seconds from the newest line to now; null when no line could be read. */
  newestLineAgeSeconds: number | null;
}

function sightOf(stats: WindowStats | undefined, newestLineTime: number, now: Date): Sight {
  const known = newestLineTime === newestLineTime;
  return {
    unreadableShare: stats && stats.linesRead > 0 ? stats.garbageLines / stats.linesRead : 0,
    futureLines: stats?.futureLines ?? 0,
    newestLineTime: known ? newestLineTime : null,
    newestLineAgeSeconds: known ? Math.floor(now.getTime() / 1000) - newestLineTime : null,
  };
}

/**
 * Runs the analysis under the map's lock (a dry run writes nothing and takes
 * no lock). Throws ExitErrors when it cannot run at all, the previous map
 * whole; problems after the writes come back in the report.
 */
export async function runAnalysis(options: RunOptions): Promise<RunReport> {
  if (options.dryRun) return analyse(options, []);
  const lock = acquireRunLock(options.settings.BLOCKEDFILE);
  try {
    const warnings = lock.warning ? [lock.warning] : [];
    const { BLOCKEDFILE, LOGFILE, GEO_FILE, NFT_FILE, IPSET_FILE } = options.settings;
    // Every file a run writes by rename, each of which a kill can leave a temporary copy of.
    const outputs = [BLOCKEDFILE, stateFileOf(BLOCKEDFILE), digestFileOf(stateFileOf(BLOCKEDFILE)), pendingReloadFile(BLOCKEDFILE), LOGFILE, GEO_FILE, NFT_FILE, IPSET_FILE].filter((file): file is string => Boolean(file));
    for (const stale of removeStaleTempFiles(outputs)) warnings.push(`removed ${stale}, left by a run that was killed`);
    return await analyse(options, warnings);
  } finally {
    lock.release();
  }
}

async function analyse(options: RunOptions, warnings: string[]): Promise<RunReport> {
  const { settings } = options;
  const mapFile = settings.BLOCKEDFILE;
  const window = analysisWindow(settings, options.now, options.startDate);
  const logs = options.logs ?? [{ path: options.logFile as string, formats: settings.LOG_FORMAT }];
  // ClickHouse, when configured, stands in for the logs: everything after the read is the same.
  const { logs: reads, stats, logBytes, note } = await readAll(options, logs, window, warnings);
  const read: ReadFacts = { replay: options.startDate !== undefined, logs: reads.map(factsOf) };
  const previous = readPreviousMap(mapFile);
  if (previous.warning) warnings.push(previous.warning);
  const previousMapText = previous.text;
  // Only a run that decides needs the load; a missing /proc/loadavg must not stop one that does not.
  const decides = nothingToDecide({ settings, stats, logBytes, read, now: options.now }) === undefined;
  const loadAverage = decides ? (options.loadAverage ?? readLoadAverage(settings.LOADAVG_FILE)) : undefined;
  const plan = planRun({ settings, stats, logBytes, read, previousMapText, mapFile, loadAverage, now: options.now, format: options.format });

  const logReports = reads.map((log) => logReportOf(log, options.now));
  const known = reads.map((log) => log.newestLineTime).filter((time) => time === time);
  const sight = sightOf(stats, known.length > 0 ? Math.min(...known) : NaN, options.now);
  const files = reads.flatMap((log) => log.files);
  const report: RunReport = { logFile: reads[0].logFile, logBytes, logs: logReports, window, files, warnings, changeLogWritten: false, problems: [], sight, plan };
  if (stats) report.stats = { ...stats, clients: stats.clients.size };
  if (note) report.stateNote = note;
  report.warnings.push(...plan.warnings);
  if (!plan.decided) {
    report.skipped = plan.skipped;
    if (plan.problem) report.problems.push(plan.problem);
    if (!options.dryRun) {
      if (plan.createEmptyMap) {
        writeFileAtomic(mapFile, '');
        report.warnings.push(`created an empty ${mapFile} so that the web server can start`);
      }
      await reloadIfNeeded(settings, false, report);
    }
    return report;
  }

  report.limits = plan.limits;
  report.previous = countStates(plan.previous);
  report.safetyValve = plan.safetyValve;
  report.map = { file: mapFile, counts: plan.map.counts, changed: plan.map.changed, written: false, content: plan.map.content };
  report.changes = plan.changes;
  report.changeLines = plan.changeLines;
  if (!options.dryRun) {
    const applied = apply(plan, settings, report.warnings);
    report.map.written = applied.mapWritten;
    report.geoWritten = applied.geoWritten || undefined;
    if (applied.firewallWritten.length > 0) report.firewallWritten = applied.firewallWritten;
    report.changeLogWritten = applied.changeLogWritten;
    await reloadIfNeeded(settings, applied.mapWritten || applied.geoWritten || applied.firewallWritten.length > 0, report);
  }
  if (plan.safetyValve) {
    const { reason, withheld } = plan.safetyValve;
    const sample = withheld.slice(0, 5).join(', ') + (withheld.length > 5 ? ', ...' : '');
    report.problems.push({ kind: 'safety-valve', message: `safety valve: ${reason}; no new block written (withheld: ${sample}); everything else was applied` });
  }
  return report;
}

/** Where the incremental state lives: next to the map, written as atomically. */
export function stateFileOf(mapFile: string): string {
  return `${mapFile}.state`;
}

/**
 * The window from ClickHouse, or from the logs: with INCREMENTAL, from the
 * state a live run keeps, unless --full; a replay drops the state, which
 * describes the live window (a dry run leaves it as it is).
 */
async function readAll(options: RunOptions, logs: readonly LogToRead[], window: AnalysisWindow, warnings: string[]): Promise<WindowsRead & { note?: string }> {
  const { settings } = options;
  if (settings.CLICKHOUSE_URL) return readClickHouse(settings, window);
  const stateFile = stateFileOf(settings.BLOCKEDFILE);
  if (!settings.INCREMENTAL) {
    // Left by runs before INCREMENTAL was turned off: tens of megabytes that no run would read again.
    if (!options.dryRun) removeState(stateFile);
    return readWindows(logs, settings, window, warnings, options.progress);
  }
  if (options.full) return { ...(await readWindows(logs, settings, window, warnings, options.progress)), note: 'state: ignored (--full)' };
  if (options.startDate) {
    if (!options.dryRun) removeState(stateFile);
    return { ...(await readWindows(logs, settings, window, warnings, options.progress)), note: 'state: discarded (a replay)' };
  }
  return readWindowsIncremental(logs, settings, window, warnings, { stateFile, write: !options.dryRun });
}

interface Applied {
  mapWritten: boolean;
  geoWritten: boolean;
  firewallWritten: string[];
  changeLogWritten: boolean;
}

/** Writes what the plan says: map, geo include, firewall sets, change log. */
function apply(plan: DecidePlan, settings: Settings, warnings: string[]): Applied {
  if (plan.map.changed) writeFileAtomic(settings.BLOCKEDFILE, plan.map.content);
  const geoWritten = settings.GEO_FILE !== undefined && writeIfChanged(settings.GEO_FILE, plan.geoContent);
  const firewallWritten = writeFirewallSets(plan, settings);
  // Also without lines of its own: a run killed in mid-append left half a line, and it is cut now.
  const repaired = appendChangeLines(settings.LOGFILE, plan.changeLines);
  if (repaired) warnings.push(repaired);
  return { mapWritten: plan.map.changed, geoWritten, firewallWritten, changeLogWritten: plan.changeLines !== '' };
}

/** The configured firewall set files that had to be rewritten. */
function writeFirewallSets(plan: DecidePlan, settings: Settings): string[] {
  const { NFT_FILE, IPSET_FILE, FIREWALL_NAME } = settings;
  if (NFT_FILE === undefined && IPSET_FILE === undefined) return [];
  const entries = firewallEntries(plan.banned, settings.BLACKLIST);
  const written: string[] = [];
  if (NFT_FILE !== undefined && writeIfChanged(NFT_FILE, renderNftSets(entries, FIREWALL_NAME))) written.push(NFT_FILE);
  if (IPSET_FILE !== undefined && writeIfChanged(IPSET_FILE, renderIpsetRestore(entries, FIREWALL_NAME))) written.push(IPSET_FILE);
  return written;
}

/**
 * Runs ON_CHANGE when this run rewrote the map, the geo include or a
 * firewall set file, or when an earlier reload failed and none has succeeded
 * since: until then the web server (or the firewall) may be serving an old
 * map, so every run retries and says so.
 */
async function reloadIfNeeded(settings: Settings, rewrote: boolean, report: RunReport): Promise<void> {
  const mapFile = settings.BLOCKEDFILE;
  const pending = readPendingReload(mapFile);
  if (!settings.ON_CHANGE) {
    // Nothing left to retry: the operator took the command out.
    if (pending) clearPendingReload(mapFile);
    return;
  }
  if (!rewrote && !pending) return;
  const failure = await runOnChange(settings.ON_CHANGE, mapFile, settings.ON_CHANGE_TIMEOUT);
  if (failure === undefined) {
    if (pending) {
      clearPendingReload(mapFile);
      report.warnings.push(`ON_CHANGE succeeded; the reload pending since an earlier failure is done`);
    }
    return;
  }
  markReloadPending(mapFile, failure);
  report.problems.unshift(
    rewrote
      ? { kind: 'on-change-failed', message: `the map was written, but ${failure}; every run retries it until it succeeds` }
      : { kind: 'reload-pending', message: `a reload is still pending (an earlier ON_CHANGE failed) and ${failure}; the next run retries it` },
  );
}

function factsOf(log: LogRead): ReadFacts['logs'][number] {
  const linesRead = log.stats?.linesRead ?? 0;
  const garbageLines = log.stats?.garbageLines ?? 0;
  return {
    logFile: log.logFile,
    formats: log.formats,
    newestLineTime: log.newestLineTime,
    changed: describeChange(log.files),
    unreadableSamples: log.unreadableSamples,
    linesRead,
    garbageLines,
    garbageSample: log.stats?.garbageSamples[0],
  };
}

function logReportOf(log: LogRead, now: Date): LogReport {
  const { logFile, formats, logBytes, files, stats } = log;
  return {
    logFile,
    formats,
    logBytes,
    files,
    linesRead: stats?.linesRead ?? 0,
    linesInWindow: stats?.linesInWindow ?? 0,
    garbageLines: stats?.garbageLines ?? 0,
    sight: sightOf(stats, log.newestLineTime, now),
  };
}

/** Why the read is partial, in words, or undefined when every file read was whole and is still where it was. */
function describeChange(files: LogFileRead[]): string | undefined {
  const truncated = files.find((file) => file.truncated);
  if (truncated) return `shrank (${truncated.path}: truncated, logrotate's copytruncate?)`;
  const replaced = files.find((file) => file.replaced);
  return replaced ? `was replaced (${replaced.path} now names another file: rotated?)` : undefined;
}
