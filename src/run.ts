/**
 * One run: stat, seek, read the window, aggregate, decide, render, write.
 * The only module that sequences I/O; every decision it makes is delegated to
 * a pure function, and the clock and the load average are read here once.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { buildAddressList } from './address/address-list.js';
import { appendAtomically, removeStaleTempFiles, writeFileAtomic } from './write/atomic-write.js';
import { renderChangeLines } from './write/change-log.js';
import { OutputError, SafetyValveError, describeSystemError } from './errors.js';
import { type Limits, adjustLimits } from './decide/limits.js';
import { readLoadAverage } from './read/load-average.js';
import type { LogFileRead, ProgressListener } from './read/log-source.js';
import { analysisWindow, readWindow } from './read/read-window.js';
import { type MapFormat, countStates, parseMap, renderGeo, renderMap } from './write/map-file.js';
import { type Changes, type MapState, applySafetyValve, decideAll, previousClientState } from './decide/policy.js';
import { acquireRunLock } from './write/run-lock.js';
import type { Settings } from './settings/settings.js';
import type { AnalysisWindow, ClientTable, WindowStats } from './read/window-stats.js';

export interface RunOptions {
  settings: Settings;
  logFile: string;
  /** Start of the long window (a replay); default: `now` minus the long window. */
  startDate?: Date;
  /** The clock; stamps the change log and, without startDate, ends the window. */
  now: Date;
  /** Overrides the load average file (replays and tests). */
  loadAverage?: number;
  mapFile: string;
  changeLogFile: string;
  format: MapFormat;
  dryRun: boolean;
  /** nginx geo include of the blacklist, written alongside the map. */
  geoFile?: string;
  /** Shell command run after the map (or geo include) was rewritten. */
  onChange?: string;
  progress?: ProgressListener;
}

export interface RunReport {
  logFile: string;
  logBytes: number;
  window: AnalysisWindow;
  /** Set when the run decided nothing and left the map as it was. */
  skipped?: string;
  /** The files read, oldest first, and from where. */
  files: LogFileRead[];
  stats?: Omit<WindowStats, 'clients'> & { clients: number };
  /** Every client's statistics, for `explain`; not part of the JSON summary. */
  clientTable?: ClientTable;
  limits?: Limits;
  previous?: Record<MapState, number>;
  /** The previous map as read, for `explain`; not part of the JSON summary. */
  previousStates?: ReadonlyMap<string, MapState>;
  /** Problems worth an operator's attention that did not stop the run. */
  warnings: string[];
  map?: { file: string; counts: Record<MapState, number>; changed: boolean; written: boolean; content: string; states: ReadonlyMap<string, MapState> };
  changes?: Changes;
  changeLines?: string;
  /** Set when the safety valve withheld the new blocks. */
  safetyValve?: { reason: string; withheld: string[] };
  changeLogWritten: boolean;
  geoWritten?: boolean;
}

/**
 * Runs the analysis under the map's lock (a dry run writes nothing and takes
 * no lock). Throws ExitErrors for the operator; the previous map stays whole.
 */
export async function runAnalysis(options: RunOptions): Promise<RunReport> {
  if (options.dryRun) return analyse(options, []);
  const lock = acquireRunLock(options.mapFile);
  try {
    const warnings = lock.warning ? [lock.warning] : [];
    for (const file of [options.mapFile, options.changeLogFile, options.geoFile]) {
      if (file) for (const stale of removeStaleTempFiles(file)) warnings.push(`removed ${stale}, left by a run that was killed`);
    }
    return await analyse(options, warnings);
  } finally {
    lock.release();
  }
}

