/**
 * ClickHouse as the statistics source, the pure half: the SQL a run sends
 * and the window's statistics made of its answer. clickhouse-source.ts does
 * the HTTP.
 *
 * The query groups the window's rows per client address as stored, so that
 * the address is canonicalised, matched against the lists and keyed to its
 * network (IPV6_PREFIX) here, by the same ClientTable the log reader counts
 * into: a table and a log holding the same lines key them alike. Only what
 * SQL on ClickHouse 18.16 can do exactly is done there: the window bounds,
 * OPTIONS, an endpoint named in the target as sent (`position`), a missing
 * or blocklisted user agent. A target that names no endpoint as sent but
 * whose path may hide one (`%`, `//`, `/.`) is grouped by its path, which
 * request-path.ts then decodes and classifies as it does a log line's: such
 * paths are rare, and SQL cannot resolve `/../` as nginx and Apache do.
 */
import { hashBytes } from './address-table.js';
import { type RequestClassifier, isApiTarget } from './request-path.js';
import { type AnalysisWindow, type ClientTable, LISTED, MAX_GARBAGE_SAMPLES, NOT_AN_ADDRESS, type WindowStats, emptyWindowStats } from './window-stats.js';

/** `table` or `database.table`: spliced into the SQL, so nothing that would need quoting. */
export const CLICKHOUSE_TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Why `text` is not a URL of ClickHouse's HTTP interface, or undefined when it is one. */
export function clickHouseUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected ClickHouse's HTTP interface such as 'http://127.0.0.1:8123/?database=logs', got '${text}'`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `expected an http:// or https:// URL of ClickHouse's HTTP interface, got '${text}'`;
  return undefined;
}

