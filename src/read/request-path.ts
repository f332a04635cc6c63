/**
 * Whether a request is an API request, decided on the path as the web server
 * routes it: `GET /%73earch` and `GET //search` reach the search endpoint, so
 * they count as it does.
 *
 * The original's rule: a request is an API request when its target contains
 * one of the endpoints (OPTIONS never counts). A target is matched as it is,
 * in one pass over its bytes; only one that names no endpoint that way and
 * whose path holds a `%`, a `//` or a `/.` is decoded and normalised, as nginx
 * ($uri) and Apache (before RewriteRule) do, and matched again.
 */
import { type LogEntry, REQUEST_LINE, REQUEST_TARGET, SPACE, startsWithAt } from './line-fields.js';

/** What decides whether a request is an API request: path fragments, as bytes. */
export interface RequestClassifier {
  /** The endpoints that can occur in a path at all (a path holds no space). */
  matchable: Buffer[];
  /** Per byte: PATH_END, STARTS_ENDPOINT, SUSPECT, QUERY bits (0 for most bytes). */
  byteKind: Uint8Array;
  /** Where a path is decoded; grown as needed. */
  scratch: Buffer;
}

const STARTS_ENDPOINT = 1;
const PATH_END = 2;
/** `%` or `/`: the path may need decoding (`%`), or normalising (`//`, `/.`). */
const SUSPECT = 4;
/** `?`: the path ends and the query begins. */
const QUERY = 8;

const PERCENT = 0x25;
const SLASH = 0x2f;
const DOT = 0x2e;
const QUESTION = 0x3f;

export function newRequestClassifier(endpoints: readonly string[]): RequestClassifier {
  const matchable = endpoints.filter((e) => e.length > 0).map((e) => Buffer.from(e, 'utf8')).filter((e) => !e.includes(SPACE));
  const byteKind = new Uint8Array(256);
  for (const e of matchable) byteKind[e[0]] |= STARTS_ENDPOINT;
  byteKind[SPACE] |= PATH_END;
  byteKind[PERCENT] |= SUSPECT;
  byteKind[SLASH] |= SUSPECT;
  byteKind[QUESTION] |= QUERY;
  return { matchable, byteKind, scratch: Buffer.alloc(1024) };
}

const OPTIONS = Buffer.from('OPTIONS');

function isOptions(buf: Buffer, start: number, end: number): boolean {
  return end - start === OPTIONS.length && startsWithAt(buf, start, end, OPTIONS);
}

function endpointAt(buf: Uint8Array, at: number, end: number, endpoints: Buffer[]): boolean {
  const b = buf[at];
  for (let e = 0; e < endpoints.length; e++) {
    if (endpoints[e][0] === b && startsWithAt(buf, at, end, endpoints[e])) return true;
  }
  return false;
}

/**
 * The request line `METHOD TARGET PROTOCOL` in [start, end): fewer than two
 * words is no request; OPTIONS never counts.
 */
export function isApiRequest(buf: Buffer, start: number, end: number, classifier: RequestClassifier): boolean {
  let methodEnd = start;
  while (methodEnd < end && buf[methodEnd] !== SPACE) methodEnd++;
  if (methodEnd >= end) return false; // fewer than two words
  if (isOptions(buf, start, methodEnd)) return false;
  return isApiTarget(buf, methodEnd + 1, end, classifier, false);
}

/** As isApiRequest, for whatever form the line's format gives the request in. */
export function classifyRequest(buf: Buffer, entry: LogEntry, classifier: RequestClassifier): boolean {
  const form = entry.requestForm;
  if (form === REQUEST_LINE) return isApiRequest(buf, entry.requestStart, entry.requestEnd, classifier);
  if (form < REQUEST_TARGET) return false;
  if (entry.methodStart >= 0 && isOptions(buf, entry.methodStart, entry.methodEnd)) return false;
  return isApiTarget(buf, entry.requestStart, entry.requestEnd, classifier, form !== REQUEST_TARGET);
}

