/**
 * Everything a run decides, from plain values: the previous map's text, the
 * window's statistics, the settings, the load average and the clock. Pure.
 * The run applies the plan (writes what it says); `explain` asks it why.
 */
import { formatDistanceStrict } from 'date-fns/formatDistanceStrict';
import { buildAddressList, isNonGlobal } from '../address/address-list.js';
import type { Problem } from '../errors.js';
import { formatLocalTime } from '../local-time.js';
import { formatSetting, presetsReading } from '../read/detect-format.js';
import { PRESETS } from '../read/log-format.js';
import type { ClientStats, WindowStats } from '../read/window-stats.js';
import type { Settings } from '../settings/settings.js';
import { renderChangeLines } from '../write/change-log.js';
import { type MapFormat, countStates, parseMap, renderGeo, renderMap, whitelistExceptions } from '../write/map-file.js';
import { type Limits, adjustLimits } from './limits.js';
import { type ChangeKind, type Changes, type ClientState, type MapState, CHANGE_KINDS, applySafetyValve, decide, decideAll, previousClientState, restrictionThresholds } from './policy.js';

/** What the read stage saw of one log besides the statistics: whether the run can trust what it read. */
export interface LogFacts {
  /** Names the log in messages. */
  logFile: string;
  /** The formats it was read with. */
  formats: readonly string[];
  /** The newest line's time in the log, epoch seconds; NaN when none could be read. */
  newestLineTime: number;
  /** Why the read is partial (the log shrank or was replaced while it was read); undefined when it is whole. */
  changed?: string;
  /** A few lines no format in force reads as they are: a log the run refuses is told which preset reads them. */
  unreadableSamples: readonly Buffer[];
  /** This log's own lines read and unreadable lines (0 when nothing was read), and the first of those. */
  linesRead: number;
  garbageLines: number;
  garbageSample: string | undefined;
}

/** What the read stage saw of every log. */
export interface ReadFacts {
  /** A replay (STARTDATE): an old log is expected. */
  replay: boolean;
  /** Every log read, in the order given; one in the common case. */
  logs: LogFacts[];
}

export interface PlanInput {
  settings: Settings;
  /** Every log's statistics, summed per client; undefined when the logs are smaller than MIN_LOG_SIZE: nothing was read. */
  stats: WindowStats | undefined;
  /** Every log's size with its previous generations. */
  logBytes: number;
  read: ReadFacts;
  /** The map file's text as it is now; undefined when there is none yet. */
  previousMapText: string | undefined;
  /** Names the map in warnings. */
  mapFile: string;
  /** The 15-minute load average; needed only when the run decides (see nothingToDecide). */
  loadAverage: number | undefined;
  /** Stamps the change log. */
  now: Date;
  format: MapFormat;
}

/** Why one address gets the state it gets, as facts; report/explain.ts puts them into words. */
export type Reason =
  | { kind: 'blacklisted' }
  | { kind: 'judged'; rule: string; wasBanned: boolean; withheldBy?: string }
  | { kind: 'whitelisted' }
  | { kind: 'non-global' }
  | { kind: 'no-requests' };

export interface Why {
  state: MapState | null;
  change: ChangeKind | null;
  /** The previous block/bulk state that carried into this run, if any. */
  carried: ClientState | undefined;
  stats: ClientStats | undefined;
  reason: Reason;
}

interface PlanBase {
  /** The previous map as read. */
  previous: ReadonlyMap<string, MapState>;
  /** Malformed lines of the previous map, each naming the file and line. */
  warnings: string[];
}

/** A run that decides nothing: the map stays as it is (and is created empty when missing). */
export interface SkipPlan extends PlanBase {
  decided: false;
  skipped: string;
  /** Set when the run cannot trust what it read (unreadable, stale, changed while read): a problem, not a quiet skip. */
  problem?: Problem;
  /** Neither Apache nor nginx starts when the file it includes is missing. */
  createEmptyMap: boolean;
}

export interface DecidePlan extends PlanBase {
  decided: true;
  limits: Limits;
  /** Every address written as `ban`. */
  banned: ReadonlySet<string>;
  states: ReadonlyMap<string, MapState>;
  changes: Changes;
  /** Set when the safety valve withheld the new blocks. */
  safetyValve?: { reason: string; withheld: string[] };
  map: { content: string; changed: boolean; counts: Record<MapState, number> };
  /** The nginx geo include of the blacklist; written only where one is configured. */
  geoContent: string;
  /** Lines to append to the change log; '' when nothing changed. */
  changeLines: string;
  why(address: string): Why;
  /** Every counted client (address or network) with its statistics. */
  clients(): Iterable<[string, ClientStats]>;
}

