/**
 * The read stage's entry point: the window's statistics from the log and its
 * previous generations, with the reader configured from the settings.
 */
import { type AddressList, buildAddressList, isNonGlobal, isNonGlobalIpv4 } from '../address/address-list.js';
import { clientKeyFunction, keepsIpv4Addresses } from '../address/client-key.js';
import type { Settings } from '../settings/settings.js';
import { ClientResolver } from './client-address.js';
import { compileLogFormats, clientFieldOf } from './log-format.js';
import { newRequestClassifier } from './log-line.js';
import { type Generation, type LogFileRead, type ProgressListener, closeGenerations, findGenerations, generationsToRead, lastLineTime, readGenerations } from './log-source.js';
import { type AnalysisWindow, ClientTable, type LineListener, type WindowStats, WindowReader, type WindowReaderOptions, mergeWindowStats } from './window-stats.js';

/**
 * How much older than the line before it a line may be. Servers log a request
 * when it ends, so a slow request lands after quicker, later ones; nginx and
 * Apache time out requests after 60 s by default.
 */
export const DISORDER_SECONDS = 120;

/**
 * The largest step of the server's clock (forward or back) after which no
 * line of the window may be lost: a replay reads this much past the window's
 * end, and the seek checks this much before its start (see log-source.ts).
 */
export const CLOCK_STEP_SECONDS = 2 * 3600;

/** The analysis window for a run, from the start date (a replay) or the clock. */
export function analysisWindow(settings: Settings, now: Date, startDate?: Date): AnalysisWindow {
  const start = startDate ? Math.floor(startDate.getTime() / 1000) : Math.floor(now.getTime() / 1000) - settings.BLOCKCOOLOFF_SECONDS;
  const end = start + settings.BLOCKCOOLOFF_SECONDS;
  return { start, shortStart: end - settings.BULKCOOLOFF_SECONDS, end, now: Math.floor(now.getTime() / 1000) };
}

export interface WindowRead {
  /** undefined when the log is smaller than MIN_LOG_SIZE: nothing was read. */
  stats: WindowStats | undefined;
  /** The log's size with its previous generations. */
  logBytes: number;
  /** The files read, oldest first, and from where. */
  files: LogFileRead[];
  /** The newest line's time in the log, read or not (NaN when none could be read): how stale the log is. */
  newestLineTime: number;
  /** The first unreadable lines as they are (a few KiB each), to find a format that reads them. */
  unreadableSamples: Buffer[];
}

/** One log of a run and the formats it is read with. */
export interface LogToRead {
  path: string;
  formats: readonly string[];
}

export interface LogRead extends WindowRead {
  logFile: string;
  formats: readonly string[];
}

export interface WindowsRead {
  /** Each log as read, in the order given. */
  logs: LogRead[];
  /** Every log's statistics summed per client; undefined when the logs together are smaller than MIN_LOG_SIZE. */
  stats: WindowStats | undefined;
  /** Every log's size with its previous generations. */
  logBytes: number;
}

/**
 * Reads the window from each log and, after a rotation, from its previous
 * generations, into one client table: a client spread over several servers
 * is counted with all its requests. Every log is opened before any is read,
 * so that a missing one stops the run before it reads for nothing. Problems
 * that do not stop the read are pushed to `warnings`.
 */
export async function readWindows(logs: readonly LogToRead[], settings: Settings, window: AnalysisWindow, warnings: string[], progress?: ProgressListener): Promise<WindowsRead> {
  const opened: Generation[][] = [];
  try {
    for (const log of logs) opened.push(findGenerations(log.path, settings.ROTATED_LOGS, warnings));
    const sizes = opened.map((generations) => generations.reduce((sum, generation) => sum + generation.size, 0));
    const logBytes = sizes.reduce((sum, size) => sum + size, 0);
    const clients = logs.length > 1 ? newClientTable(settings) : undefined;
    const reads: LogRead[] = [];
    // MIN_LOG_SIZE is about the data of the whole service: a server's small share is no reason to leave it out.
    const enough = logBytes >= settings.MIN_LOG_SIZE;
    for (const [i, log] of logs.entries()) {
      const generations = opened[i];
      const reader = newWindowReader(settings, window, { formats: log.formats, clients });
      const common = { logFile: log.path, formats: log.formats, logBytes: sizes[i] };
      if (!enough) {
        reads.push({ ...common, stats: undefined, files: [], newestLineTime: lastLineTime(generations, reader.lineTime), unreadableSamples: [] });
        continue;
      }
      const seekTarget = window.start - DISORDER_SECONDS;
      const files = await readGenerations(await generationsToRead(generations, seekTarget, reader.lineTime, warnings), seekTarget, reader, warnings, progress);
      const stats = reader.finish();
      // Nothing read after the seek: every line is older than the window, perhaps by days.
      const newestLineTime = stats.newestLineTime === stats.newestLineTime ? stats.newestLineTime : lastLineTime(generations, reader.lineTime);
      reads.push({ ...common, stats, files, newestLineTime, unreadableSamples: reader.unreadableSamples });
    }
    const stats = enough ? mergeWindowStats(reads.map((read) => read.stats as WindowStats)) : undefined;
    return { logs: reads, stats, logBytes };
  } finally {
    for (const generations of opened) closeGenerations(generations);
  }
}

