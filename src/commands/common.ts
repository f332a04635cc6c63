/** What the commands share: the options that locate settings, map and clock, and turning them into values. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { clickHouseUrlProblem } from '../read/clickhouse-query.js';
import { LogFormatError, compileLogFormat } from '../read/log-format.js';
import type { LogToRead } from '../read/read-window.js';
import { loadSettings } from '../settings/load-settings.js';
import { parseLocalDateTime } from '../local-time.js';
import { MAP_FORMATS, type MapFormat } from '../write/map-file.js';
import { type Layout, type LoadedSettings, type Settings, checkoutLayout, systemLayout } from '../settings/settings.js';

/**
 * The installation's base directory (the original's BASEDIR): settings/ and
 * log/ hang off it. Found as the nearest directory above this code that holds
 * package.json, because this code runs both from dist/src/commands/ (tests)
 * and bundled into dist/ (the CLI).
 */
export const BASE_DIR = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}: ipanalyse is not installed as built`);
  }
}

/**
 * Where the settings, the map and the change log are by default. A checkout
 * keeps the original's layout under BASE_DIR; a package installed by npm
 * (the only way this code ends up inside a node_modules directory) uses the
 * system's directories, since its own is replaced by every upgrade.
 */
export const LAYOUT: Layout = BASE_DIR.split(sep).includes('node_modules') ? systemLayout(BASE_DIR) : checkoutLayout(BASE_DIR);

/** The installed version, as package.json says. */
export const VERSION: string = JSON.parse(readFileSync(join(BASE_DIR, 'package.json'), 'utf8')).version;

/** Where a command writes: the CLI passes process.stdout/stderr, tests may pass anything. */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: a person is watching, not cron. */
  stderrIsTerminal: boolean;
}

export const SETTINGS_OPTION = { type: 'string', describe: `settings file (default: ${LAYOUT.settingsFile})` } as const;
export const JSON_OPTION = { type: 'boolean', default: false, describe: 'print one JSON object' } as const;

export function withSettingsOptions<T>(y: Argv<T>) {
  return y
    .option('settings', SETTINGS_OPTION)
    .option('map', { type: 'string', describe: 'map file (default: BLOCKEDFILE)' })
    .option('changelog', { type: 'string', describe: 'change log (default: LOGFILE)' })
    .option('json', JSON_OPTION);
}

export function withAnalysisOptions<T>(y: Argv<T>) {
  return withSettingsOptions(y)
    .positional('logfile', {
      type: 'string',
      array: true,
      describe:
        'the access logs, one per server, counted together (default: LOG_FILES); a last one of the form "YYYY-mm-dd HH:MM:SS" is the start of the window in local time (a replay; default: now minus the long window)',
    })
    .option('loadavg', { type: 'number', describe: 'use N as the 15-minute load average instead of reading LOADAVG_FILE' })
    .option('now', { type: 'string', describe: 'the clock, "YYYY-mm-dd HH:MM:SS": end of the window and change-log time (default: now)' })
    .option('log-format', { type: 'string', describe: "the access log's format: combined (default), common, vhost_combined, caddy, or the server's LogFormat / log_format string (default: LOG_FORMAT)" })
    .option('clickhouse', { type: 'string', describe: "ask ClickHouse's HTTP interface for the window instead of reading logs, e.g. http://127.0.0.1:8123/?database=logs (default: CLICKHOUSE_URL)" })
    .option('format', { choices: MAP_FORMATS, default: 'apache' as MapFormat, describe: 'map syntax: apache (RewriteMap txt:) or nginx (map include)' });
}

export function parseDateArgument(text: string, what: string): Date {
  const date = parseLocalDateTime(text);
  if (!date) throw new UsageError(`${what} '${text}' is not a date in the form "YYYY-mm-dd HH:MM:SS"`);
  return date;
}

/** The flags that stand in for a setting; each overrides the setting named beside it. */
export interface SettingsArgs {
  settings?: string;
  /** BLOCKEDFILE */
  map?: string;
  /** LOGFILE */
  changelog?: string;
  /** GEO_FILE */
  geo?: string;
  /** ON_CHANGE */
  'on-change'?: string;
  /** METRICS_FILE */
  metrics?: string;
  /** LOG_FORMAT (one format; the setting may hold several) */
  'log-format'?: string;
  /** NFT_FILE */
  nft?: string;
  /** IPSET_FILE */
  ipset?: string;
  /** CLICKHOUSE_URL */
  clickhouse?: string;
}

export interface ResolvedSettings {
  loaded: LoadedSettings;
  /** The settings in force: flag, then setting, then default. */
  settings: Settings;
}

/** Loads the settings and applies the flags over them: the one place where flag, setting and default meet. */
export async function resolveSettings(args: SettingsArgs): Promise<ResolvedSettings> {
  const loaded = await loadSettings(args.settings, LAYOUT);
  const file = loaded.settings;
  const settings: Settings = {
    ...file,
    BLOCKEDFILE: args.map ?? file.BLOCKEDFILE,
    LOGFILE: args.changelog ?? file.LOGFILE,
    GEO_FILE: args.geo ?? file.GEO_FILE,
    ON_CHANGE: args['on-change'] ?? file.ON_CHANGE,
    METRICS_FILE: args.metrics ?? file.METRICS_FILE,
    LOG_FORMAT: args['log-format'] === undefined ? file.LOG_FORMAT : [checkedLogFormat(args['log-format'])],
    NFT_FILE: args.nft ?? file.NFT_FILE,
    IPSET_FILE: args.ipset ?? file.IPSET_FILE,
    CLICKHOUSE_URL: args.clickhouse === undefined ? file.CLICKHOUSE_URL : checkedClickHouseUrl(args.clickhouse),
  };
  return { loaded, settings };
}

/** A --log-format value, compiled once here so that a bad one is a usage error naming the flag. */
function checkedLogFormat(text: string): string {
  try {
    compileLogFormat(text);
  } catch (error) {
    if (error instanceof LogFormatError) throw new UsageError(`--log-format: ${error.message}`);
    throw error;
  }
  return text;
}

function checkedClickHouseUrl(text: string): string {
  const problem = clickHouseUrlProblem(text);
  if (problem) throw new UsageError(`--clickhouse: ${problem}`);
  return text;
}

export interface AnalysisArgs extends SettingsArgs {
  /** The logs, and a start date last. */
  logfile?: string[];
  loadavg?: number;
  now?: string;
}

export interface AnalysisInputs {
  /** As given on the command line; none: LOG_FILES (see resolveLogs). */
  logFiles: string[];
  now: Date;
  startDate: Date | undefined;
  loadAverage: number | undefined;
}

/** The clock, read here at the edge unless --now replaces it. */
export function resolveNow(now: string | undefined): Date {
  return now === undefined ? new Date() : parseDateArgument(now, '--now');
}

/** The analysis inputs from the command line, checked; the clock is read once, by resolveNow. */
export function resolveAnalysisInputs(args: AnalysisArgs): AnalysisInputs {
  if (args.loadavg !== undefined && !(Number.isFinite(args.loadavg) && args.loadavg >= 0)) {
    throw new UsageError('--loadavg needs a number of 0 or more');
  }
  const positionals = (args.logfile ?? []).map(String);
  const last = positionals[positionals.length - 1];
  // A log is never named like a date; a start date mistyped still is one, and gets the date's message.
  const startDate = last !== undefined && DATE_FORM.test(last) ? parseDateArgument(last, 'STARTDATE') : undefined;
  return {
    logFiles: startDate ? positionals.slice(0, -1) : positionals,
    now: resolveNow(args.now),
    startDate,
    loadAverage: args.loadavg,
  };
}

const DATE_FORM = /^\d{4}-\d{1,2}-\d{1,2}(?:[ T]|$)/;

/**
 * The logs a run reads and each one's formats: those named on the command
 * line, else LOG_FILES; none when ClickHouse is the source. A log's own format in LOG_FILES (matched by path)
 * wins over LOG_FORMAT and --log-format, which are for the logs without one.
 */
export function resolveLogs(logFiles: readonly string[], settings: Settings): LogToRead[] {
  if (settings.CLICKHOUSE_URL) {
    // Counting a log on top of the table that holds its lines would count them twice.
    if (logFiles.length > 0) throw new UsageError(`logs named (${logFiles[0]}) while ClickHouse (--clickhouse, CLICKHOUSE_URL) is the source: give one or the other`);
    return [];
  }
  const named = logFiles.length > 0 ? logFiles : settings.LOG_FILES.map((file) => file.path);
  if (named.length === 0) throw new UsageError('no log to read: name the access logs on the command line, or set LOG_FILES');
  const seen = new Set<string>();
  return named.map((logFile) => {
    const resolved = resolve(logFile);
    if (seen.has(resolved)) throw new UsageError(`${logFile} is given twice: its requests would be counted twice`);
    seen.add(resolved);
    return { path: logFile, formats: ownLogFormats(settings, logFile) ?? settings.LOG_FORMAT };
  });
}

/** The log's own formats, when LOG_FILES gives it some (matched by path). */
export function ownLogFormats(settings: Settings, logFile: string): string[] | undefined {
  const resolved = resolve(logFile);
  return settings.LOG_FILES.find((file) => resolve(file.path) === resolved)?.formats;
}