export type Plan = SkipPlan | DecidePlan;

/** A corrupt map of a million lines must not mail a million warnings. */
const MAX_MAP_WARNINGS = 10;

type SkipInput = Pick<PlanInput, 'settings' | 'stats' | 'logBytes' | 'read' | 'now'>;

/**
 * Why a run decides nothing, or undefined when it decides; `problem` when that
 * is because it cannot trust what it read. With several logs, one that was
 * changed, unreadable or stale is enough to refuse: deciding without one
 * server's share would undercount every client and release those it keeps
 * restricted.
 */
export function nothingToDecide(input: SkipInput): { skipped: string; problem?: Problem } | undefined {
  const { settings, stats, read } = input;
  const refuse = (kind: Problem['kind'], check: (log: LogFacts) => string | undefined) => {
    const refusals = read.logs.map((log) => ({ log, message: check(log) })).filter((refusal) => refusal.message !== undefined);
    if (refusals.length === 0) return undefined;
    const others = refusals.slice(1).map((refusal) => refusal.log.logFile);
    const message = `${refusals[0].message}${others.length > 0 ? `; so is ${others.join(', ')}` : ''}`;
    return { skipped: message, problem: { kind, message } };
  };
  // A partial read would release every client whose lines were not read.
  const changed = refuse('log-changed', (log) =>
    log.changed ? `${log.logFile} ${log.changed} while it was read: nothing decided from a partial read, the map is left as it is; the next run retries` : undefined,
  );
  if (changed) return changed;
  if (!stats) {
    const what = read.logs.length > 1 ? `the ${read.logs.length} logs together are` : 'the log is';
    return { skipped: `${what} smaller than MIN_LOG_SIZE (${input.logBytes} < ${settings.MIN_LOG_SIZE} bytes): not enough data` };
  }
  // Deciding from the few lines that happen to parse would release everyone the rest would have kept restricted.
  const blind = refuse('blind', (log) => {
    const unreadable = log.linesRead > 0 ? log.garbageLines / log.linesRead : 0;
    if (!(unreadable > settings.MAX_UNREADABLE_SHARE)) return undefined;
    const [preset] = presetsReading(log.unreadableSamples);
    const hint = preset !== undefined ? `; ${formatSetting(preset)} reads them` : '';
    return (
      `${log.logFile}: ${log.garbageLines} of ${log.linesRead} lines read (${percent(unreadable)}) cannot be read as ${describeFormats(log.formats)}, ` +
      `more than MAX_UNREADABLE_SHARE ${settings.MAX_UNREADABLE_SHARE}${hint}; nothing decided, the map is left as it is` +
      (log.garbageSample ? `; a line: ${log.garbageSample}` : '')
    );
  });
  if (blind) return blind;
  const staleAfter = settings.STALE_AFTER ?? settings.BLOCKCOOLOFF_SECONDS;
  const now = Math.floor(input.now.getTime() / 1000);
  const stale = refuse('blind', (log) => {
    if (read.replay || !(staleAfter > 0) || log.newestLineTime !== log.newestLineTime || !(now - log.newestLineTime > staleAfter)) return undefined;
    const age = formatDistanceStrict(new Date(log.newestLineTime * 1000), input.now);
    return `the newest line of ${log.logFile} is ${age} old (${formatLocalTime(log.newestLineTime)}), more than STALE_AFTER ${staleAfter} s: logging stopped, or the wrong file; nothing decided, the map is left as it is`;
  });
  if (stale) return stale;
  // A wrong log or broken logging must not release every client at once.
  if (stats.linesInWindow === 0) return { skipped: 'no usable lines in the window: the map is left as it is' };
  return undefined;
}

/** The formats in force, as the operator wrote them, for messages. */
export function describeFormats(formats: readonly string[]): string {
  return formats.map((format) => (format in PRESETS ? `LOG_FORMAT '${format}'` : `the LOG_FORMAT string '${format}'`)).join(' or ');
}

function percent(share: number): string {
  return `${(100 * share).toFixed(share < 0.1 ? 1 : 0)}%`;
}

