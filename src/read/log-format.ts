/**
 * Log formats: a preset name, an Apache `LogFormat` string or an nginx
 * `log_format`, compiled once into a scanner over a line's bytes.
 *
 * The format is parsed into tokens (literal text, fields), the fields are
 * given the roles the analysis needs (client, time, request, status, user
 * agent; everything else is skipped), and the list of steps (a literal to
 * match, then a field with its terminator and escaping) is turned into the
 * source of one function that walks the line: a format costs the same per
 * line as a parser written by hand for it, with no regular expression and no
 * loop over steps at run time. Caddy's JSON access log, whose keys come in no
 * fixed order, has a scanner of its own (caddy-format.ts).
 */
import { FNV_OFFSET, FNV_PRIME } from './address-table.js';
import { scanCaddyLine } from './caddy-format.js';
import {
  CLF_TIME_LENGTH,
  type LogEntry,
  REQUEST_LINE,
  REQUEST_TARGET,
  REQUEST_TARGET_DECODED,
  UA_DASH,
  UA_EMPTY,
  UA_NONE,
  findClosingQuote,
  hasClosingQuote,
  newLogEntry,
  parseClfTime,
  parseDecimal,
  parseIsoTime,
  parsedEnd,
} from './line-fields.js';
import { compileStrftime } from './strftime.js';

/** A compiled format. */
export interface LineFormat {
  /** The preset's name or the format string, for messages. */
  readonly name: string;
  /** Scans the line [start, end) (without its newline) into `out`; false when the line is not in this format. */
  readonly scan: (buf: Buffer, start: number, end: number, out: LogEntry) => boolean;
  /**
   * As scan, for an entry that only this format fills: it leaves alone the
   * fields that are the same for every line (how the request and the user
   * agent are given), which prime(out) sets once.
   */
  readonly scanOwn: (buf: Buffer, start: number, end: number, out: LogEntry) => boolean;
  readonly prime: (out: LogEntry) => void;
  /** The line's instant in epoch seconds, or NaN; reads no more of the line than it needs. */
  readonly lineTime: (buf: Buffer, start: number, end: number) => number;
  /** The client comes from a forwarded-for chain: [fwdStart, fwdEnd) with the connecting address in [ipStart, ipEnd). */
  readonly forwarded: boolean;
}

/** A format string that cannot be compiled; the message says what to change. */
export class LogFormatError extends Error {}

export const PRESETS: Record<string, string> = {
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
  common: '%h %l %u %t "%r" %>s %b',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  caddy: '',
};
export const DEFAULT_FORMAT = 'combined';

/** How the client address is chosen (CLIENT_ADDRESS), as a key that is the same for every spelling of a field. */
export type ClientField = { kind: 'remote' } | { kind: 'peer' } | { kind: 'header'; name: string };

/** The field a CLIENT_ADDRESS setting names, or undefined: unset, or not one (which checking the settings reports). */
export function clientFieldOf(clientAddress: string | undefined): ClientField | undefined {
  const client = clientAddress === undefined ? undefined : parseClientField(clientAddress);
  return typeof client === 'string' ? undefined : client;
}

/**
 * Reads a CLIENT_ADDRESS value: `%h`, `%a`, `$remote_addr` (the address the
 * server saw, the default), `%{c}a`, `$realip_remote_addr` (the connection's
 * own), `%{X-Forwarded-For}i`, `$http_x_forwarded_for` or Caddy's
 * `request.client_ip` / `request.remote_ip`. Returns a message for anything else.
 */
export function parseClientField(text: string): ClientField | string {
  const t = text.trim();
  if (['%h', '%a', '$remote_addr', '${remote_addr}', 'request.client_ip'].includes(t)) return { kind: 'remote' };
  if (['%{c}a', '%{c}h', '$realip_remote_addr', '${realip_remote_addr}', 'request.remote_ip'].includes(t)) return { kind: 'peer' };
  const apache = /^%\{([A-Za-z0-9_-]+)\}i$/.exec(t);
  if (apache) return { kind: 'header', name: apache[1].toLowerCase() };
  const nginx = /^\$\{?http_([A-Za-z0-9_]+)\}?$/.exec(t);
  if (nginx) return { kind: 'header', name: nginx[1].toLowerCase().replace(/_/g, '-') };
  const caddy = /^request\.headers\.([A-Za-z0-9_-]+)$/.exec(t);
  if (caddy) return { kind: 'header', name: caddy[1].toLowerCase() };
  return `'${text}' names no client address field; use '%h' or '$remote_addr' (the default), a header such as '%{X-Forwarded-For}i' or '$http_x_forwarded_for', or '%{c}a' / '$realip_remote_addr'`;
}

