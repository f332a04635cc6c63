/**
 * ClickHouse as the statistics source, the I/O half: asks the HTTP
 * interface for the window (clickhouse-query.ts builds and reads the SQL)
 * and hands the run what readWindows would have, one "log" named by the URL.
 *
 * Anything that keeps the answer from being whole (the server down, slower
 * than CLICKHOUSE_TIMEOUT, an HTTP error, the table missing) stops the run
 * before it decides: an ExitError "retry later" (75), the map untouched, as
 * a partial count would release every client it undercounts.
 */
import { ExitCode, ExitError } from '../errors.js';
import type { Settings } from '../settings/settings.js';
import { AnswerError, newestQuery, parseAggregateRows, parseNewest, statsFromRows, windowQuery } from './clickhouse-query.js';
import { newRequestClassifier } from './log-line.js';
import { DISORDER_SECONDS, type WindowsRead, newClientTable } from './read-window.js';
import type { AnalysisWindow } from './window-stats.js';

/** The recent part of the table where the newest line is looked for first: a day, far more than any STALE_AFTER in use. */
const RECENT_SECONDS = 86400;

/** The URL as messages show it: without a password, in the user part or in the query. */
export function describeClickHouse(settings: Pick<Settings, 'CLICKHOUSE_URL' | 'CLICKHOUSE_TABLE'>): string {
  const url = new URL(settings.CLICKHOUSE_URL as string);
  url.password = '';
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return `ClickHouse ${url.href} table ${settings.CLICKHOUSE_TABLE}`;
}

/** The window's statistics from ClickHouse, in readWindows' shape; throws ExitError (75) when ClickHouse cannot give them whole. */
export async function readClickHouse(settings: Settings, window: AnalysisWindow): Promise<WindowsRead> {
  const name = describeClickHouse(settings);
  // One deadline for the whole read: cron starts the next run a minute later.
  const signal = AbortSignal.timeout(settings.CLICKHOUSE_TIMEOUT * 1000);
  const ask = (query: string) => post(settings, query, signal, name);
  const table = settings.CLICKHOUSE_TABLE;
  const futureAfter = (window.now ?? window.end) + DISORDER_SECONDS;
  try {
    let newest = parseNewest(await ask(newestQuery(table, futureAfter, window.start - RECENT_SECONDS)));
    // Nothing recent: the table's newest line, however old, says how stale it is.
    if (newest && newest.newestLineTime !== newest.newestLineTime) newest = parseNewest(await ask(newestQuery(table, futureAfter)));
    if (!newest) throw new AnswerError('unexpected answer to the newest line\'s query');
    const rows = parseAggregateRows(await ask(windowQuery({ table, window, endpoints: settings.API_ENDPOINTS, uaBlocklist: settings.UA_BLOCKLIST })));
    const stats = statsFromRows(rows, newClientTable(settings), newRequestClassifier(settings.API_ENDPOINTS), newest);
    // MIN_LOG_SIZE is about a log file's bytes; a table is always read.
    return { logs: [{ logFile: name, formats: ['clickhouse'], stats, logBytes: 0, files: [], newestLineTime: stats.newestLineTime, unreadableSamples: [] }], stats, logBytes: 0 };
  } catch (error) {
    if (error instanceof AnswerError) throw retryLater(name, error.message, error);
    throw error;
  }
}

function retryLater(name: string, cause: string, error?: unknown): ExitError {
  return new ExitError(`${name}: ${cause}; nothing decided, the map is left as it is; the next run retries`, ExitCode.locked, { cause: error });
}

/** Sends one query; the answer's text, or an ExitError (75) naming the cause. */
async function post(settings: Settings, query: string, signal: AbortSignal, name: string): Promise<string> {
  const url = new URL(settings.CLICKHOUSE_URL as string);
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  // fetch refuses a URL with credentials; ClickHouse takes them as basic authentication.
  if (url.username || url.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username || 'default')}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  // The whole answer before the status: an error midway is an HTTP error, not a cut answer.
  url.searchParams.set('wait_end_of_query', '1');
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: 'POST', body: query, headers, signal });
    text = await response.text();
  } catch (error) {
    if (signal.aborted) throw retryLater(name, `no answer within CLICKHOUSE_TIMEOUT ${settings.CLICKHOUSE_TIMEOUT} s`, error);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw retryLater(name, `cannot reach it: ${cause}`, error);
  }
  if (!response.ok) {
    const first = text.split('\n').find((line) => line.trim() !== '') ?? '';
    throw retryLater(name, `HTTP ${response.status}: ${first.trim().slice(0, 300)}`);
  }
  return text;
}