async function analyse(options: RunOptions, warnings: string[]): Promise<RunReport> {
  const { settings } = options;
  const window = analysisWindow(settings, options.now, options.startDate);
  const { stats, logBytes, files } = await readWindow(options.logFile, settings, window, warnings, options.progress);
  const report: RunReport = { logFile: options.logFile, logBytes, window, warnings, changeLogWritten: false, files };
  if (!stats) {
    report.skipped = `the log is smaller than MIN_LOG_SIZE (${logBytes} < ${settings.MIN_LOG_SIZE} bytes): not enough data`;
    return leaveMapAsItIs(report, options);
  }
  report.stats = { ...stats, clients: stats.clients.size };
  report.clientTable = stats.clients;
  if (stats.linesInWindow === 0) {
    // A wrong log or broken logging must not release every client at once.
    report.skipped = 'no usable lines in the window: the map is left as it is';
    return leaveMapAsItIs(report, options);
  }

  const previousText = readMapText(options.mapFile);
  const previousMap = parseMap(previousText ?? '');
  report.warnings.push(...previousMap.warnings.map((warning) => `${options.mapFile}:${warning}`));
  const blacklist = bannedAddresses(settings, stats.clients.listedAddresses, previousMap.states);
  let numbulks = 0;
  for (const address of previousMap.states.keys()) {
    if (previousClientState(previousMap.states, address, blacklist) === 'bulk') numbulks++;
  }
  report.previous = countStates(previousMap.states);
  report.previousStates = previousMap.states;

  const loadAverage = options.loadAverage ?? readLoadAverage(settings.LOADAVG_FILE);
  const limits = adjustLimits(settings, loadAverage, stats.total200, numbulks);
  report.limits = limits;
  const valve = applySafetyValve({
    decision: decideAll({ previous: previousMap.states, clients: stats.clients.entries(), limits, blacklist }),
    previous: previousMap.states,
    longTotalOf: (address) => stats.clients.get(address)?.longTotal ?? 0,
    totalRequests: stats.linesInWindow,
    maxNewBlocks: settings.MAX_NEW_BLOCKS,
    maxBlockedShare: settings.MAX_BLOCKED_SHARE,
  });
  const decision = valve.decision;
  report.safetyValve = valve.tripped ? { reason: valve.tripped, withheld: valve.withheld } : undefined;

  const content = renderMap(decision.states, options.format);
  const changed = content !== previousText;
  report.map = { file: options.mapFile, counts: countStates(decision.states), changed, written: false, content, states: decision.states };
  report.changes = decision.changes;
  report.changeLines = renderChangeLines(options.now, decision.changes);
  if (options.dryRun) return report;

  if (changed) {
    writeFileAtomic(options.mapFile, content);
    report.map.written = true;
  }
  if (options.geoFile && writeGeoIfChanged(options.geoFile, settings.BLACKLIST)) report.geoWritten = true;
  if (report.changeLines) {
    appendAtomically(options.changeLogFile, report.changeLines);
    report.changeLogWritten = true;
  }
  if ((report.map.written || report.geoWritten) && options.onChange) runOnChange(options.onChange, options.mapFile);
  if (report.safetyValve) {
    const sample = valve.withheld.slice(0, 5).join(', ') + (valve.withheld.length > 5 ? ', ...' : '');
    throw new SafetyValveError(`safety valve: ${report.safetyValve.reason}; no new block written (withheld: ${sample}); everything else was applied`);
  }
  return report;
}

/**
 * A run that decides nothing changes nothing, but makes sure a map exists:
 * neither Apache nor nginx starts when the file it includes is missing.
 */
function leaveMapAsItIs(report: RunReport, options: RunOptions): RunReport {
  if (!options.dryRun && readMapText(options.mapFile) === undefined) {
    writeFileAtomic(options.mapFile, '');
    report.warnings.push(`created an empty ${options.mapFile} so that the web server can start`);
  }
  return report;
}

/**
 * The addresses written as `ban`: the blacklisted ones, and every client of
 * a blacklisted network that showed up in the window or in the previous map,
 * since a map (unlike nginx's geo) cannot hold a network.
 */
function bannedAddresses(settings: Settings, listedSeen: Iterable<string>, previous: ReadonlyMap<string, MapState>): ReadonlySet<string> {
  const blacklist = buildAddressList(settings.BLACKLIST);
  const bans = new Set(blacklist.addresses);
  if (blacklist.networks.length > 0) {
    for (const address of listedSeen) if (blacklist.has(address)) bans.add(address);
    for (const address of previous.keys()) if (blacklist.has(address)) bans.add(address);
  }
  return bans;
}

/** Writes the nginx geo include of the blacklist (addresses and networks) when its content changed. */
function writeGeoIfChanged(geoFile: string, blacklist: readonly string[]): boolean {
  const content = renderGeo(blacklist);
  if (readMapText(geoFile) === content) return false;
  writeFileAtomic(geoFile, content);
  return true;
}

const ON_CHANGE_TIMEOUT_MS = 60_000;

/**
 * Runs the operator's command (e.g. `nginx -t && nginx -s reload`) after the
 * map changed. Its failure is an output error: the map is right, but the web
 * server may not use it yet.
 */
function runOnChange(command: string, mapFile: string): void {
  const result = spawnSync('/bin/sh', ['-c', command], {
    env: { ...process.env, IPANALYSE_MAP: mapFile },
    encoding: 'utf8',
    timeout: ON_CHANGE_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.error || result.status !== 0) {
    const how = result.error ? result.error.message : result.signal ? `killed by ${result.signal}` : `exit ${result.status}`;
    const said = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n')[0];
    throw new OutputError(`the map was written, but ON_CHANGE '${command}' failed (${how})${said ? `: ${said}` : ''}`);
  }
}

/** The previous map's text, or undefined when there is none yet. */
export function readMapText(mapFile: string): string | undefined {
  try {
    return fs.readFileSync(mapFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OutputError(`cannot read the previous map ${describeSystemError(error, mapFile)}`);
  }
}

