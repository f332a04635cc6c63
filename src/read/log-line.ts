/**
 * The combined log format, parsed straight from the bytes of a read buffer.
 *
 *   IP IDENT USER [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD PATH PROTO" STATUS BYTES "REFERER" "UA" [anything]
 *
 * This is the hot path of every run: no regular expressions, no string per
 * field. Fields are found by position, the timestamp by fixed offsets, and the
 * caller receives byte ranges into the buffer it already holds.
 *
 * Two entry points decide alike whether a line is in combined format:
 * `parseLine` fills every field; `scanLine`, the window reader's, leaves the
 * request's classification and the user agent's end to be worked out only for
 * the lines that need them (see `isApiRequest` and `completeUserAgent`).
 */
import { FNV_OFFSET, FNV_PRIME } from './address-table.js';

/** One parsed line. A single instance is reused for every line; copy what you keep. */
export interface LogEntry {
  /** Byte range of the address field (not yet validated as an address). */
  ipStart: number;
  ipEnd: number;
  /** hashBytes (address-table.ts) of the address field, computed while looking for its end. */
  ipHash: number;
  /** The instant of the request, in seconds since the epoch (the line's offset applied). */
  time: number;
  /** Byte range of the request (`METHOD PATH PROTO`), inside its quotes. */
  requestStart: number;
  requestEnd: number;
  /** A request to one of the API endpoints (OPTIONS never counts). */
  isApi: boolean;
  status: number;
  /** False when the user agent is `-`. */
  hasUserAgent: boolean;
  uaStart: number;
  uaEnd: number;
}

export function newLogEntry(): LogEntry {
  return { ipStart: 0, ipEnd: 0, ipHash: 0, time: 0, requestStart: 0, requestEnd: 0, isApi: false, status: 0, hasUserAgent: false, uaStart: 0, uaEnd: 0 };
}

/** What decides whether a request is an API request: path fragments, as bytes. */
export interface RequestClassifier {
  /** The endpoints that can occur in a path at all (a path holds no space). */
  matchable: Buffer[];
  /** Per byte: PATH_END for a space, STARTS_ENDPOINT when some matchable endpoint starts with it, else 0. */
  byteKind: Uint8Array;
}

const STARTS_ENDPOINT = 1;
const PATH_END = 2;

export const NEWLINE = 0x0a;
const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DASH = 0x2d;
const SLASH = 0x2f;
const COLON = 0x3a;
const TIMESTAMP_LENGTH = 26; // dd/Mon/yyyy:HH:MM:SS +zzzz

export function newRequestClassifier(endpoints: readonly string[]): RequestClassifier {
  const matchable = endpoints.filter((e) => e.length > 0).map((e) => Buffer.from(e, 'utf8')).filter((e) => !e.includes(SPACE));
  const byteKind = new Uint8Array(256);
  for (const e of matchable) byteKind[e[0]] = STARTS_ENDPOINT;
  byteKind[SPACE] = PATH_END;
  return { matchable, byteKind };
}

const OPTIONS = Buffer.from('OPTIONS');

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function monthAt(buf: Uint8Array, at: number): number {
  const a = buf[at];
  const b = buf[at + 1];
  const c = buf[at + 2];
  for (let m = 0; m < 12; m++) {
    const name = MONTHS[m];
    if (name.charCodeAt(0) === a && name.charCodeAt(1) === b && name.charCodeAt(2) === c) return m;
  }
  return -1;
}

// Consecutive lines nearly always share the date and the zone, so they are
// parsed (and Date.UTC run) once per day of log: `dd/Mon/yyyy` and ` +zzzz` of
// the last timestamp read, and the instant of its 00:00:00. Seeded with a valid one.
const cachedDate = Buffer.from('01/Jan/1970:00:00:00 +0000', 'latin1');
let cachedMidnight = 0;

function digit(buf: Uint8Array, at: number): number {
  const d = buf[at] - 0x30;
  return d >= 0 && d <= 9 ? d : -1000; // poisons any sum it enters
}

function twoDigits(buf: Uint8Array, at: number): number {
  return digit(buf, at) * 10 + digit(buf, at + 1);
}

