/**
 * What each setting in ip_blocks.conf may hold, and the words an operator
 * reads when it holds something else.
 */
// zod's mini build: a classic schema is made with thirty methods of its own, and making this file's schemas was the
// largest part of a cron run's start (12 ms of a 1-minute step's 250). The namespace import lets the bundler keep only
// the parts in use.
import * as z from 'zod/mini';
import { parseListEntry } from '../address/address-list.js';
import { LogFormatError, compileLogFormats, parseClientField } from '../read/log-format.js';
import { CLICKHOUSE_TABLE_NAME, clickHouseUrlProblem } from '../read/clickhouse-query.js';
import { describePyValue, type Assignment } from './python-literal.js';
import { type Layout, type LogFileSetting, type SettingOrigins, type Settings, defaultsWithOrigins } from './settings.js';

type WindowSecondsKey = 'BLOCKCOOLOFF_SECONDS' | 'BULKCOOLOFF_SECONDS';
type PlainKey = Exclude<keyof Settings, WindowSecondsKey>;

/** An error map that says what was expected and shows what the file holds. */
const expected = (what: string) => (issue: { input?: unknown }) => `expected ${what}, got ${describePyValue(issue.input)}`;

/** Reports a problem from inside a transform, where the mini build has no addIssue. */
function addProblem(ctx: z.core.ParsePayload, message: string, input: unknown): void {
  ctx.issues.push({ code: 'custom', message, input });
}

/** A number held to the checks given, each failing with the same words. */
const numberWhere = (what: string, ...checks: ((error: ReturnType<typeof expected>) => z.core.$ZodCheck<number>)[]) =>
  z.number({ error: expected(what) }).check(...checks.map((check) => check(expected(what))));

const filePath = z.string({ error: expected('a file path in quotes') }).check(z.minLength(1, { error: expected('a file path in quotes') }));

const nonNegativeNumber = (what: string) => numberWhere(what, (error) => z.gte(0, { error }));

const wholeNumber = (what: string) => numberWhere(what, (error) => z.int({ error }), (error) => z.gte(0, { error }));

/** One string or a tuple/list of strings, as a list. */
const stringOrStrings = (what: string) =>
  z.pipe(
    z.union([z.string(), z.array(z.string())], { error: expected(what) }),
    z.transform((value: string | string[]) => (typeof value === 'string' ? [value] : value)),
  );

/** The original's space-separated string, or a tuple; every entry an address or a network (CIDR). */
const addressList = z.pipe(
  stringOrStrings("addresses or networks, as one space-separated string or a tuple of strings such as ('192.0.2.1', '2001:db8::/32')"),
  z.transform((values: string[], ctx) => {
    const entries = new Set<string>();
    for (const text of values.flatMap((value) => value.split(/\s+/)).filter(Boolean)) {
      const parsed = parseListEntry(text);
      if ('entry' in parsed) entries.add(parsed.entry);
      else addProblem(ctx, parsed.problem, text);
    }
    return [...entries];
  }),
);

/** A whole prefix length; shorter than `min` would count a whole provider as one client. */
const prefixLength = (max: number, what: string, min: number) =>
  numberWhere(what, (error) => z.int({ error }), (error) => z.gte(min, { error }), (error) => z.lte(max, { error }));

/** A string, or None (or an empty string) for "not set". */
const optionalString = (what: string) =>
  z.pipe(z.union([z.string(), z.null()], { error: expected(what) }), z.transform((value: string | null) => value || undefined));

const optionalFilePath = optionalString('a file path in quotes, or None');

const LOG_FILES_EXPECTED =
  "log paths, each a string or a pair of path and format, as a tuple such as ('/var/log/nginx/a.log', ('/var/log/nginx/b.log', 'vhost_combined'))";

