/**
 * The combined log format, parsed straight from the bytes of a read buffer.
 *
 *   IP IDENT USER [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD PATH PROTO" STATUS BYTES "REFERER" "UA" [anything]
 *
 * This is the hot path of every run: no regular expressions, no string per
 * field. Fields are found by position, the timestamp by fixed offsets, and the
 * caller receives byte ranges into the buffer it already holds.
 */

/** One parsed line. A single instance is reused for every line; copy what you keep. */
export interface LogEntry {
  /** Byte range of the address field (not yet validated as an address). */
  ipStart: number;
  ipEnd: number;
  /** The instant of the request, in seconds since the epoch (the line's offset applied). */
  time: number;
  /** A request to one of the API endpoints (OPTIONS never counts). */
  isApi: boolean;
  status: number;
  /** False when the user agent is `-`. */
  hasUserAgent: boolean;
  uaStart: number;
  uaEnd: number;
}

export function newLogEntry(): LogEntry {
  return { ipStart: 0, ipEnd: 0, time: 0, isApi: false, status: 0, hasUserAgent: false, uaStart: 0, uaEnd: 0 };
}

/** What decides whether a request is an API request: path fragments, as bytes. */
export interface RequestClassifier {
  endpoints: Buffer[];
}

export function newRequestClassifier(endpoints: readonly string[]): RequestClassifier {
  return { endpoints: endpoints.filter((e) => e.length > 0).map((e) => Buffer.from(e, 'utf8')) };
}

const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DASH = 0x2d;
const TIMESTAMP_LENGTH = 26; // dd/Mon/yyyy:HH:MM:SS +zzzz

const OPTIONS = Buffer.from('OPTIONS');

// Month abbreviations keyed by their three bytes, so no string is made per line.
const MONTH_BY_KEY = new Map<number, number>(
  ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((name, index) => [
    (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2),
    index,
  ]),
);
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// Consecutive lines nearly always share the date, so Date.UTC runs once per day of log.
let cachedDayKey = -1;
let cachedDayEpoch = 0;

function digit(buf: Buffer, at: number): number {
  const d = buf[at] - 0x30;
  return d >= 0 && d <= 9 ? d : -1000; // poisons any sum it enters
}

function twoDigits(buf: Buffer, at: number): number {
  return digit(buf, at) * 10 + digit(buf, at + 1);
}

/**
 * Reads `dd/Mon/yyyy:HH:MM:SS +zzzz` at `at`. Returns the instant in epoch
 * seconds, or NaN when the bytes are not such a timestamp.
 */
export function parseTimestamp(buf: Buffer, at: number): number {
  if (buf[at + 2] !== 0x2f || buf[at + 6] !== 0x2f || buf[at + 11] !== 0x3a || buf[at + 14] !== 0x3a) return NaN;
  if (buf[at + 17] !== 0x3a || buf[at + 20] !== SPACE) return NaN;
  const day = twoDigits(buf, at);
  const month = MONTH_BY_KEY.get((buf[at + 3] << 16) | (buf[at + 4] << 8) | buf[at + 5]);
  const year = twoDigits(buf, at + 7) * 100 + twoDigits(buf, at + 9);
  const hour = twoDigits(buf, at + 12);
  const minute = twoDigits(buf, at + 15);
  const second = twoDigits(buf, at + 18);
  const sign = buf[at + 21];
  const offsetHours = twoDigits(buf, at + 22);
  const offsetMinutes = twoDigits(buf, at + 24);
  if (month === undefined || year < 0 || day < 1 || day > DAYS_IN_MONTH[month]) return NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return NaN;
  if ((sign !== 0x2b && sign !== DASH) || offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) {
    return NaN;
  }
  const dayKey = (year * 16 + month) * 32 + day;
  if (dayKey !== cachedDayKey) {
    const epoch = Date.UTC(year, month, day) / 1000;
    // 29 February of a year that has none.
    if (new Date(epoch * 1000).getUTCDate() !== day) return NaN;
    cachedDayKey = dayKey;
    cachedDayEpoch = epoch;
  }
  const offset = (offsetHours * 3600 + offsetMinutes * 60) * (sign === DASH ? -1 : 1);
  return cachedDayEpoch + hour * 3600 + minute * 60 + second - offset;
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

function startsWithAt(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/** The original's rule: the path (second word of the request) contains an endpoint; OPTIONS never counts. */
function isApiRequest(buf: Buffer, start: number, end: number, classifier: RequestClassifier): boolean {
  let methodEnd = start;
  while (methodEnd < end && buf[methodEnd] !== SPACE) methodEnd++;
  if (methodEnd >= end) return false; // fewer than two words
  if (methodEnd - start === OPTIONS.length && startsWithAt(buf, start, methodEnd, OPTIONS)) return false;
  const pathStart = methodEnd + 1;
  let pathEnd = pathStart;
  while (pathEnd < end && buf[pathEnd] !== SPACE) pathEnd++;
  const endpoints = classifier.endpoints;
  for (let i = pathStart; i < pathEnd; i++) {
    const b = buf[i];
    for (let e = 0; e < endpoints.length; e++) {
      if (endpoints[e][0] === b && startsWithAt(buf, i, pathEnd, endpoints[e])) return true;
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
 * Parses the combined-format line in [start, end) (without its newline) into
 * `out`. Returns false, leaving `out` in an unspecified state, for a line that
 * is not in combined format.
 */
export function parseLine(buf: Buffer, start: number, end: number, classifier: RequestClassifier, out: LogEntry): boolean {
  const ipEnd = buf.indexOf(SPACE, start);
  if (ipEnd <= start || ipEnd >= end) return false;
  const ts = findTimestampStart(buf, ipEnd + 1, end);
  if (ts < 0 || ts + TIMESTAMP_LENGTH + 3 >= end) return false;
  if (buf[ts + TIMESTAMP_LENGTH] !== CLOSE_BRACKET || buf[ts + TIMESTAMP_LENGTH + 1] !== SPACE) return false;
  if (buf[ts + TIMESTAMP_LENGTH + 2] !== QUOTE) return false;
  const time = parseTimestamp(buf, ts);
  if (time !== time) return false; // NaN

  const requestStart = ts + TIMESTAMP_LENGTH + 3;
  const requestEnd = findClosingQuote(buf, requestStart, end);
  if (requestEnd < 0 || buf[requestEnd + 1] !== SPACE) return false;

  // STATUS: digits.
  let at = requestEnd + 2;
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
  const refererEnd = findClosingQuote(buf, at + 2, end);
  if (refererEnd < 0 || buf[refererEnd + 1] !== SPACE || buf[refererEnd + 2] !== QUOTE) return false;
  const uaStart = refererEnd + 3;
  const uaEnd = findClosingQuote(buf, uaStart, end);
  if (uaEnd < 0) return false;

  out.ipStart = start;
  out.ipEnd = ipEnd;
  out.time = time;
  out.status = status;
  out.isApi = isApiRequest(buf, requestStart, requestEnd, classifier);
  out.uaStart = uaStart;
  out.uaEnd = uaEnd;
  out.hasUserAgent = !(uaEnd - uaStart === 1 && buf[uaStart] === DASH);
  return true;
}

/** True when the user agent starts with one of the prefixes (the original's UA_BLOCKLIST, matched with startswith). */
export function userAgentStartsWithAny(buf: Buffer, entry: LogEntry, prefixes: readonly Buffer[]): boolean {
  for (let i = 0; i < prefixes.length; i++) {
    if (startsWithAt(buf, entry.uaStart, entry.uaEnd, prefixes[i])) return true;
  }
  return false;
}
