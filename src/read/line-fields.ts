/**
 * What a scanned log line is made of, and the byte-level readers of its
 * fields that every log format shares: timestamps in the forms servers write
 * them, quoted fields and their escapes. No regular expressions, no string
 * per field: the hot path of every run goes through here.
 */

/** How the user-agent field of a line says "no user agent". */
export const UA_DASH = 0; // `-`, as Apache and nginx write a missing header by default
export const UA_EMPTY = 1; // an empty value, as nginx writes it with escape=json and Caddy by leaving it out
export const UA_NONE = 2; // the format has no user agent at all: never counted as missing

/** How the request of a line is given. */
export const REQUEST_NONE = 0;
/** `METHOD TARGET PROTOCOL` in [requestStart, requestEnd) (%r, $request). */
export const REQUEST_LINE = 1;
/** The target alone (path and query, as sent) in [requestStart, requestEnd); the method, if logged, in [methodStart, methodEnd). */
export const REQUEST_TARGET = 2;
/** As REQUEST_TARGET, with a path the server has already decoded and normalised (%U, $uri). */
export const REQUEST_TARGET_DECODED = 3;

/** One scanned line. A single instance is reused for every line; copy what you keep. */
export interface LogEntry {
  /** Byte range of the client's address (not yet validated as an address). */
  ipStart: number;
  ipEnd: number;
  /** hashBytes (address-table.ts) of [ipStart, ipEnd), computed while looking for its end. */
  ipHash: number;
  /** The instant of the request, in whole seconds since the epoch (the line's offset applied). */
  time: number;
  /** How the request is given (REQUEST_*), and its byte range. */
  requestForm: number;
  requestStart: number;
  requestEnd: number;
  /** The method for REQUEST_TARGET forms; methodStart is -1 when the format logs none. */
  methodStart: number;
  methodEnd: number;
  /** A request to one of the API endpoints (OPTIONS never counts); set by parseLine only. */
  isApi: boolean;
  /** The response status, 0 when the format logs none. */
  status: number;
  /** UA_DASH, UA_EMPTY or UA_NONE: what a missing user agent looks like in this line's format. */
  uaRule: number;
  /** False when the user agent is missing; set by parseLine and completeUserAgent only. */
  hasUserAgent: boolean;
  uaStart: number;
  /** -1 until its closing quote was looked for (the scanner only checked that there is one). */
  uaEnd: number;
  /** A forwarded-for chain ([fwdStart, fwdEnd)), when CLIENT_ADDRESS names such a header; fwdStart -1 when none. */
  fwdStart: number;
  fwdEnd: number;
}

export function newLogEntry(): LogEntry {
  return {
    ipStart: 0, ipEnd: 0, ipHash: 0, time: 0, requestForm: 0, requestStart: 0, requestEnd: 0, methodStart: -1, methodEnd: -1,
    isApi: false, status: 0, uaRule: 0, hasUserAgent: false, uaStart: 0, uaEnd: -1, fwdStart: -1, fwdEnd: -1,
  };
}

export const NEWLINE = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const DASH = 0x2d;
const SLASH = 0x2f;
const COLON = 0x3a;
const PLUS = 0x2b;
const DOT = 0x2e;
/** `dd/Mon/yyyy:HH:MM:SS +zzzz` */
export const CLF_TIME_LENGTH = 26;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The month (0-11) named by three bytes at `at` (`Jan`), or -1. */
export function monthAt(buf: Uint8Array, at: number): number {
  const a = buf[at];
  const b = buf[at + 1];
  const c = buf[at + 2];
  for (let m = 0; m < 12; m++) {
    const name = MONTHS[m];
    if (name.charCodeAt(0) === a && name.charCodeAt(1) === b && name.charCodeAt(2) === c) return m;
  }
  return -1;
}

function digit(buf: Uint8Array, at: number): number {
  const d = buf[at] - 0x30;
  return d >= 0 && d <= 9 ? d : -1000; // poisons any sum it enters
}