// ---------------------------------------------------------------------------
// Tokens

/** What a field's bytes look like, which decides how its end is found. */
type Shape =
  | 'address' // no spaces, no quotes
  | 'text' // anything but the terminator; assumed to hold no space when unquoted
  | 'spaced' // may hold spaces (a request, a header): must be quoted, or end the line
  | 'list' // nginx's upstream lists: `a, b : c`
  | 'number' // digits, a fraction, or `-`
  | 'status' // digits
  | 'clf' // dd/Mon/yyyy:HH:MM:SS +zzzz
  | 'iso' // yyyy-mm-ddTHH:MM:SS+hh:mm
  | 'epoch' // seconds (or ms, us) since the epoch
  | 'strftime'; // Apache's %{...}t

type Role = 'skip' | 'remote' | 'peer' | 'header' | 'time' | 'request' | 'method' | 'target' | 'path' | 'query' | 'isargs' | 'status' | 'ua';

interface Field {
  kind: 'field';
  /** As written in the format, for messages. */
  name: string;
  role: Role;
  shape: Shape;
  /** Lower-case header name for role 'header' (and 'ua'). */
  header?: string;
  /** epoch: units per second. */
  scale?: number;
  /** strftime: index into the format's time readers. */
  strftime?: string;
}

interface Literal {
  kind: 'literal';
  text: string;
}

type Token = Field | Literal;

type Escape = 'apache' | 'nginx' | 'json' | 'none';

interface ParsedFormat {
  tokens: Token[];
  escape: Escape;
  family: 'apache' | 'nginx';
}

function field(name: string, role: Role, shape: Shape, extra: Partial<Field> = {}): Field {
  return { kind: 'field', name, role, shape, ...extra };
}

function pushLiteral(tokens: Token[], text: string): void {
  const last = tokens[tokens.length - 1];
  if (last?.kind === 'literal') last.text += text;
  else tokens.push({ kind: 'literal', text });
}

/** An Apache `%{Name}i` header, or nginx's `$http_name`. */
function headerField(name: string, header: string): Field {
  if (header === 'user-agent') return field(name, 'ua', 'spaced', { header });
  return field(name, 'header', 'spaced', { header });
}

/** What the Apache directives without a choice log; %h, %a, %t and %i are read in apacheDirective. */
const APACHE_LETTERS: Record<string, [Role, Shape]> = {
  ...Object.fromEntries([...'luvVAHLRXkP'].map((letter) => [letter, ['skip', 'text']])),
  ...Object.fromEntries([...'pbBOISDT'].map((letter) => [letter, ['skip', 'number']])),
  ...Object.fromEntries([...'oenCf'].map((letter) => [letter, ['skip', 'spaced']])),
  r: ['request', 'spaced'],
  s: ['status', 'status'],
  U: ['path', 'text'],
  q: ['query', 'text'],
  m: ['method', 'text'],
};

function apacheDirective(letter: string, arg: string | undefined, name: string): Field {
  if (letter === 'h' || letter === 'a') return field(name, arg === 'c' ? 'peer' : 'remote', 'address');
  if (letter === 't') return arg === undefined ? field(name, 'time', 'clf') : apacheTime(arg, name);
  if (letter === 'i') {
    if (!arg) throw new LogFormatError(`${name} needs a header name, as in %{User-Agent}i`);
    return headerField(name, arg.toLowerCase());
  }
  if (!Object.hasOwn(APACHE_LETTERS, letter)) throw new LogFormatError(`unknown directive ${name}`);
  const [role, shape] = APACHE_LETTERS[letter];
  return field(name, role, shape);
}

function apacheTime(arg: string, name: string): Field {
  const format = arg.replace(/^(begin|end):/, '');
  if (format === 'sec') return field(name, 'time', 'epoch', { scale: 1 });
  if (format === 'msec') return field(name, 'time', 'epoch', { scale: 1e3 });
  if (format === 'usec') return field(name, 'time', 'epoch', { scale: 1e6 });
  if (format === 'msec_frac' || format === 'usec_frac') return field(name, 'skip', 'number');
  const reader = compileStrftime(format, name);
  if (typeof reader === 'string') throw new LogFormatError(reader);
  return field(name, 'time', 'strftime', { strftime: format });
}

