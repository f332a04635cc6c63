/**
 * One log line, as the window reader and the tests see it: scanned by the
 * line's format (log-format.ts), then asked only what a line needs (its
 * request's classification, whether its user agent is missing or blocked).
 *
 * `parseLine`, `scanLine` and `parseLineTime` read the combined format, the
 * default: `IP IDENT USER [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD PATH PROTO" STATUS BYTES "REFERER" "UA" [anything]`.
 */
import { DEFAULT_FORMAT, compileLogFormat } from './log-format.js';
import { DASH, type LogEntry, QUOTE, UA_DASH, UA_EMPTY, findClosingQuote, startsWithAt } from './line-fields.js';
import { type RequestClassifier, classifyRequest } from './request-path.js';

export { NEWLINE, type LogEntry, newLogEntry } from './line-fields.js';
export { type RequestClassifier, isApiRequest, newRequestClassifier } from './request-path.js';

const combined = compileLogFormat(DEFAULT_FORMAT);

/**
 * Scans a combined-format line in [start, end) (without its newline) and
 * fills the fields every line needs; isApi, hasUserAgent (and uaEnd) are
 * left to classifyRequest, userAgentIsMissing and completeUserAgent.
 */
export const scanLine: (buf: Buffer, start: number, end: number, out: LogEntry) => boolean = combined.scan;

/** Reads only as far as the timestamp of a combined-format line: epoch seconds, or NaN. */
export const parseLineTime: (buf: Buffer, start: number, end: number) => number = combined.lineTime;

/**
 * Parses the combined-format line in [start, end) (without its newline) into
 * `out`. Returns false, leaving `out` in an unspecified state, for a line that
 * is not in combined format.
 */
export function parseLine(buf: Buffer, start: number, end: number, classifier: RequestClassifier, out: LogEntry): boolean {
  if (!scanLine(buf, start, end, out)) return false;
  completeUserAgent(buf, out, end);
  out.isApi = classifyRequest(buf, out, classifier);
  return true;
}

/**
 * For a scanned line: whether its user agent is missing, without looking for
 * the end of a quoted one: `-"` is a `-` field (a quote inside would be
 * escaped), and with escape=json a field that closes at once is empty.
 */
export function userAgentIsMissing(buf: Buffer, entry: LogEntry, end: number): boolean {
  const rule = entry.uaRule;
  const uaStart = entry.uaStart;
  const uaEnd = entry.uaEnd;
  if (rule === UA_DASH) {
    return uaEnd < 0 ? buf[uaStart] === DASH && uaStart + 1 < end && buf[uaStart + 1] === QUOTE : uaEnd - uaStart === 1 && buf[uaStart] === DASH;
  }
  if (rule === UA_EMPTY) return uaEnd < 0 ? buf[uaStart] === QUOTE : uaEnd === uaStart;
  return false;
}

/** For a scanned line: sets uaEnd (when the scanner left it to be found) and hasUserAgent. */
export function completeUserAgent(buf: Buffer, entry: LogEntry, end: number): void {
  if (entry.uaEnd < 0) entry.uaEnd = findClosingQuote(buf, entry.uaStart, end);
  entry.hasUserAgent = !userAgentIsMissing(buf, entry, end);
}

/** True when the user agent starts with one of the prefixes (the original's UA_BLOCKLIST, matched with startswith); uaEnd must be known. */
export function userAgentStartsWithAny(buf: Buffer, entry: LogEntry, prefixes: readonly Buffer[]): boolean {
  if (entry.uaRule > UA_EMPTY) return false;
  for (let i = 0; i < prefixes.length; i++) {
    if (startsWithAt(buf, entry.uaStart, entry.uaEnd, prefixes[i])) return true;
  }
  return false;
}

/**
 * userAgentStartsWithAny for a line whose uaEnd was left to be found: right
 * for prefixes that hold no `"` (see uaPrefixesNeedEnd). Such a prefix
 * matching inside the line holds no quote, so the field's closing quote,
 * which exists, lies past it.
 */
export function userAgentStartsWithAnyBefore(buf: Buffer, entry: LogEntry, end: number, prefixes: readonly Buffer[]): boolean {
  const uaStart = entry.uaStart;
  for (let i = 0; i < prefixes.length; i++) {
    const prefix = prefixes[i];
    if (uaStart + prefix.length < end && startsWithAt(buf, uaStart, end, prefix)) return true;
  }
  return false;
}

/** Whether userAgentStartsWithAnyBefore would be wrong for these prefixes (one holds a `"`). */
export function uaPrefixesNeedEnd(prefixes: readonly Buffer[]): boolean {
  return prefixes.some((p) => p.includes(QUOTE));
}