/** The table a run counts its clients in, configured from the settings. */
export function newClientTable(settings: Settings): ClientTable {
  const { isListed, clientKey, isListedIpv4 } = clientTableOptions(settings);
  return new ClientTable(isListed, clientKey, isListedIpv4);
}

/** Which clients get no statistics, and the key each other one is counted under. */
function clientTableOptions(settings: Settings): Pick<WindowReaderOptions, 'isListed' | 'isListedIpv4' | 'clientKey'> {
  const { isListed, isListedIpv4 } = listsOf(settings);
  const prefixes = { ipv4: settings.IPV4_PREFIX, ipv6: settings.IPV6_PREFIX };
  return { isListed, isListedIpv4: keepsIpv4Addresses(prefixes) ? isListedIpv4 : undefined, clientKey: clientKeyFunction(prefixes) };
}

/**
 * The reader a run feeds a log's bytes to, configured from the settings:
 * `formats` are the log's own (default LOG_FORMAT), `clients` the table it
 * counts into when several logs are counted together, `onLine` hears every
 * line (simulate keeps lines, not counts).
 */
export function newWindowReader(
  settings: Settings,
  window: AnalysisWindow,
  { formats = settings.LOG_FORMAT, clients, onLine }: { formats?: readonly string[]; clients?: ClientTable; onLine?: LineListener } = {},
): WindowReader {
  return new WindowReader({ ...windowReaderOptions(settings, formats), window, clients, onLine });
}

/**
 * What every reader of a log with these formats shares, compiled once: an
 * incremental run makes a reader per slice of the log.
 */
export function windowReaderOptions(settings: Settings, formats: readonly string[]): Omit<WindowReaderOptions, 'window'> {
  // Settings were validated: the client field parses and the formats compile.
  const clientField = clientFieldOf(settings.CLIENT_ADDRESS);
  const { trusted } = listsOf(settings);
  return {
    ...clientTableOptions(settings),
    classifier: newRequestClassifier(settings.API_ENDPOINTS),
    uaBlocklist: settings.UA_BLOCKLIST,
    disorderSeconds: DISORDER_SECONDS,
    clockStepSeconds: CLOCK_STEP_SECONDS,
    formats: compileLogFormats(formats, clientField),
    clientResolver: clientField?.kind === 'header' ? new ClientResolver(trusted) : undefined,
  };
}

/**
 * The lists the read stage matches addresses against, built once per
 * settings: every log's reader and the run's table ask for them, and a large
 * BLACKLIST_FILE took a build each.
 */
function listsOf(settings: Settings): ReadLists {
  let lists = readLists.get(settings);
  if (lists === undefined) readLists.set(settings, (lists = buildReadLists(settings)));
  return lists;
}

interface ReadLists {
  /** Clients that get no statistics: whitelisted, blacklisted, and non-global ones when so configured. */
  isListed(address: string): boolean;
  /** The same, for an IPv4 address as its number. */
  isListedIpv4(value: number): boolean;
  /** TRUSTED_PROXIES, when there are any. */
  trusted: AddressList | undefined;
}

const readLists = new WeakMap<Settings, ReadLists>();

function buildReadLists(settings: Settings): ReadLists {
  const listed = buildAddressList([...settings.WHITELIST, ...settings.BLACKLIST]);
  const excludeNonGlobal = settings.EXCLUDE_NON_GLOBAL;
  return {
    isListed: (address) => listed.has(address) || (excludeNonGlobal && isNonGlobal(address)),
    isListedIpv4: (value) => listed.hasIpv4(value) || (excludeNonGlobal && isNonGlobalIpv4(value)),
    trusted: settings.TRUSTED_PROXIES.length > 0 ? buildAddressList(settings.TRUSTED_PROXIES) : undefined,
  };
}