/** Apache's LogFormat string (without the quotes of its configuration line). */
function parseApacheFormat(text: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      // mod_log_config's own escapes.
      const next = text[i + 1];
      pushLiteral(tokens, next === 'n' ? '\n' : next === 't' ? '\t' : next);
      i += 2;
      continue;
    }
    if (c !== '%') {
      pushLiteral(tokens, c);
      i++;
      continue;
    }
    const start = i;
    i++;
    // Conditions (%400,501{User-agent}i, %!200r) and the original/final request modifiers (%>s).
    while (i < text.length && /[!0-9,<>]/.test(text[i])) i++;
    let arg: string | undefined;
    if (text[i] === '{') {
      const close = text.indexOf('}', i);
      if (close < 0) throw new LogFormatError(`'${text.slice(start)}' opens a { that is never closed`);
      arg = text.slice(i + 1, close);
      i = close + 1;
      while (i < text.length && /[<>]/.test(text[i])) i++;
    }
    if (i >= text.length) throw new LogFormatError(`the format ends in the middle of a directive ('${text.slice(start)}')`);
    let letter = text[i];
    i++;
    if (letter === '%') {
      pushLiteral(tokens, '%');
      continue;
    }
    if (letter === '^') {
      letter += text.slice(i, i + 2); // %^ti, %^to
      i += 2;
      if (letter !== '^ti' && letter !== '^to') throw new LogFormatError(`unknown directive ${text.slice(start, i)}`);
      tokens.push(field(text.slice(start, i), 'skip', 'spaced'));
      continue;
    }
    const directive = apacheDirective(letter, arg, text.slice(start, i));
    // %t writes its brackets itself: [20/Nov/2026:11:00:00 +0000].
    if (letter === 't' && arg === undefined) {
      pushLiteral(tokens, '[');
      tokens.push(directive);
      pushLiteral(tokens, ']');
    } else tokens.push(directive);
  }
  return tokens;
}

const NGINX_NUMBERS = new Set([
  'body_bytes_sent', 'bytes_sent', 'request_length', 'request_time', 'connection', 'connection_requests', 'pid', 'server_port',
  'remote_port', 'content_length', 'gzip_ratio',
]);
const NGINX_SPACED = new Set(['ssl_client_s_dn', 'ssl_client_i_dn', 'date_local', 'date_gmt', 'request_body']);

/** The nginx variables the analysis reads (and $remote_user, which may hold spaces before combined's ` [`). */
const NGINX_VARIABLES: Record<string, [Role, Shape]> = {
  remote_addr: ['remote', 'address'],
  realip_remote_addr: ['peer', 'address'],
  time_local: ['time', 'clf'],
  time_iso8601: ['time', 'iso'],
  msec: ['time', 'epoch'],
  request: ['request', 'spaced'],
  request_method: ['method', 'text'],
  request_uri: ['target', 'text'],
  uri: ['path', 'text'],
  document_uri: ['path', 'text'],
  args: ['query', 'text'],
  query_string: ['query', 'text'],
  is_args: ['isargs', 'text'],
  status: ['status', 'status'],
  remote_user: ['skip', 'text'],
};

function nginxVariable(name: string, written: string): Field {
  if (name === 'binary_remote_addr') throw new LogFormatError(`${written} is binary and cannot be read from a text log; log $remote_addr`);
  if (Object.hasOwn(NGINX_VARIABLES, name)) {
    const [role, shape] = NGINX_VARIABLES[name];
    return field(written, role, shape);
  }
  if (name.startsWith('http_')) return headerField(written, name.slice(5).replace(/_/g, '-'));
  if (name.startsWith('upstream_')) return field(written, 'skip', 'list');
  if (name.startsWith('sent_http_') || name.startsWith('cookie_') || NGINX_SPACED.has(name)) return field(written, 'skip', 'spaced');
  if (NGINX_NUMBERS.has(name)) return field(written, 'skip', 'number');
  return field(written, 'skip', 'text');
}