/**
 * The target (path and query) from `from` to the first space or `end`.
 * An endpoint anywhere in it, as sent, makes an API request, as in the
 * original. Only a target that does not name one as sent, and whose path
 * holds a `%`, a `//` or a `/.`, is decoded and normalised and looked at again
 * (`decoded`: the server logged the path decoded already): a client cannot
 * hide its API requests by spelling them differently, and no line that
 * counted before counts differently now.
 */
export function isApiTarget(buf: Buffer, from: number, end: number, classifier: RequestClassifier, decoded: boolean): boolean {
  const byteKind = classifier.byteKind;
  const endpoints = classifier.matchable;
  let suspect = false;
  let pathEnd = -1;
  // An endpoint without a space that matches inside [i, end) cannot run past the target's end.
  let i = from;
  for (; i < end; i++) {
    const b = buf[i];
    const kind = byteKind[b];
    if (kind === 0) continue;
    if (kind & PATH_END) break;
    if (kind & STARTS_ENDPOINT && endpointAt(buf, i, end, endpoints)) return true;
    if (kind & SUSPECT) {
      // `%`, `//` or `/.` in the path (not in the query).
      const next = buf[i + 1];
      if (pathEnd < 0 && (b === PERCENT || next === SLASH || next === DOT)) suspect = true;
    } else if (kind & QUERY && pathEnd < 0) pathEnd = i;
  }
  return suspect && !decoded && pathIsApi(buf, from, pathEnd < 0 ? i : pathEnd, classifier);
}

/** Decodes and normalises the path [from, to) and looks for an endpoint in it. */
function pathIsApi(buf: Buffer, from: number, to: number, classifier: RequestClassifier): boolean {
  if (classifier.scratch.length < to - from + 1) classifier.scratch = Buffer.alloc(2 * (to - from + 1));
  const out = classifier.scratch;
  const length = normalisePath(buf, from, to, out);
  for (let i = 0; i < length; i++) if (endpointAt(out, i, length, classifier.matchable)) return true;
  return false;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const lower = b | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Percent-decodes the path [from, to) into `out` and resolves it as the
 * servers do: `//` merged, `/./` dropped, `/../` removing the segment before
 * it (never above the root). Returns its length. A `%` not followed by two
 * hex digits is kept as it is.
 */
export function normalisePath(buf: Uint8Array, from: number, to: number, out: Uint8Array): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    let b = buf[i];
    if (b === PERCENT && i + 2 < to) {
      const high = hexValue(buf[i + 1]);
      const low = hexValue(buf[i + 2]);
      if (high >= 0 && low >= 0) {
        b = high * 16 + low;
        i += 2;
      }
    }
    out[n++] = b;
    // Resolve at each `/` written: what precedes it is a whole segment.
    if (b === SLASH) n = resolveSegment(out, n);
  }
  // A path ending in `/.` or `/..` is a directory reference too.
  if ((n >= 2 && out[n - 1] === DOT && out[n - 2] === SLASH) || (n >= 3 && out[n - 1] === DOT && out[n - 2] === DOT && out[n - 3] === SLASH)) {
    out[n++] = SLASH;
    n = resolveSegment(out, n);
  }
  return n;
}

/** out[0, n) ends in `/`: merges `//`, drops a `/./`, and lets `/../` remove the segment before it. */
function resolveSegment(out: Uint8Array, n: number): number {
  if (n >= 2 && out[n - 2] === SLASH) return n - 1; // `//`
  if (n >= 3 && out[n - 2] === DOT && out[n - 3] === SLASH) return n - 2; // `/./`
  if (n >= 4 && out[n - 2] === DOT && out[n - 3] === DOT && out[n - 4] === SLASH) {
    // `/../`: back to the `/` before the previous segment, or stay at the root.
    let j = n - 4;
    if (j === 0) return 1;
    j--;
    while (j > 0 && out[j] !== SLASH) j--;
    return j + 1;
  }
  return n;
}