/** A path alone reads with LOG_FORMAT; a (path, format) or (path, (format, ...)) pair with its own. */
const logFiles = z.pipe(
  z.union([z.string(), z.array(z.unknown())], { error: expected(LOG_FILES_EXPECTED) }),
  z.transform((value: string | unknown[], ctx): LogFileSetting[] => {
    const entries = typeof value === 'string' ? [value] : value;
    const files: LogFileSetting[] = [];
    for (const entry of entries) {
      if (typeof entry === 'string' && entry !== '') files.push({ path: entry, formats: undefined });
      else if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && entry[0] !== '') {
        const formats = typeof entry[1] === 'string' ? [entry[1]] : entry[1];
        if (Array.isArray(formats) && formats.length > 0 && formats.every((format) => typeof format === 'string')) files.push({ path: entry[0], formats });
        else addProblem(ctx, `expected a format or a tuple of formats for ${entry[0]}, got ${describePyValue(entry[1])}`, entry);
      } else addProblem(ctx, expected(LOG_FILES_EXPECTED)({ input: entry }), entry);
    }
    const seen = new Set<string>();
    for (const { path } of files) {
      if (seen.has(path)) addProblem(ctx, `${path} is listed twice: its requests would be counted twice`, path);
      seen.add(path);
    }
    return files;
  }),
);

const PLAIN_SCHEMAS: { [K in PlainKey]: z.ZodMiniType<Settings[K]> } = {
  BLOCKEDFILE: filePath,
  LOGFILE: filePath,
  LOADAVG_FILE: filePath,
  WHITELIST: addressList,
  BLACKLIST: addressList,
  WHITELIST_FILE: optionalFilePath,
  BLACKLIST_FILE: optionalFilePath,
  EXCLUDE_NON_GLOBAL: z.boolean({ error: expected('True or False') }),
  IPV6_PREFIX: prefixLength(128, 'an IPv6 prefix length from 16 to 128 (64 for a network per client, 128 per address)', 16),
  IPV4_PREFIX: prefixLength(32, 'an IPv4 prefix length from 8 to 32 (32 per address)', 8),
  UA_BLOCKLIST: stringOrStrings("user-agent prefixes, as a tuple of strings such as ('curl/', 'python-requests')").check(
    z.refine((prefixes) => prefixes.every((prefix) => prefix !== ''), { error: 'an empty user-agent prefix would match every client' }),
  ),
  BULKLONG_LIMIT: nonNegativeNumber('a number of requests (0 or more)'),
  BULKSHORT_LIMIT: nonNegativeNumber('a number of requests (0 or more)'),
  BLOCK_UPPER: nonNegativeNumber('a number of requests (0 or more)'),
  BLOCK_LOWER: nonNegativeNumber('a number of requests (0 or more)'),
  BULK_LOWER: nonNegativeNumber('a number of requests (0 or more)'),
  BLOCK_LOADFAC: nonNegativeNumber('a number of requests per unit of load (0 or more)'),
  BULK_LOADFAC: nonNegativeNumber('a number of requests per unit of load (0 or more)'),
  MAX_BULK_IPS: nonNegativeNumber('a number of clients (0 or more)'),
  MIN_LOG_SIZE: wholeNumber('a whole number of bytes (0 or more)'),
  ROTATED_LOGS: stringOrStrings("file-name suffixes, newest first, as a tuple such as ('.1', '.2.gz'), or () for none").check(
    z.refine((suffixes) => suffixes.every((suffix) => suffix !== ''), { error: 'an empty suffix would name the log itself' }),
  ),
  INCREMENTAL: z.boolean({ error: expected('True or False') }),
  GEO_FILE: optionalFilePath,
  NFT_FILE: optionalFilePath,
  IPSET_FILE: optionalFilePath,
  // ipset names end at 31 characters, and the sets take `4-next` on top.
  FIREWALL_NAME: z
    .string({ error: expected("a name in quotes such as 'ipanalyse'") })
    .check(z.regex(/^[A-Za-z][A-Za-z0-9_]{0,24}$/, { error: expected('a name of at most 25 letters, digits and _, starting with a letter') })),
  METRICS_FILE: optionalFilePath,
  ON_CHANGE: optionalString("a shell command in quotes such as 'nginx -t && nginx -s reload', or None"),
  ON_CHANGE_TIMEOUT: numberWhere('a number of seconds, above 0', (error) => z.gt(0, { error })),
  STALE_AFTER: z.pipe(
    z.union([z.null(), z.number().check(z.gte(0)), z.string()], { error: expected("a duration such as '1 hour', a number of seconds (0: never), or None for the long window") }),
    z.transform((value: null | number | string, ctx) => {
      if (value === null) return undefined;
      if (typeof value === 'number') return value;
      const parsed = parseDuration(value);
      if ('seconds' in parsed) return parsed.seconds;
      addProblem(ctx, parsed.problem, value);
      return z.NEVER;
    }),
  ),
  MAX_UNREADABLE_SHARE: numberWhere(
    'a share of the lines read, from 0 to 1 (1 turns this check off)',
    (error) => z.gte(0, { error }),
    (error) => z.lte(1, { error }),
  ),
  MAX_NEW_BLOCKS: wholeNumber('a whole number of clients (0 or more)'),
  MAX_BLOCKED_SHARE: numberWhere(
    'a share of all requests, above 0 and at most 1 (1 turns this check off)',
    (error) => z.gt(0, { error }),
    (error) => z.lte(1, { error }),
  ),
  LOG_FORMAT: stringOrStrings("a preset ('combined', 'common', 'vhost_combined', 'caddy'), the server's format string, or a tuple of them").check(
    z.refine((formats) => formats.length > 0, { error: 'expected at least one format, got an empty tuple' }),
  ),
  LOG_FILES: logFiles,
  CLIENT_ADDRESS: optionalString("a field such as '$http_x_forwarded_for' or '%{X-Forwarded-For}i', or None").check(
    z.superRefine((value, ctx) => {
      const parsed = value === undefined ? undefined : parseClientField(value);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed, input: value });
    }),
  ),
  TRUSTED_PROXIES: addressList,
  TRUSTED_PROXIES_FILE: optionalFilePath,
  API_ENDPOINTS: stringOrStrings("path fragments, as a tuple of strings such as ('/search', '/reverse')").check(
    z.refine((endpoints) => endpoints.length > 0, { error: 'expected at least one path fragment, got an empty tuple' }),
    z.refine((endpoints) => endpoints.every((endpoint) => endpoint !== ''), { error: 'an empty path fragment would make every request an API request' }),
  ),
  CLICKHOUSE_URL: optionalString("ClickHouse's HTTP interface in quotes such as 'http://127.0.0.1:8123/?database=logs', or None").check(
    z.superRefine((value, ctx) => {
      const problem = value === undefined ? undefined : clickHouseUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    }),
  ),
  CLICKHOUSE_TABLE: z
    .string({ error: expected("a table name in quotes such as 'access_log' or 'logs.access_log'") })
    .check(z.regex(CLICKHOUSE_TABLE_NAME, { error: expected("a table name in quotes such as 'access_log' or 'logs.access_log' (letters, digits and _)") })),
  CLICKHOUSE_TIMEOUT: numberWhere('a number of seconds, above 0', (error) => z.gt(0, { error })),
};

