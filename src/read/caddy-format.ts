/**
 * Caddy's JSON access log, read straight from the bytes:
 *
 *   {"level":"info","ts":1763636400.123,"logger":"http.log.access","msg":"handled request",
 *    "request":{"remote_ip":"…","remote_port":"…","client_ip":"…","proto":"HTTP/1.1","method":"GET",
 *    "host":"…","uri":"/search?q=x","headers":{"User-Agent":["curl/8.5.0"],…}},…,"status":200,…}
 *
 * Caddy writes the headers from a Go map, so key order is not fixed: the
 * line is walked as JSON, values that are not wanted skipped whole, with no
 * JSON.parse and no string per key. `request.client_ip` is Caddy's own
 * result of its trusted_proxies setting, so it is the client when present.
 */
import { hashBytes } from './address-table.js';
import { type LogEntry, QUOTE, REQUEST_TARGET, UA_EMPTY, findClosingQuote, parseDecimal, parseIsoTime, parsedEnd } from './line-fields.js';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const key = (text: string) => Buffer.from(text, 'latin1');
const TS = key('ts');
const STATUS = key('status');
const REQUEST = key('request');
const REMOTE_IP = key('remote_ip');
const CLIENT_IP = key('client_ip');
const REMOTE_ADDR = key('remote_addr');
const METHOD = key('method');
const URI = key('uri');
const HEADERS = key('headers');
const USER_AGENT = key('user-agent');

function skipSpace(buf: Uint8Array, at: number, end: number): number {
  while (at < end) {
    const b = buf[at];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) break;
    at++;
  }
  return at;
}

function keyIs(buf: Uint8Array, start: number, end: number, name: Buffer, ignoreCase: boolean): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const b = buf[start + i];
    if (b !== name[i] && !(ignoreCase && (b | 0x20) === name[i])) return false;
  }
  return true;
}