function twoDigits(buf: Uint8Array, at: number): number {
  return digit(buf, at) * 10 + digit(buf, at + 1);
}

/** Seconds east of UTC for a sign byte and hours/minutes, or NaN. */
function zoneOffset(sign: number, hours: number, minutes: number): number {
  if ((sign !== PLUS && sign !== DASH) || !(hours >= 0 && hours <= 23 && minutes >= 0 && minutes <= 59)) return NaN;
  return (hours * 3600 + minutes * 60) * (sign === DASH ? -1 : 1);
}

/** Midnight UTC of a calendar date in epoch seconds, or NaN for a date the calendar does not have (31 April). */
export function utcMidnight(year: number, month: number, day: number): number {
  if (!(year >= 0 && month >= 0 && month <= 11 && day >= 1 && day <= 31)) return NaN;
  const epoch = Date.UTC(year, month, day) / 1000;
  return new Date(epoch * 1000).getUTCDate() === day ? epoch : NaN;
}

// Consecutive lines nearly always share the date and the zone, so they are
// parsed (and Date.UTC run) once per day of log: the bytes of the date and the
// zone of the last timestamp read, and the instant of its 00:00:00. One cache
// per timestamp form, each seeded with a valid timestamp.
const clfCache = Buffer.from('01/Jan/1970:00:00:00 +0000', 'latin1');
let clfMidnight = 0;
const isoCache = Buffer.from('1970-01-01T00:00:00+00:00', 'latin1');
let isoMidnight = 0;

function parseClfDateAndZone(buf: Uint8Array, at: number): number {
  if (buf[at + 2] !== SLASH || buf[at + 6] !== SLASH || buf[at + 20] !== SPACE) return NaN;
  const midnight = utcMidnight(twoDigits(buf, at + 7) * 100 + twoDigits(buf, at + 9), monthAt(buf, at + 3), twoDigits(buf, at));
  const offset = zoneOffset(buf[at + 21], twoDigits(buf, at + 22), twoDigits(buf, at + 24));
  if (midnight !== midnight || offset !== offset) return NaN;
  for (let i = 0; i < 11; i++) clfCache[i] = buf[at + i];
  for (let i = 20; i < CLF_TIME_LENGTH; i++) clfCache[i] = buf[at + i];
  clfMidnight = midnight - offset;
  return clfMidnight;
}

/**
 * Reads `dd/Mon/yyyy:HH:MM:SS +zzzz` at `at` (the caller has checked that 26
 * bytes are there). Returns the instant in epoch seconds, or NaN.
 */
export function parseClfTime(buf: Uint8Array, at: number): number {
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
  const c = clfCache;
  const differ =
    (buf[at] ^ c[0]) | (buf[at + 1] ^ c[1]) | (buf[at + 2] ^ c[2]) | (buf[at + 3] ^ c[3]) | (buf[at + 4] ^ c[4]) | (buf[at + 5] ^ c[5]) |
    (buf[at + 6] ^ c[6]) | (buf[at + 7] ^ c[7]) | (buf[at + 8] ^ c[8]) | (buf[at + 9] ^ c[9]) | (buf[at + 10] ^ c[10]) |
    (buf[at + 20] ^ c[20]) | (buf[at + 21] ^ c[21]) | (buf[at + 22] ^ c[22]) | (buf[at + 23] ^ c[23]) | (buf[at + 24] ^ c[24]) | (buf[at + 25] ^ c[25]);
  const midnight = differ === 0 ? clfMidnight : parseClfDateAndZone(buf, at);
  return midnight + hour * 3600 + (m1 * 10 + m2) * 60 + second;
}

/** The clock time HH:MM:SS at `at` in seconds of the day, or NaN. */
function clockAt(buf: Uint8Array, at: number): number {
  if (buf[at + 2] !== COLON || buf[at + 5] !== COLON) return NaN;
  const hour = twoDigits(buf, at);
  const minute = twoDigits(buf, at + 3);
  const second = twoDigits(buf, at + 6);
  if (!(hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60)) return NaN;
  return hour * 3600 + minute * 60 + second;
}