const UNIT_SECONDS: Record<string, number> = {
  ...Object.fromEntries(['s', 'sec', 'secs', 'second', 'seconds'].map((unit) => [unit, 1])),
  ...Object.fromEntries(['m', 'min', 'mins', 'minute', 'minutes'].map((unit) => [unit, 60])),
  ...Object.fromEntries(['h', 'hour', 'hours'].map((unit) => [unit, 3600])),
  ...Object.fromEntries(['d', 'day', 'days'].map((unit) => [unit, 86400])),
  ...Object.fromEntries(['w', 'week', 'weeks'].map((unit) => [unit, 604800])),
};
const UNIT_HINT = 'use s, min, h, d or w';

const positiveSeconds = z.number().check(z.gt(0, { error: (issue) => `expected a duration longer than zero, got ${formatDuration(issue.input as number)}` }));

const timedeltaSeconds = z.pipe(
  z.pipe(
    z.object({ timedeltaSeconds: z.number() }, { error: expected('a timedelta such as timedelta(hours=1)') }),
    z.transform((delta: { timedeltaSeconds: number }) => delta.timedeltaSeconds),
  ),
  positiveSeconds,
);

/** '1 hour', '15 min', '1 hour 30 min', '2.5 days'. */
const periodSeconds = z.pipe(
  z.pipe(z.string({ error: expected("a duration in quotes such as '1 hour' or '15 min'") }), z.transform(secondsOfPeriod)),
  positiveSeconds,
);

function secondsOfPeriod(text: string, ctx: z.core.ParsePayload): number {
  let seconds = 0;
  const part = /\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*/y;
  let match: RegExpExecArray | null;
  while (part.lastIndex < text.length && (match = part.exec(text))) {
    const unit = match[2].toLowerCase();
    const factor = UNIT_SECONDS[unit];
    if (factor === undefined) {
      const problem = unit === '' ? `the number ${match[1]} has no unit` : `unknown unit '${match[2]}'`;
      addProblem(ctx, `${problem} in '${text}' (${UNIT_HINT})`, text);
      return z.NEVER;
    }
    seconds += Number(match[1]) * factor;
  }
  if (part.lastIndex < text.length || text.trim() === '') {
    addProblem(ctx, `expected a duration such as '1 hour' or '15 min', got '${text}'`, text);
    return z.NEVER;
  }
  return seconds;
}