/** The index just after the JSON value at `at`, or -1. Strings are skipped with their escapes, objects and arrays by depth. */
function skipValue(buf: Uint8Array, at: number, end: number): number {
  const first = buf[at];
  if (first === QUOTE) {
    const q = findClosingQuote(buf, at + 1, end);
    return q < 0 ? -1 : q + 1;
  }
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let i = at; i < end; i++) {
      const b = buf[i];
      if (b === QUOTE) {
        const q = findClosingQuote(buf, i + 1, end);
        if (q < 0) return -1;
        i = q;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  let i = at;
  while (i < end) {
    const b = buf[i];
    if (b === COMMA || b === CLOSE_BRACE || b === CLOSE_BRACKET || b === 0x20) break;
    i++;
  }
  return i === at ? -1 : i;
}

/** What one line yields; ranges are [start, end) inside the quotes, start -1 when absent. */
class Found {
  time = NaN;
  status = 0;
  remote = -1;
  remoteEnd = -1;
  client = -1;
  clientEnd = -1;
  addr = -1;
  addrEnd = -1;
  method = -1;
  methodEnd = -1;
  uri = -1;
  uriEnd = -1;
  ua = -1;
  uaEnd = -1;
  fwd = -1;
  fwdEnd = -1;

  reset(): void {
    this.time = NaN;
    this.status = 0;
    this.remote = this.client = this.addr = this.method = this.uri = this.ua = this.fwd = -1;
  }
}

const found = new Found();

/** The objects the walk goes into; one walk for all three, so that no function is made per line. */
const TOP = 0;
const IN_REQUEST = 1;
const IN_HEADERS = 2;
type Level = typeof TOP | typeof IN_REQUEST | typeof IN_HEADERS;

/** This line's forwarded-for header name (CLIENT_ADDRESS), for the walk's members. */
let forwardedHeader: Buffer | undefined;

/**
 * Walks the object at `at` (its `{`), handing each key's range and the
 * position of its value to the member reader of `level`, which returns the
 * index after the value (or -1 to fail). Returns the index after the
 * object, or -1.
 */
function walkObject(buf: Uint8Array, at: number, end: number, level: Level): number {
  if (buf[at] !== OPEN_BRACE) return -1;
  at = skipSpace(buf, at + 1, end);
  if (buf[at] === CLOSE_BRACE) return at + 1;
  for (;;) {
    if (buf[at] !== QUOTE) return -1;
    const keyEnd = findClosingQuote(buf, at + 1, end);
    if (keyEnd < 0) return -1;
    let i = skipSpace(buf, keyEnd + 1, end);
    if (buf[i] !== COLON) return -1;
    i = skipSpace(buf, i + 1, end);
    const after = level === TOP ? topMember(buf, at + 1, keyEnd, i, end) : level === IN_REQUEST ? requestMember(buf, at + 1, keyEnd, i, end) : headerMember(buf, at + 1, keyEnd, i, end);
    if (after < 0) return -1;
    at = skipSpace(buf, after, end);
    if (buf[at] === COMMA) at = skipSpace(buf, at + 1, end);
    else if (buf[at] === CLOSE_BRACE) return at + 1;
    else return -1;
  }
}

function topMember(buf: Uint8Array, keyStart: number, keyEnd: number, valueAt: number, end: number): number {
  if (keyIs(buf, keyStart, keyEnd, REQUEST, false)) return walkObject(buf, valueAt, end, IN_REQUEST);
  if (keyIs(buf, keyStart, keyEnd, TS, false)) {
    found.time = readTime(buf, valueAt, end);
    return found.time === found.time ? parsedEnd.at : -1;
  }
  if (keyIs(buf, keyStart, keyEnd, STATUS, false)) {
    const status = parseDecimal(buf, valueAt, end);
    if (status === status) found.status = status;
  }
  return skipValue(buf, valueAt, end);
}

function requestMember(buf: Uint8Array, keyStart: number, keyEnd: number, valueAt: number, end: number): number {
  if (keyIs(buf, keyStart, keyEnd, HEADERS, false)) return walkObject(buf, valueAt, end, IN_HEADERS);
  const after = stringValue(buf, valueAt, end);
  if (after < 0) return skipValue(buf, valueAt, end);
  const from = valueAt + 1;
  const to = after - 1;
  if (keyIs(buf, keyStart, keyEnd, REMOTE_IP, false)) (found.remote = from), (found.remoteEnd = to);
  else if (keyIs(buf, keyStart, keyEnd, CLIENT_IP, false)) (found.client = from), (found.clientEnd = to);
  else if (keyIs(buf, keyStart, keyEnd, REMOTE_ADDR, false)) (found.addr = from), (found.addrEnd = to);
  else if (keyIs(buf, keyStart, keyEnd, METHOD, false)) (found.method = from), (found.methodEnd = to);
  else if (keyIs(buf, keyStart, keyEnd, URI, false)) (found.uri = from), (found.uriEnd = to);
  return after;
}

function headerMember(buf: Uint8Array, keyStart: number, keyEnd: number, valueAt: number, end: number): number {
  if (keyIs(buf, keyStart, keyEnd, USER_AGENT, true)) {
    found.ua = firstHeaderValue(buf, valueAt, end);
    found.uaEnd = parsedEnd.at;
  } else if (forwardedHeader !== undefined && keyIs(buf, keyStart, keyEnd, forwardedHeader, true)) {
    found.fwd = firstHeaderValue(buf, valueAt, end);
    found.fwdEnd = parsedEnd.at;
  }
  return skipValue(buf, valueAt, end);
}

/** The index after the JSON string at `at`, or -1 when there is no string there. */
function stringValue(buf: Uint8Array, at: number, end: number): number {
  if (buf[at] !== QUOTE) return -1;
  const q = findClosingQuote(buf, at + 1, end);
  return q < 0 ? -1 : q + 1;
}

/** The first string of a header's array of values, `["curl/8.5.0"]`: its start, its end in parsedEnd.at; -1 for both when there is none. */
function firstHeaderValue(buf: Uint8Array, at: number, end: number): number {
  parsedEnd.at = -1;
  if (buf[at] !== OPEN_BRACKET) return -1;
  const i = skipSpace(buf, at + 1, end);
  if (buf[i] !== QUOTE) return -1;
  const q = findClosingQuote(buf, i + 1, end);
  if (q < 0) return -1;
  parsedEnd.at = q;
  return i + 1;
}

/**
 * Scans one line of Caddy's access log into `out`. `header`: the lower-case
 * name of a forwarded-for header to take the client chain from
 * (CLIENT_ADDRESS); `preferPeer`: take request.remote_ip even when
 * client_ip is there. Returns false for a line that is not such a JSON object.
 */
export function scanCaddyLine(buf: Buffer, start: number, end: number, out: LogEntry, header: Buffer | undefined, preferPeer: boolean): boolean {
  found.reset();
  forwardedHeader = header;
  const after = walkObject(buf, skipSpace(buf, start, end), end, TOP);
  if (after < 0 || found.time !== found.time || found.uri < 0) return false;

  // The address the server took for the client, then the connection's.
  let ipStart = !preferPeer && found.client >= 0 && found.clientEnd > found.client ? found.client : -1;
  let ipEnd = found.clientEnd;
  if (ipStart < 0 || header) {
    if (found.remote >= 0) {
      ipStart = found.remote;
      ipEnd = found.remoteEnd;
    } else {
      ipStart = hostOf(buf, found.addr, found.addrEnd);
      ipEnd = parsedEnd.at;
    }
  }
  if (ipStart < 0 && !header) return false;
  out.ipStart = ipStart;
  out.ipEnd = ipEnd;
  out.ipHash = ipStart >= 0 ? hashBytes(buf, ipStart, ipEnd) : 0;
  out.fwdStart = found.fwd;
  out.fwdEnd = found.fwdEnd;
  out.time = found.time;
  out.status = found.status;
  out.requestForm = REQUEST_TARGET;
  out.requestStart = found.uri;
  out.requestEnd = found.uriEnd;
  out.methodStart = found.method;
  out.methodEnd = found.methodEnd;
  out.uaRule = UA_EMPTY;
  // A request without the header: an empty user agent, which UA_EMPTY reads as none.
  out.uaStart = found.ua >= 0 ? found.ua : found.uri;
  out.uaEnd = found.ua >= 0 ? found.uaEnd : found.uri;
  return true;
}

/** Caddy's `ts`: seconds (its default), milli-, micro- or nanoseconds as a number, or an ISO 8601 string. */
function readTime(buf: Uint8Array, at: number, end: number): number {
  if (buf[at] === QUOTE) {
    const time = parseIsoTime(buf, at + 1, end);
    if (time !== time || buf[parsedEnd.at] !== QUOTE) return NaN;
    parsedEnd.at++;
    return time;
  }
  const value = parseDecimal(buf, at, end);
  // Seconds since 1970 stay below 1e11 until the year 5138; the finer units are far above it.
  const seconds = value < 1e11 ? value : value < 1e14 ? value / 1e3 : value < 1e17 ? value / 1e6 : value / 1e9;
  return Math.floor(seconds);
}

/** `remote_addr` of older Caddy versions: `host:port` or `[v6]:port`, the host's start, its end in parsedEnd.at; -1 for both when there is none. */
function hostOf(buf: Uint8Array, start: number, end: number): number {
  parsedEnd.at = -1;
  if (start < 0) return -1;
  if (buf[start] === OPEN_BRACKET) {
    const close = buf.indexOf(CLOSE_BRACKET, start);
    if (!(close > start && close < end)) return -1;
    parsedEnd.at = close;
    return start + 1;
  }
  const colon = buf.lastIndexOf(COLON, end - 1);
  parsedEnd.at = colon > start && buf.indexOf(COLON, start) === colon ? colon : end;
  return start;
}