export function planRun(input: PlanInput): Plan {
  const { settings, stats } = input;
  const parsed = parseMap(input.previousMapText ?? '');
  const warnings = parsed.warnings.slice(0, MAX_MAP_WARNINGS).map((warning) => `${input.mapFile}:${warning}`);
  if (parsed.warnings.length > MAX_MAP_WARNINGS) warnings.push(`${input.mapFile}: ${parsed.warnings.length - MAX_MAP_WARNINGS} more malformed lines ignored`);
  const base: PlanBase = { previous: parsed.states, warnings };
  const nothing = nothingToDecide(input);
  if (nothing !== undefined || !stats) {
    return { ...base, decided: false, skipped: nothing?.skipped ?? '', problem: nothing?.problem, createEmptyMap: input.previousMapText === undefined };
  }
  if (input.loadAverage === undefined) throw new Error('planRun: a run that decides needs the load average');

  const previous = parsed.states;
  const banned = bannedAddresses(settings.BLACKLIST, stats.clients.listedAddresses, previous);
  let numbulks = 0;
  for (const address of previous.keys()) if (previousClientState(previous, address, banned) === 'bulk') numbulks++;
  const limits = adjustLimits(settings, input.loadAverage, stats.total200, numbulks);
  // Only the clients that can change state: a string and an object for each of 150k others cost 40-60 ms, to be skipped.
  const thresholds = restrictionThresholds(limits);
  const valve = applySafetyValve({
    decision: decideAll({ previous, clients: stats.clients.entriesOver(thresholds.longApi, thresholds.shortApi, previous.keys()), limits, blacklist: banned }),
    previous,
    longTotalOf: (address) => stats.clients.get(address)?.longTotal ?? 0,
    totalRequests: stats.linesInWindow,
    clientCount: stats.clients.size,
    maxNewBlocks: settings.MAX_NEW_BLOCKS,
    maxBlockedShare: settings.MAX_BLOCKED_SHARE,
  });
  const { states, changes } = valve.decision;
  const safetyValve = valve.tripped ? { reason: valve.tripped, withheld: valve.withheld } : undefined;
  // A whitelisted address inside a restricted network is let through by a more specific `www` line.
  const content = renderMap(states, input.format, whitelistExceptions(states, settings.WHITELIST));
  const whitelist = buildAddressList(settings.WHITELIST);

  const why = (address: string): Why => {
    const state = states.get(address) ?? null;
    const change = CHANGE_KINDS.find((kind) => changes[kind].includes(address)) ?? null;
    const carried = previousClientState(previous, address, banned);
    const clientStats = stats.clients.get(address);
    const common = { state, change, carried, stats: clientStats };
    if (state === 'ban' && banned.has(address)) return { ...common, reason: { kind: 'blacklisted' } };
    if (clientStats) {
      // The same function decideAll applies to this client, with the same inputs.
      const { rule } = decide(carried, clientStats, limits);
      const withheldBy = safetyValve?.withheld.includes(address) ? safetyValve.reason : undefined;
      return { ...common, reason: { kind: 'judged', rule, wasBanned: previous.get(address) === 'ban', withheldBy } };
    }
    // Lists are matched by address; a network key is a client of its own.
    const isAddress = !address.includes('/');
    if (isAddress && whitelist.has(address)) return { ...common, reason: { kind: 'whitelisted' } };
    if (isAddress && settings.EXCLUDE_NON_GLOBAL && isNonGlobal(address)) return { ...common, reason: { kind: 'non-global' } };
    return { ...common, reason: { kind: 'no-requests' } };
  };

  return {
    ...base,
    decided: true,
    limits,
    banned,
    states,
    changes,
    safetyValve,
    map: { content, changed: content !== input.previousMapText, counts: countStates(states) },
    geoContent: renderGeo(settings.BLACKLIST),
    changeLines: renderChangeLines(input.now, changes),
    why,
    clients: () => stats.clients.entries(),
  };
}

/**
 * The addresses written as `ban`: the blacklisted ones, and every client of
 * a blacklisted network that showed up in the window or in the previous map,
 * since a map (unlike nginx's geo) cannot hold a network.
 */
function bannedAddresses(blacklistEntries: readonly string[], listedSeen: Iterable<string>, previous: ReadonlyMap<string, MapState>): ReadonlySet<string> {
  const blacklist = buildAddressList(blacklistEntries);
  const bans = new Set(blacklist.addresses);
  if (blacklist.networks.length > 0) {
    for (const address of listedSeen) if (blacklist.has(address)) bans.add(address);
    for (const address of previous.keys()) if (blacklist.has(address)) bans.add(address);
  }
  return bans;
}