const WINDOWS = [
  { name: 'long window', prefix: 'BLOCKCOOLOFF', target: 'BLOCKCOOLOFF_SECONDS' },
  { name: 'short window', prefix: 'BULKCOOLOFF', target: 'BULKCOOLOFF_SECONDS' },
] as const;

const KNOWN_KEYS = [...Object.keys(PLAIN_SCHEMAS), ...WINDOWS.flatMap((w) => [`${w.prefix}_DELTA`, `${w.prefix}_PERIOD`])];

/** The original's base directory: later lines may use it, and setting it changes no setting here (nor did it there). */
const IGNORED_KEYS = new Set(['BASEDIR']);

/** One line per problem, in the form every message about the settings file takes. */
export function formatProblem(file: string, line: number, key: string | undefined, message: string): string {
  return key ? `${file}:${line} ${key}: ${message}` : `${file}:${line}: ${message}`;
}

export interface SettingProblem {
  line: number;
  key: string;
  message: string;
}

/** As checkSettings, with the problems formatted by formatProblem. */
export function validateSettings(
  assignments: Assignment[],
  file: string,
  installation: Layout | string,
): { settings: Settings; origins: SettingOrigins } | { problems: string[] } {
  const checked = checkSettings(assignments, file, installation);
  if ('problems' in checked) return { problems: checked.problems.map((p) => formatProblem(file, p.line, p.key, p.message)) };
  return checked;
}

/**
 * Checks the parsed assignments against what each setting may hold and fills
 * the rest from the defaults. Returns all problems at once, in line order;
 * the last assignment of a key wins, as in Python.
 */
export function checkSettings(
  assignments: Assignment[],
  file: string,
  installation: Layout | string,
): { settings: Settings; origins: SettingOrigins } | { problems: SettingProblem[] } {
  const { settings, origins } = defaultsWithOrigins(installation);
  const problems: SettingProblem[] = [];

  const last = new Map<string, Assignment>();
  for (const assignment of assignments) last.set(assignment.key, assignment);

  for (const [key, { line, value }] of last) {
    if (key in PLAIN_SCHEMAS) {
      const result = PLAIN_SCHEMAS[key as PlainKey].safeParse(value);
      if (result.success) {
        (settings as Record<PlainKey, unknown>)[key as PlainKey] = result.data;
        origins[key as PlainKey] = `${file}:${line}`;
      } else for (const issue of result.error.issues) problems.push({ line, key, message: issue.message });
    } else if (!KNOWN_KEYS.includes(key) && !IGNORED_KEYS.has(key)) {
      const suggestion = KNOWN_KEYS.find((known) => editDistance(known, key.toUpperCase()) <= 2);
      problems.push({ line, key, message: `unknown setting${suggestion ? `; did you mean ${suggestion}?` : ''}` });
    }
  }

  const windowsGiven: Partial<Record<WindowSecondsKey, Assignment>> = {};
  for (const window of WINDOWS) {
    const delta = last.get(`${window.prefix}_DELTA`);
    const period = last.get(`${window.prefix}_PERIOD`);
    if (delta && period) {
      const [earlier, later] = delta.line < period.line ? [delta, period] : [period, delta];
      problems.push({
        line: later.line,
        key: later.key,
        message: `${earlier.key} already sets the ${window.name} on line ${earlier.line}; give only one of ${window.prefix}_DELTA and ${window.prefix}_PERIOD`,
      });
      continue;
    }
    const given = delta ?? period;
    if (!given) continue;
    const result = (given === delta ? timedeltaSeconds : periodSeconds).safeParse(given.value);
    if (!result.success) {
      for (const issue of result.error.issues) problems.push({ line: given.line, key: given.key, message: issue.message });
      continue;
    }
    settings[window.target] = result.data;
    origins[window.target] = `${file}:${given.line}`;
    windowsGiven[window.target] = given;
  }

  const long = windowsGiven.BLOCKCOOLOFF_SECONDS;
  const short = windowsGiven.BULKCOOLOFF_SECONDS;
  // The later of the two lines is the one that broke the pair.
  const blamed = [long, short].filter((given) => given !== undefined).sort((a, b) => b.line - a.line)[0];
  if (blamed && settings.BULKCOOLOFF_SECONDS > settings.BLOCKCOOLOFF_SECONDS) {
    const describeWindow = (prefix: string, given: Assignment | undefined) =>
      `(${given?.key ?? prefix}, ${formatDuration(settings[`${prefix}_SECONDS` as WindowSecondsKey])}${given ? '' : ' by default'})`;
    problems.push({
      line: blamed.line,
      key: blamed.key,
      message: `the short window ${describeWindow('BULKCOOLOFF', short)} must not be longer than the long window ${describeWindow('BLOCKCOOLOFF', long)}`,
    });
  }

  problems.push(...checkLogFormats(settings, last));

  if (problems.length > 0) return { problems: problems.sort((a, b) => a.line - b.line) };
  return { settings, origins };
}