/** nginx's log_format string (the concatenated quoted parts, without `escape=`). */
function parseNginxFormat(text: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '$') {
      pushLiteral(tokens, text[i]);
      i++;
      continue;
    }
    let name: string;
    let written: string;
    if (text[i + 1] === '{') {
      const close = text.indexOf('}', i);
      if (close < 0) throw new LogFormatError(`'${text.slice(i)}' opens a { that is never closed`);
      name = text.slice(i + 2, close);
      written = text.slice(i, close + 1);
      i = close + 1;
    } else {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j])) j++;
      name = text.slice(i + 1, j);
      written = text.slice(i, j);
      i = j;
    }
    if (name === '') throw new LogFormatError(`a $ with no variable name after it (write a literal $ as \${dollar} is not possible in nginx either)`);
    tokens.push(nginxVariable(name.toLowerCase(), written));
  }
  return tokens;
}

/**
 * The arguments of an nginx `log_format` directive after its name, as
 * pasted: `[escape=json] 'part' 'part' ...;`. Returns the concatenated string
 * and the escaping, or undefined when `text` is not written that way (a bare
 * format string).
 */
function nginxDirectiveArguments(text: string): { format: string; escape: Escape } | undefined {
  let t = text.trim();
  let escape: Escape = 'nginx';
  const escapeMatch = /^escape=(default|json|none)\s+/.exec(t);
  if (escapeMatch) {
    escape = escapeMatch[1] === 'json' ? 'json' : escapeMatch[1] === 'none' ? 'none' : 'nginx';
    t = t.slice(escapeMatch[0].length);
  } else if (!t.startsWith("'") && !t.endsWith(';')) return undefined;
  if (t.endsWith(';')) t = t.slice(0, -1).trimEnd();
  let format = '';
  for (let i = 0; i < t.length; ) {
    const c = t[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c !== "'" && c !== '"') {
      // A bare word: up to the next space.
      let j = i;
      while (j < t.length && !/\s/.test(t[j])) j++;
      format += t.slice(i, j);
      i = j;
      continue;
    }
    let j = i + 1;
    for (; j < t.length && t[j] !== c; j++) {
      if (t[j] === '\\' && j + 1 < t.length) {
        const next = t[++j];
        format += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next;
      } else format += t[j];
    }
    if (j >= t.length) throw new LogFormatError(`a ${c} in the log_format arguments is never closed`);
    i = j + 1;
  }
  return { format, escape };
}