/** A string literal of ClickHouse SQL holding exactly the bytes of `text` (UTF-8). */
function sqlString(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** The table name as SQL: each part in backquotes (the name matched CLICKHOUSE_TABLE_NAME). */
function sqlTable(table: string): string {
  return table
    .split('.')
    .map((part) => `\`${part}\``)
    .join('.');
}

export interface WindowQueryOptions {
  table: string;
  window: AnalysisWindow;
  /** API_ENDPOINTS. */
  endpoints: readonly string[];
  /** UA_BLOCKLIST. */
  uaBlocklist: readonly string[];
}

/** The answer's columns, in order. */
const COLUMNS = ['client', 'hidden_path', 'long_total', 'short_total', 'long_api', 'short_api', 'api200', 'short200', 'bad_ua'] as const;

/**
 * The one GROUP BY of a run: per client address (and hidden path), both
 * windows' counts. Strings come back hex-encoded, so that no byte of a
 * hostile address or path needs unescaping; `wait_end_of_query` (set by the
 * source) makes an error that strikes midway an HTTP error, not a cut answer.
 */
export function windowQuery({ table, window, endpoints, uaBlocklist }: WindowQueryOptions): string {
  // As request-path.ts: an endpoint with a space never matches a target, which ends at the first space.
  const matchable = endpoints.filter((endpoint) => endpoint.length > 0 && !endpoint.includes(' '));
  const namesEndpoint = matchable.length > 0 ? matchable.map((endpoint) => `position(target, ${sqlString(endpoint)}) > 0`).join(' OR ') : '0';
  // substring counts bytes, as the log reader compares them; 18.16 has no startsWith.
  const blocked = uaBlocklist.map((prefix) => ` OR substring(ua, 1, ${Buffer.byteLength(prefix, 'utf8')}) = ${sqlString(prefix)}`).join('');
  return `SELECT hex(client), hex(hidden_path),
  count() AS long_total, countIf(short) AS short_total,
  countIf(api) AS long_api, countIf(api AND short) AS short_api,
  countIf(api AND short AND status = 200) AS api200, countIf(short AND status = 200) AS short200,
  max(bad) AS bad_ua
FROM (
  SELECT client, status,
    toUInt32(time) > ${window.shortStart} AS short,
    splitByChar(' ', request) AS words,
    words[2] AS target,
    splitByChar('?', target)[1] AS path,
    words[1] = 'OPTIONS' AS options,
    NOT options AND (${namesEndpoint}) AS api,
    ifNull(user_agent, '') AS ua,
    ua = ''${blocked} AS bad,
    if(api OR options OR NOT (position(path, '%') > 0 OR position(path, '//') > 0 OR position(path, '/.') > 0), '', path) AS hidden_path
  FROM ${sqlTable(table)}
  WHERE time >= toDateTime(${window.start}) AND time <= toDateTime(${window.end})
)
GROUP BY client, hidden_path
FORMAT TabSeparated`;
}

/**
 * The newest line's time that is not in the future, and how many are; the
 * `since` bound keeps the scan to the recent part of a large table (none:
 * all of it, asked only when the recent part is empty).
 */
export function newestQuery(table: string, futureAfter: number, since?: number): string {
  const where = since === undefined ? '' : `\nWHERE time >= toDateTime(${since})`;
  return `SELECT toUInt32(maxIf(time, time <= toDateTime(${futureAfter}))), countIf(time > toDateTime(${futureAfter}))
FROM ${sqlTable(table)}${where}
FORMAT TabSeparated`;
}

/** The newest line's time (NaN when there is none) and the future lines, from newestQuery's answer. */
export function parseNewest(text: string): { newestLineTime: number; futureLines: number } | undefined {
  const fields = text.trimEnd().split('\t');
  if (fields.length !== 2 || !fields.every((field) => /^\d+$/.test(field))) return undefined;
  const newest = Number(fields[0]);
  // maxIf over no row is the epoch.
  return { newestLineTime: newest > 0 ? newest : NaN, futureLines: Number(fields[1]) };
}

/** One row of the answer: an address as stored, and its counts. */
export interface AggregateRow {
  client: Buffer;
  /** The path of targets that name no endpoint as sent but may once decoded; empty for every other row. */
  hiddenPath: Buffer;
  longTotal: number;
  shortTotal: number;
  longApi: number;
  shortApi: number;
  /** API requests answered 200 in the short window. */
  api200: number;
  /** Requests answered 200 in the short window. */
  short200: number;
  badUa: boolean;
}

export class AnswerError extends Error {}

/** The rows of windowQuery's answer; throws AnswerError at the first line that is not one. */
export function parseAggregateRows(text: string): AggregateRow[] {
  const rows: AggregateRow[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const fields = line.split('\t');
    const counts = fields.slice(2).map(Number);
    if (fields.length !== COLUMNS.length || !/^([0-9A-F]{2})*$/.test(fields[0]) || !/^([0-9A-F]{2})*$/.test(fields[1]) || !counts.every(Number.isSafeInteger)) {
      throw new AnswerError(`unexpected answer line: ${line.slice(0, 200)}`);
    }
    const [longTotal, shortTotal, longApi, shortApi, api200, short200, badUa] = counts;
    rows.push({ client: Buffer.from(fields[0], 'hex'), hiddenPath: Buffer.from(fields[1], 'hex'), longTotal, shortTotal, longApi, shortApi, api200, short200, badUa: badUa === 1 });
  }
  return rows;
}

/**
 * The window's statistics from the answer's rows, counted into `clients`
 * as the log reader counts lines: a client that is no address is garbage,
 * a listed one counts towards the window's lines and the database load only.
 */
export function statsFromRows(rows: readonly AggregateRow[], clients: ClientTable, classifier: RequestClassifier, newest: { newestLineTime: number; futureLines: number }): WindowStats {
  const stats = emptyWindowStats(clients);
  stats.futureLines = newest.futureLines;
  stats.newestLineTime = newest.newestLineTime;
  for (const row of rows) {
    stats.linesRead += row.longTotal;
    const index = clients.indexOf(row.client, 0, row.client.length, hashBytes(row.client, 0, row.client.length));
    if (index === NOT_AN_ADDRESS) {
      stats.garbageLines += row.longTotal;
      if (stats.garbageSamples.length < MAX_GARBAGE_SAMPLES) stats.garbageSamples.push(`client '${row.client.toString('latin1').replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}' is no address`);
      continue;
    }
    // A hidden path's rows are all of one kind: API requests when its decoded path names an endpoint.
    const hiddenApi = row.hiddenPath.length > 0 && isApiTarget(row.hiddenPath, 0, row.hiddenPath.length, classifier, false);
    const longApi = hiddenApi ? row.longTotal : row.longApi;
    const shortApi = hiddenApi ? row.shortTotal : row.shortApi;
    stats.linesInWindow += row.longTotal;
    stats.total200 += hiddenApi ? row.short200 : row.api200;
    if (index === LISTED) {
      stats.listedLines += row.longTotal;
      continue;
    }
    clients.addCounts(index, { longTotal: row.longTotal, longApi, shortTotal: row.shortTotal, shortApi, badUa: row.badUa });
  }
  return stats;
}