/**
 * Where the last variable-length field read by parseIsoTime or parseDecimal
 * ended: an object rather than a second return value, so that no array is
 * made per line.
 */
export const parsedEnd = { at: 0 };

/**
 * Reads an ISO 8601 / RFC 3339 instant at `at`, before `end`:
 * `yyyy-mm-ddTHH:MM:SS[.fff][Z|+hh:mm|+hhmm]` (nginx's $time_iso8601, Caddy's
 * iso8601 and rfc3339 time formats). Returns epoch seconds (the fraction
 * dropped, as the other forms have none) and sets parsedEnd.at, or NaN.
 */
export function parseIsoTime(buf: Uint8Array, at: number, end: number): number {
  if (at + 20 > end || buf[at + 4] !== DASH || buf[at + 7] !== DASH || (buf[at + 10] !== 0x54 && buf[at + 10] !== SPACE)) return NaN;
  const clock = clockAt(buf, at + 11);
  if (clock !== clock) return NaN;
  let zoneAt = at + 19;
  if (buf[zoneAt] === DOT) {
    zoneAt++;
    while (zoneAt < end && buf[zoneAt] >= 0x30 && buf[zoneAt] <= 0x39) zoneAt++;
  }
  let offset: number;
  const sign = buf[zoneAt];
  if (sign === 0x5a) {
    offset = 0;
    parsedEnd.at = zoneAt + 1;
  } else {
    const colon = buf[zoneAt + 3] === COLON ? 1 : 0;
    if (zoneAt + 5 + colon > end) return NaN;
    offset = zoneOffset(sign, twoDigits(buf, zoneAt + 1), twoDigits(buf, zoneAt + 3 + colon));
    parsedEnd.at = zoneAt + 5 + colon;
  }
  if (offset !== offset) return NaN;
  const c = isoCache;
  let midnight: number;
  if (
    ((buf[at] ^ c[0]) | (buf[at + 1] ^ c[1]) | (buf[at + 2] ^ c[2]) | (buf[at + 3] ^ c[3]) | (buf[at + 5] ^ c[5]) | (buf[at + 6] ^ c[6]) |
      (buf[at + 8] ^ c[8]) | (buf[at + 9] ^ c[9])) === 0
  ) {
    midnight = isoMidnight;
  } else {
    midnight = utcMidnight(twoDigits(buf, at) * 100 + twoDigits(buf, at + 2), twoDigits(buf, at + 5) - 1, twoDigits(buf, at + 8));
    if (midnight !== midnight) return NaN;
    for (let i = 0; i < 10; i++) c[i] = buf[at + i];
    isoMidnight = midnight;
  }
  return midnight + clock - offset;
}

/**
 * Reads `digits[.digits]` at `at`, before `end`, and returns it, or NaN when
 * no digit is there. Sets parsedEnd.at. For epoch timestamps ($msec, Caddy's
 * ts) and durations.
 */
export function parseDecimal(buf: Uint8Array, at: number, end: number): number {
  let value = 0;
  let i = at;
  while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) value = value * 10 + buf[i++] - 0x30;
  if (i === at) return NaN;
  if (i < end && buf[i] === DOT) {
    let scale = 0.1;
    i++;
    while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) {
      value += (buf[i++] - 0x30) * scale;
      scale /= 10;
    }
  }
  parsedEnd.at = i;
  return value;
}

/** Index of the next `"` in [from, end) not escaped by a backslash, or -1. Apache and JSON write a quote inside a field as `\"`. */
export function findClosingQuote(buf: Uint8Array, from: number, end: number): number {
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
export function hasClosingQuote(buf: Uint8Array, from: number, end: number): boolean {
  const last = end - 1;
  if (last >= from && buf[last] === QUOTE && (last === from || buf[last - 1] !== BACKSLASH)) return true;
  return findClosingQuote(buf, from, end) >= 0;
}

export function startsWithAt(buf: Uint8Array, at: number, end: number, prefix: Uint8Array): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}