/** The quoted string of an Apache LogFormat line (`"%h %l \"%r\""`), unquoted; other text as it is. */
function apacheFormatString(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1).replace(/\\"/g, '"');
  return t.replace(/\\"/g, '"');
}

/** Parses a LOG_FORMAT value: a preset name, an Apache format (holds `%`) or an nginx one (holds `$`). */
function parseFormat(text: string): ParsedFormat {
  const trimmed = text.trim();
  if (trimmed in PRESETS) return { tokens: parseApacheFormat(PRESETS[trimmed]), escape: 'apache', family: 'apache' };
  const nginx = nginxDirectiveArguments(trimmed);
  if (nginx) return { tokens: parseNginxFormat(nginx.format), escape: nginx.escape, family: 'nginx' };
  if (trimmed.includes('$')) return { tokens: parseNginxFormat(trimmed), escape: 'nginx', family: 'nginx' };
  if (trimmed.includes('%')) return { tokens: parseApacheFormat(apacheFormatString(trimmed)), escape: 'apache', family: 'apache' };
  throw new LogFormatError(
    `'${text}' is neither a preset (${Object.keys(PRESETS).join(', ')}) nor an Apache LogFormat (with % directives) nor an nginx log_format (with $variables)`,
  );
}

// ---------------------------------------------------------------------------
// Steps

interface Step {
  field: Field;
  /** The literal after the field ('' at the end of the format). */
  after: string;
  /** Between quotes: ends at the first unescaped `"`. */
  quoted: boolean;
  /** Where the value goes. */
  keep: 'none' | 'ip' | 'fwd' | 'time' | 'request' | 'target' | 'method' | 'status' | 'ua';
}

interface Plan {
  /** The literal before the first field. */
  lead: string;
  steps: Step[];
  requestForm: number;
  uaRule: number;
  lenient: boolean;
  escape: Escape;
  forwarded: boolean;
  /** The format's %{...}t time formats, in the order of `strftime` in the generated code. */
  strftime: string[];
}

function matchesClient(f: Field, client: ClientField): boolean {
  if (client.kind === 'header') return f.role === 'header' && f.header === client.name;
  return f.role === client.kind;
}

function describeClient(client: ClientField): string {
  if (client.kind === 'header') return `the header ${client.name} (%{${client.name}}i, $http_${client.name.replace(/-/g, '_')})`;
  return client.kind === 'remote' ? 'the client address (%h, %a, $remote_addr)' : "the connection's address (%{c}a, $realip_remote_addr)";
}

function plan(parsed: ParsedFormat, client: ClientField | undefined, lenient: boolean): Plan {
  // Merge the path and the query that follows it (%U%q, $uri$is_args$args, $uri?$args) into one target.
  const tokens: Token[] = [];
  for (let i = 0; i < parsed.tokens.length; i++) {
    const t = parsed.tokens[i];
    if (t.kind === 'field' && t.role === 'path') {
      let j = i + 1;
      const next = () => parsed.tokens[j];
      const parts = [t.name];
      const isArgs = (x: Token | undefined) => x?.kind === 'field' && x.role === 'isargs';
      const isQuery = (x: Token | undefined) => x?.kind === 'field' && x.role === 'query';
      if (isArgs(next()) && isQuery(parsed.tokens[j + 1])) {
        parts.push((next() as Field).name, (parsed.tokens[j + 1] as Field).name);
        j += 2;
      } else if (isQuery(next())) {
        parts.push((next() as Field).name);
        j += 1;
      } else if (next()?.kind === 'literal' && (next() as Literal).text === '?' && isQuery(parsed.tokens[j + 1])) {
        parts.push('?', (parsed.tokens[j + 1] as Field).name);
        j += 2;
      }
      tokens.push({ ...t, name: parts.join('') });
      i = j - 1;
      continue;
    }
    tokens.push(t);
  }

  const fields = tokens.filter((t): t is Field => t.kind === 'field');
  const want = client ?? ({ kind: 'remote' } as ClientField);
  let ipField = fields.find((f) => matchesClient(f, want));
  let fwdField: Field | undefined;
  if (!ipField && client === undefined) ipField = fields.find((f) => f.role === 'peer');
  if (!ipField) {
    throw new LogFormatError(
      client === undefined ? 'the format has no client address (%h, %a or $remote_addr)' : `CLIENT_ADDRESS names ${describeClient(want)}, which the format does not log`,
    );
  }
  if (want.kind === 'header') {
    fwdField = ipField;
    // The connecting address, to walk the chain from: the connection's own if logged.
    ipField = fields.find((f) => f.role === 'peer') ?? fields.find((f) => f.role === 'remote');
  }
  const timeField = fields.find((f) => f.role === 'time');
  if (!timeField) throw new LogFormatError('the format has no time (%t, $time_local, $time_iso8601 or $msec): the window cannot be found');
  const requestField = fields.find((f) => f.role === 'request') ?? fields.find((f) => f.role === 'target') ?? fields.find((f) => f.role === 'path');
  if (!requestField) throw new LogFormatError('the format has no request (%r, %U, $request, $request_uri or $uri): API requests cannot be told');
  const methodField = requestField.role === 'request' ? undefined : fields.find((f) => f.role === 'method');
  const statusField = fields.find((f) => f.role === 'status');
  const uaField = fields.find((f) => f.role === 'ua');

  const keepOf = (f: Field): Step['keep'] => {
    if (f === ipField) return 'ip';
    if (f === fwdField) return 'fwd';
    if (f === timeField) return 'time';
    if (f === requestField) return requestField.role === 'request' ? 'request' : 'target';
    if (f === methodField) return 'method';
    if (f === statusField) return 'status';
    if (f === uaField) return 'ua';
    return 'none';
  };

  let lead = '';
  let i = 0;
  if (tokens[0]?.kind === 'literal') {
    lead = tokens[0].text;
    i = 1;
  }
  const steps: Step[] = [];
  for (; i < tokens.length; i++) {
    const f = tokens[i] as Field;
    const nextToken = tokens[i + 1];
    if (nextToken?.kind === 'field' && !['clf', 'iso', 'epoch', 'strftime'].includes(f.shape)) {
      throw new LogFormatError(`${f.name} and ${nextToken.name} follow each other with nothing between them: where ${f.name} ends cannot be told`);
    }
    const after = nextToken?.kind === 'literal' ? nextToken.text : '';
    if (nextToken?.kind === 'literal') i++;
    const before = steps.length === 0 ? lead : steps[steps.length - 1].after;
    const quoted = before.endsWith('"') && after.startsWith('"');
    const atEnd = i >= tokens.length - 1 && after === '';
    if (!quoted && !atEnd && f.shape === 'spaced' && after[0] === ' ') {
      throw new LogFormatError(`${f.name} may hold spaces and is followed by a space, so where it ends cannot be told: put it in quotes ("${f.name}"), as combined does`);
    }
    steps.push({ field: f, after, quoted, keep: keepOf(f) });
  }
  const requestForm = requestField.role === 'request' ? REQUEST_LINE : requestField.role === 'target' ? REQUEST_TARGET : REQUEST_TARGET_DECODED;
  const uaRule = !uaField ? UA_NONE : parsed.escape === 'json' ? UA_EMPTY : UA_DASH;
  const strftime = [...new Set(steps.flatMap((s) => (s.field.strftime === undefined ? [] : [s.field.strftime])))];
  return { lead, steps, requestForm, uaRule, lenient, escape: parsed.escape, forwarded: fwdField !== undefined, strftime };
}

// ---------------------------------------------------------------------------
// Code generation

/** `buf[at + k] === byte && ...` for the bytes of `text`, with the bounds check first. */
function literalTest(bytes: Buffer, offset = 0): string {
  if (bytes.length === 0) return 'true';
  const tests = [`at + ${offset + bytes.length} <= end`];
  for (let k = 0; k < bytes.length; k++) tests.push(`buf[at + ${offset + k}] === ${bytes[k]}`);
  return tests.join(' && ');
}

function matchLiteral(bytes: Buffer): string {
  if (bytes.length === 0) return '';
  return `if (!(${literalTest(bytes)})) return false;\nat += ${bytes.length};\n`;
}

/**
 * Code that moves `at` to the end of an unquoted field: the first place where
 * the literal after it matches (`hash`: FNV-1a of the bytes on the way into h).
 */
function findTerminator(after: Buffer, hash: boolean, list: boolean): string {
  const t0 = after[0];
  const step = hash ? `{ h = Math.imul(h ^ b, ${FNV_PRIME}); at++; }` : 'at++;';
  const rest = after.length > 1 ? literalTest(after.subarray(1), 1) : 'true';
  const listTest = list ? ` && buf[at - 1] !== 44 && buf[at - 1] !== 58 && buf[at + 1] !== 58` : '';
  if (rest === 'true' && !list) {
    return `while (at < end && (b = buf[at]) !== ${t0}) ${step}\nif (at >= end) return false;\n`;
  }
  return (
    `for (;;) {\n` +
    `  while (at < end && (b = buf[at]) !== ${t0}) ${step}\n` +
    `  if (at >= end) return false;\n` +
    `  if (${rest}${listTest}) break;\n` +
    `  b = ${t0}; ${step}\n` +
    `}\n`
  );
}

function store(keep: Step['keep'], from: string, to: string): string {
  switch (keep) {
    case 'ip':
      return `out.ipStart = ${from}; out.ipEnd = ${to}; out.ipHash = h;\n`;
    case 'fwd':
      return `out.fwdStart = ${from}; out.fwdEnd = ${to};\n`;
    case 'request':
    case 'target':
      return `out.requestStart = ${from}; out.requestEnd = ${to};\n`;
    case 'method':
      return `out.methodStart = ${from}; out.methodEnd = ${to};\n`;
    case 'ua':
      return `out.uaStart = ${from}; out.uaEnd = ${to};\n`;
    default:
      return '';
  }
}

/**
 * The body of `function (buf, start, end, out)` (scan) or of
 * `function (buf, start, end)` (time only: returns at the time field).
 */
/** The stores of what is the same for every line of a format (see LineFormat.prime). */
function constantStores(p: Plan): string {
  const keeps = new Set(p.steps.map((s) => s.keep));
  let code = `out.requestForm = ${p.requestForm}; out.uaRule = ${p.uaRule};\n`;
  if (!keeps.has('method')) code += 'out.methodStart = -1;\n';
  if (!keeps.has('fwd')) code += 'out.fwdStart = -1;\n';
  if (!keeps.has('status')) code += 'out.status = 0;\n';
  if (!keeps.has('ip')) code += 'out.ipStart = -1; out.ipEnd = -1; out.ipHash = 0;\n';
  return code;
}

type Mode = 'scan' | 'scanOwn' | 'lineTime';

function generate(p: Plan, mode: Mode): string {
  const timeOnly = mode === 'lineTime';
  let code = 'let at = start, b = 0, h = 0, f = 0, q = 0, t = 0, st = 0;\n';
  if (mode === 'scan') code += constantStores(p);
  code += matchLiteral(Buffer.from(p.lead, 'utf8'));
  for (let i = 0; i < p.steps.length; i++) {
    const s = p.steps[i];
    const after = Buffer.from(s.after, 'utf8');
    const last = i === p.steps.length - 1;
    const keep = timeOnly ? (s.keep === 'time' ? 'time' : 'none') : s.keep;
    const shape = s.field.shape;
    // The field's name as a comment, reduced to characters that cannot end one.
    code += `// ${s.field.name.replace(/[^A-Za-z0-9_%{}$<>:. -]/g, '?')}\nf = at;\n`;
    if (shape === 'clf') {
      code += `if (at + ${CLF_TIME_LENGTH} > end) return ${timeOnly ? 'NaN' : 'false'};\nt = parseClfTime(buf, at);\nat += ${CLF_TIME_LENGTH};\n`;
    } else if (shape === 'iso') {
      code += 't = parseIsoTime(buf, at, end);\nat = parsedEnd.at;\n';
    } else if (shape === 'epoch') {
      code += `t = Math.floor(parseDecimal(buf, at, end) / ${s.field.scale ?? 1});\nat = parsedEnd.at;\n`;
    } else if (shape === 'strftime') {
      code += `t = strftime[${p.strftime.indexOf(s.field.strftime!)}](buf, at, end);\nat = parsedEnd.at;\n`;
    } else if (shape === 'status') {
      code += 'st = 0;\nwhile (at < end && (b = buf[at]) >= 48 && b <= 57) { st = st * 10 + b - 48; at++; }\nif (at === f) return false;\n';
      if (keep === 'status') code += 'out.status = st;\n';
    } else if (shape === 'number') {
      code +=
        'if (at < end && buf[at] === 45) at++;\nelse {\n' +
        '  while (at < end && (b = buf[at]) >= 48 && b <= 57) at++;\n' +
        '  if (at < end && buf[at] === 46) { at++; while (at < end && (b = buf[at]) >= 48 && b <= 57) at++; }\n' +
        '  if (at === f) return false;\n}\n';
    } else if (s.quoted && p.escape !== 'none' && shape !== 'address') {
      const lazy = last && after.length === 1;
      if (lazy && p.lenient && (keep === 'ua' || keep === 'none')) {
        // The last field of a format that allows more after it: only that it ends matters here.
        code += `if (!hasClosingQuote(buf, at, end)) return false;\n${store(keep, 'f', '-1')}return true;\n`;
        return code;
      }
      if (lazy && !p.lenient) {
        // The line must end in this field's closing quote (a CR before the newline aside).
        code +=
          'q = end;\nif (q > at && buf[q - 1] === 13) q--;\n' +
          'if (q - 1 < at || buf[q - 1] !== 34 || (q - 2 >= at && buf[q - 2] === 92 && findClosingQuote(buf, at, q) !== q - 1)) return false;\n' +
          `${store(keep, 'f', 'q - 1')}at = q - 1;\n`;
        code += matchLiteral(after);
        code += 'return at === end || (at === end - 1 && buf[at] === 13);\n';
        return code;
      }
      // `-`, the usual referer and the usual missing header, without a call.
      code += `q = buf[at] === 45 && buf[at + 1] === 34 && at + 1 < end ? at + 1 : findClosingQuote(buf, at, end);\nif (q < 0) return false;\nat = q;\n${store(keep, 'f', 'at')}`;
    } else if (after.length === 0) {
      // The rest of the line (a CR before the newline aside).
      if (keep === 'ip') code += `h = ${FNV_OFFSET};\nwhile (at < end && (b = buf[at]) !== 13) { h = Math.imul(h ^ b, ${FNV_PRIME}); at++; }\n`;
      else code += 'at = end;\nif (at > f && buf[at - 1] === 13) at--;\n';
      code += store(keep, 'f', 'at');
    } else {
      const hash = keep === 'ip';
      if (hash) code += `h = ${FNV_OFFSET};\n`;
      code += findTerminator(after, hash, shape === 'list');
      if (shape === 'address') code += 'if (at === f) return false;\n';
      code += store(keep, 'f', 'at');
    }
    if (['clf', 'iso', 'epoch', 'strftime'].includes(shape)) {
      if (timeOnly && keep === 'time') {
        // What follows the time must be there too (`]` in combined): a line cut inside it has no time yet.
        code += `${matchLiteral(after)}return t;\n`;
        break; // the rest of the line is not read
      }
      code += `if (t !== t) return false;\n${keep === 'time' ? 'out.time = t;\n' : ''}`;
    }
    code += matchLiteral(after);
  }
  // The time reader answers NaN where the scanner answers false.
  if (timeOnly) return code.replace(/return false;/g, 'return NaN;');
  return p.lenient ? `${code}return true;\n` : `${code}return at === end || (at === end - 1 && buf[at] === 13);\n`;
}

const HELPER_NAMES = ['parseClfTime', 'parseIsoTime', 'parseDecimal', 'parsedEnd', 'findClosingQuote', 'hasClosingQuote', 'strftime'];

function build(p: Plan, mode: Mode | 'prime', strftime: unknown[]): (...args: never[]) => unknown {
  const body = mode === 'prime' ? constantStores(p) : generate(p, mode);
  const params = mode === 'lineTime' ? 'buf, start, end' : mode === 'prime' ? 'out' : 'buf, start, end, out';
  // The format's text never reaches the source: literals are emitted as byte values, fields from a fixed set.
  const factory = new Function(...HELPER_NAMES, `return function ${mode}(${params}) {\n${body}};`);
  return factory(parseClfTime, parseIsoTime, parseDecimal, parsedEnd, findClosingQuote, hasClosingQuote, strftime);
}

// Compiled formats are shared: V8 compiles the hot path against the scanner
// function it calls, so every reader of one format should call the same one.
const compiled = new Map<string, LineFormat>();

/**
 * Compiles a LOG_FORMAT value. Presets accept anything after their last field
 * (as the combined parser always has: nginx's combined plus request time
 * still reads); a format string must match the whole line. Throws a
 * LogFormatError whose message names what cannot be read.
 */
export function compileLogFormat(text: string, client?: ClientField): LineFormat {
  const key = JSON.stringify([text, client ?? null]);
  const known = compiled.get(key);
  if (known) return known;
  let format: LineFormat;
  if (text.trim() === 'caddy') format = caddyFormat(client);
  else {
    const parsed = parseFormat(text);
    const p = plan(parsed, client, text.trim() in PRESETS);
    // plan() has compiled each of them once already: none fails here.
    const strftime = p.strftime.map((f) => compileStrftime(f, text));
    format = {
      name: text,
      scan: build(p, 'scan', strftime) as LineFormat['scan'],
      scanOwn: build(p, 'scanOwn', strftime) as LineFormat['scanOwn'],
      prime: build(p, 'prime', strftime) as LineFormat['prime'],
      lineTime: build(p, 'lineTime', strftime) as LineFormat['lineTime'],
      forwarded: p.forwarded,
    };
  }
  compiled.set(key, format);
  return format;
}

function caddyFormat(client: ClientField | undefined): LineFormat {
  const header = client?.kind === 'header' ? Buffer.from(client.name, 'latin1') : undefined;
  const preferPeer = client?.kind === 'peer';
  const scratch = newLogEntry();
  const scan = (buf: Buffer, start: number, end: number, out: LogEntry) => scanCaddyLine(buf, start, end, out, header, preferPeer);
  return {
    name: 'caddy',
    scan,
    scanOwn: scan,
    prime: () => {},
    lineTime: (buf, start, end) => (scan(buf, start, end, scratch) ? scratch.time : NaN),
    forwarded: header !== undefined,
  };
}

/** The formats of a log, tried in order: the first that reads a line wins. */
export function compileLogFormats(texts: readonly string[], client?: ClientField): LineFormat[] {
  return texts.map((text) => compileLogFormat(text, client));
}

/** `formats`, or the default format when there are none. */
export function formatsOrDefault(formats: readonly LineFormat[] | undefined): readonly LineFormat[] {
  return formats !== undefined && formats.length > 0 ? formats : [compileLogFormat(DEFAULT_FORMAT)];
}

/**
 * A line's time by the first of `formats` that reads one, or NaN: for
 * seeking, finding a file's first line, and telling a log's newest line.
 * One format's own function when there is one. The formats as given: a
 * caller without any asks formatsOrDefault first.
 */
export function lineTimeOf(formats: readonly LineFormat[]): LineFormat['lineTime'] {
  if (formats.length === 1) return formats[0].lineTime;
  return (buf, start, end) => {
    for (let i = 0; i < formats.length; i++) {
      const time = formats[i].lineTime(buf, start, end);
      if (time === time) return time;
    }
    return NaN;
  };
}