/** The instant of 00:00:00 on the date at `at`, the zone offset applied, or NaN; caches it. */
function parseDateAndZone(buf: Uint8Array, at: number): number {
  if (buf[at + 2] !== SLASH || buf[at + 6] !== SLASH || buf[at + 20] !== SPACE) return NaN;
  const day = twoDigits(buf, at);
  const month = monthAt(buf, at + 3);
  const year = twoDigits(buf, at + 7) * 100 + twoDigits(buf, at + 9);
  const sign = buf[at + 21];
  const offsetHours = twoDigits(buf, at + 22);
  const offsetMinutes = twoDigits(buf, at + 24);
  if (month < 0 || year < 0) return NaN;
  if ((sign !== 0x2b && sign !== DASH) || offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) {
    return NaN;
  }
  const epoch = Date.UTC(year, month, day) / 1000;
  // A day the month does not have (0, 31 April, 29 February of a common year) comes back as another day.
  if (new Date(epoch * 1000).getUTCDate() !== day) return NaN;
  const offset = (offsetHours * 3600 + offsetMinutes * 60) * (sign === DASH ? -1 : 1);
  for (let i = 0; i < 11; i++) cachedDate[i] = buf[at + i];
  for (let i = 20; i < TIMESTAMP_LENGTH; i++) cachedDate[i] = buf[at + i];
  cachedMidnight = epoch - offset;
  return cachedMidnight;
}

/**
 * Reads `dd/Mon/yyyy:HH:MM:SS +zzzz` at `at`. Returns the instant in epoch
 * seconds, or NaN when the bytes are not such a timestamp.
 */
function parseTimestamp(buf: Buffer, at: number): number {
  // Every line comes here: written out, without calls to small helpers.
  if (buf[at + 11] !== COLON || buf[at + 14] !== COLON || buf[at + 17] !== COLON) return NaN;
  const h1 = buf[at + 12] - 0x30;
  const h2 = buf[at + 13] - 0x30;
  const m1 = buf[at + 15] - 0x30;
  const m2 = buf[at + 16] - 0x30;
  const s1 = buf[at + 18] - 0x30;
  const s2 = buf[at + 19] - 0x30;
  // Negated so that NaN (a byte past the buffer's end) fails too.
  if (!(h1 >= 0 && h1 <= 2 && h2 >= 0 && h2 <= 9 && m1 >= 0 && m1 <= 5 && m2 >= 0 && m2 <= 9 && s1 >= 0 && s1 <= 6 && s2 >= 0 && s2 <= 9)) {
    return NaN;
  }
  const hour = h1 * 10 + h2;
  const second = s1 * 10 + s2;
  if (hour > 23 || second > 60) return NaN;
  // The date and the zone, nearly always those of the line before: one test for all their bytes.
  const c = cachedDate;
  const differ =
    (buf[at] ^ c[0]) | (buf[at + 1] ^ c[1]) | (buf[at + 2] ^ c[2]) | (buf[at + 3] ^ c[3]) | (buf[at + 4] ^ c[4]) | (buf[at + 5] ^ c[5]) |
    (buf[at + 6] ^ c[6]) | (buf[at + 7] ^ c[7]) | (buf[at + 8] ^ c[8]) | (buf[at + 9] ^ c[9]) | (buf[at + 10] ^ c[10]) |
    (buf[at + 20] ^ c[20]) | (buf[at + 21] ^ c[21]) | (buf[at + 22] ^ c[22]) | (buf[at + 23] ^ c[23]) | (buf[at + 24] ^ c[24]) | (buf[at + 25] ^ c[25]);
  const midnight = differ === 0 ? cachedMidnight : parseDateAndZone(buf, at);
  return midnight + hour * 3600 + (m1 * 10 + m2) * 60 + second;
}