/**
 * The formats must compile, with the client field CLIENT_ADDRESS names, and
 * TRUSTED_PROXIES must have a forwarded header to act on. Each problem is
 * blamed on the line that can fix it.
 */
function checkLogFormats(settings: Settings, last: Map<string, Assignment>): SettingProblem[] {
  const problems: SettingProblem[] = [];
  const formatLine = last.get('LOG_FORMAT');
  const clientLine = last.get('CLIENT_ADDRESS');
  if ((formatLine && !PLAIN_SCHEMAS.LOG_FORMAT.safeParse(formatLine.value).success) || (clientLine && !PLAIN_SCHEMAS.CLIENT_ADDRESS.safeParse(clientLine.value).success)) {
    return problems; // already reported
  }
  const client = settings.CLIENT_ADDRESS === undefined ? undefined : parseClientField(settings.CLIENT_ADDRESS);
  if (typeof client === 'string') return problems;
  for (const format of settings.LOG_FORMAT) {
    try {
      compileLogFormats([format], client);
    } catch (error) {
      if (!(error instanceof LogFormatError)) throw error;
      // A client field the format lacks is CLIENT_ADDRESS's to fix when it was set.
      const blamed = error.message.startsWith('CLIENT_ADDRESS') && clientLine ? clientLine : formatLine;
      const shown = settings.LOG_FORMAT.length > 1 ? `in '${format}': ` : '';
      problems.push({ line: blamed?.line ?? 0, key: blamed?.key ?? 'LOG_FORMAT', message: `${shown}${error.message}` });
    }
  }
  const filesLine = last.get('LOG_FILES');
  for (const file of settings.LOG_FILES) {
    for (const format of file.formats ?? []) {
      try {
        compileLogFormats([format], client);
      } catch (error) {
        if (!(error instanceof LogFormatError)) throw error;
        problems.push({ line: filesLine?.line ?? 0, key: 'LOG_FILES', message: `${file.path}: in '${format}': ${error.message}` });
      }
    }
  }
  // An empty list (the bundled file's default line) asks for nothing.
  const trustedLine =
    (settings.TRUSTED_PROXIES.length > 0 ? last.get('TRUSTED_PROXIES') : undefined) ?? (settings.TRUSTED_PROXIES_FILE !== undefined ? last.get('TRUSTED_PROXIES_FILE') : undefined);
  if (trustedLine && (client === undefined || client.kind !== 'header')) {
    problems.push({
      line: trustedLine.line,
      key: trustedLine.key,
      message: "trusted proxies need a forwarded header to take the client from: set CLIENT_ADDRESS, e.g. CLIENT_ADDRESS = '$http_x_forwarded_for'",
    });
  }
  return problems;
}

/** Seconds in the largest unit that divides them evenly: '1 hour', '90 minutes', '45 seconds'. */
function formatDuration(seconds: number): string {
  const units: [string, number][] = [
    ['week', 604800],
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  const [unit, size] = units.find(([, size]) => seconds !== 0 && seconds % size === 0) ?? ['second', 1];
  const count = seconds / size;
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** Levenshtein distance, for suggesting the setting a typo meant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Reads a duration as the *_PERIOD settings take it ('1 day', '12 h', '1 hour 30 min'): seconds, or what is wrong. */
export function parseDuration(text: string): { seconds: number } | { problem: string } {
  const result = periodSeconds.safeParse(text);
  return result.success ? { seconds: result.data } : { problem: result.error.issues[0]?.message ?? `'${text}' is not a duration` };
}