/** Index of the next unescaped `"` in [from, end), or -1. Apache writes a quote inside a field as `\"`. */
function findClosingQuote(buf: Buffer, from: number, end: number): number {
  let at = from;
  for (;;) {
    const q = buf.indexOf(QUOTE, at);
    if (q < 0 || q >= end) return -1;
    let backslashes = 0;
    while (q - 1 - backslashes >= from && buf[q - 1 - backslashes] === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return q;
    at = q + 1;
  }
}

/** As findClosingQuote(...) >= 0, at once when the line ends in a plain quote (as it nearly always does). */
function hasClosingQuote(buf: Buffer, from: number, end: number): boolean {
  const last = end - 1;
  if (last >= from && buf[last] === QUOTE && (last === from || buf[last - 1] !== BACKSLASH)) return true;
  return findClosingQuote(buf, from, end) >= 0;
}

function startsWithAt(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * The original's rule for the request in [start, end): the path (its second
 * word) contains an endpoint; OPTIONS never counts. One pass over the path,
 * trying the endpoints only where one of them could start.
 */
export function isApiRequest(buf: Buffer, start: number, end: number, classifier: RequestClassifier): boolean {
  let methodEnd = start;
  while (methodEnd < end && buf[methodEnd] !== SPACE) methodEnd++;
  if (methodEnd >= end) return false; // fewer than two words
  if (methodEnd - start === OPTIONS.length && startsWithAt(buf, start, methodEnd, OPTIONS)) return false;
  const byteKind = classifier.byteKind;
  const endpoints = classifier.matchable;
  // An endpoint without a space that matches inside [i, end) cannot run past the path's end.
  for (let i = methodEnd + 1; i < end; i++) {
    const b = buf[i];
    const kind = byteKind[b];
    if (kind === 0) continue;
    if (kind === PATH_END) return false;
    for (let e = 0; e < endpoints.length; e++) {
      if (endpoints[e][0] === b && startsWithAt(buf, i, end, endpoints[e])) return true;
    }
  }
  return false;
}

/**
 * Index of the `[` that opens the timestamp, looked for only in the first
 * bytes of the line so that a garbage region never costs more than its length.
 */
function findTimestampStart(buf: Buffer, from: number, end: number): number {
  const limit = Math.min(end, from + 512);
  for (let i = from; i < limit; i++) {
    if (buf[i] === OPEN_BRACKET) return buf[i - 1] === SPACE ? i + 1 : -1;
  }
  return -1;
}

/**
 * Reads only the address field and the timestamp of the line in [start, end).
 * Returns the instant in epoch seconds, or NaN when the line has no readable timestamp.
 */
export function parseLineTime(buf: Buffer, start: number, end: number): number {
  const ipEnd = buf.indexOf(SPACE, start);
  if (ipEnd <= start || ipEnd >= end) return NaN;
  const ts = findTimestampStart(buf, ipEnd + 1, end);
  if (ts < 0 || ts + TIMESTAMP_LENGTH >= end || buf[ts + TIMESTAMP_LENGTH] !== CLOSE_BRACKET) return NaN;
  return parseTimestamp(buf, ts);
}

/**
 * Decides, exactly as parseLine does, whether the line in [start, end)
 * (without its newline) is in combined format, and fills the fields every
 * line needs: ipStart, ipEnd, ipHash, time, requestStart, requestEnd, status
 * and uaStart. isApi, hasUserAgent and uaEnd are left as they were: see
 * isApiRequest, userAgentIsMissing and completeUserAgent.
 */
export function scanLine(buf: Buffer, start: number, end: number, out: LogEntry): boolean {
  // The address: up to the first space, hashed on the way.
  let at = start;
  let hash = FNV_OFFSET;
  while (at < end) {
    const b = buf[at];
    if (b === SPACE) break;
    hash = Math.imul(hash ^ b, FNV_PRIME);
    at++;
  }
  const ipEnd = at;
  if (ipEnd === start || ipEnd >= end) return false;
  // IDENT and USER are nearly always `-`.
  const ts =
    buf[ipEnd + 1] === DASH && buf[ipEnd + 2] === SPACE && buf[ipEnd + 3] === DASH && buf[ipEnd + 4] === SPACE && buf[ipEnd + 5] === OPEN_BRACKET
      ? ipEnd + 6
      : findTimestampStart(buf, ipEnd + 1, end);
  if (ts < 0 || ts + TIMESTAMP_LENGTH + 3 >= end) return false;
  if (buf[ts + TIMESTAMP_LENGTH] !== CLOSE_BRACKET || buf[ts + TIMESTAMP_LENGTH + 1] !== SPACE) return false;
  if (buf[ts + TIMESTAMP_LENGTH + 2] !== QUOTE) return false;
  const time = parseTimestamp(buf, ts);
  if (time !== time) return false; // NaN

  const requestStart = ts + TIMESTAMP_LENGTH + 3;
  const requestEnd = findClosingQuote(buf, requestStart, end);
  if (requestEnd < 0 || buf[requestEnd + 1] !== SPACE) return false;

  // STATUS: digits.
  at = requestEnd + 2;
  let status = 0;
  const statusStart = at;
  while (at < end && buf[at] >= 0x30 && buf[at] <= 0x39) status = status * 10 + buf[at++] - 0x30;
  if (at === statusStart || at >= end || buf[at] !== SPACE) return false;
  // BYTES: digits or `-` (304s, HEAD, 408 and friends log no body size).
  at++;
  if (buf[at] === DASH) at++;
  else {
    const bytesStart = at;
    while (at < end && buf[at] >= 0x30 && buf[at] <= 0x39) at++;
    if (at === bytesStart) return false;
  }
  if (buf[at] !== SPACE || buf[at + 1] !== QUOTE) return false;
  // REFERER: nearly always `-`.
  const refererStart = at + 2;
  const refererEnd = buf[refererStart] === DASH && buf[refererStart + 1] === QUOTE && refererStart + 1 < end ? refererStart + 1 : findClosingQuote(buf, refererStart, end);
  if (refererEnd < 0 || buf[refererEnd + 1] !== SPACE || buf[refererEnd + 2] !== QUOTE) return false;
  const uaStart = refererEnd + 3;
  if (!hasClosingQuote(buf, uaStart, end)) return false;

  out.ipStart = start;
  out.ipEnd = ipEnd;
  out.ipHash = hash;
  out.time = time;
  out.requestStart = requestStart;
  out.requestEnd = requestEnd;
  out.status = status;
  out.uaStart = uaStart;
  return true;
}

/** For a line scanLine accepted: whether its user agent is `-` (as !hasUserAgent), without looking for its end. */
export function userAgentIsMissing(buf: Buffer, entry: LogEntry, end: number): boolean {
  const uaStart = entry.uaStart;
  return buf[uaStart] === DASH && uaStart + 1 < end && buf[uaStart + 1] === QUOTE;
}

/** For a line scanLine accepted: sets uaEnd and hasUserAgent as parseLine does. */
export function completeUserAgent(buf: Buffer, entry: LogEntry, end: number): void {
  const uaStart = entry.uaStart;
  const uaEnd = findClosingQuote(buf, uaStart, end);
  entry.uaEnd = uaEnd;
  entry.hasUserAgent = !(uaEnd - uaStart === 1 && buf[uaStart] === DASH);
}

/**
 * Parses the combined-format line in [start, end) (without its newline) into
 * `out`. Returns false, leaving `out` in an unspecified state, for a line that
 * is not in combined format.
 */
export function parseLine(buf: Buffer, start: number, end: number, classifier: RequestClassifier, out: LogEntry): boolean {
  if (!scanLine(buf, start, end, out)) return false;
  completeUserAgent(buf, out, end);
  out.isApi = isApiRequest(buf, out.requestStart, out.requestEnd, classifier);
  return true;
}

/** True when the user agent starts with one of the prefixes (the original's UA_BLOCKLIST, matched with startswith). */
export function userAgentStartsWithAny(buf: Buffer, entry: LogEntry, prefixes: readonly Buffer[]): boolean {
  for (let i = 0; i < prefixes.length; i++) {
    if (startsWithAt(buf, entry.uaStart, entry.uaEnd, prefixes[i])) return true;
  }
  return false;
}

/**
 * userAgentStartsWithAny for a line scanLine accepted, without looking for the
 * user agent's end: right for prefixes that hold no `"` (see uaPrefixesNeedEnd).
 * Such a prefix matching inside the line holds no quote, so the field's
 * closing quote, which exists, lies past it.
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
