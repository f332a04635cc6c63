/**
 * Everything a run decides, from plain values: the previous map's text, the
 * window's statistics, the settings, the load average and the clock. Pure.
 * The run applies the plan (writes what it says); `explain` asks it why.
 */
import { buildAddressList, isNonGlobal } from '../address/address-list.js';
import type { ClientStats, WindowStats } from '../read/window-stats.js';
import type { Settings } from '../settings/settings.js';
import { renderChangeLines } from '../write/change-log.js';
import { type MapFormat, countStates, parseMap, renderGeo, renderMap } from '../write/map-file.js';
import { type Limits, adjustLimits } from './limits.js';
import { type ChangeKind, type Changes, type ClientState, type MapState, CHANGE_KINDS, applySafetyValve, decide, decideAll, previousClientState } from './policy.js';

export interface PlanInput {
  settings: Settings;
  /** undefined when the log is smaller than MIN_LOG_SIZE: nothing was read. */
  stats: WindowStats | undefined;
  logBytes: number;
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
}

export type Plan = SkipPlan | DecidePlan;

/** A corrupt map of a million lines must not mail a million warnings. */
const MAX_MAP_WARNINGS = 10;

/** Why a run with this read decides nothing, or undefined when it decides. */
export function nothingToDecide(settings: Pick<Settings, 'MIN_LOG_SIZE'>, stats: WindowStats | undefined, logBytes: number): string | undefined {
  if (!stats) return `the log is smaller than MIN_LOG_SIZE (${logBytes} < ${settings.MIN_LOG_SIZE} bytes): not enough data`;
  // A wrong log or broken logging must not release every client at once.
  if (stats.linesInWindow === 0) return 'no usable lines in the window: the map is left as it is';
  return undefined;
}

export function planRun(input: PlanInput): Plan {
  const { settings, stats } = input;
  const parsed = parseMap(input.previousMapText ?? '');
  const warnings = parsed.warnings.slice(0, MAX_MAP_WARNINGS).map((warning) => `${input.mapFile}:${warning}`);
  if (parsed.warnings.length > MAX_MAP_WARNINGS) warnings.push(`${input.mapFile}: ${parsed.warnings.length - MAX_MAP_WARNINGS} more malformed lines ignored`);
  const base: PlanBase = { previous: parsed.states, warnings };
  const skipped = nothingToDecide(settings, stats, input.logBytes);
  if (skipped !== undefined || !stats) {
    return { ...base, decided: false, skipped: skipped ?? '', createEmptyMap: input.previousMapText === undefined };
  }
  if (input.loadAverage === undefined) throw new Error('planRun: a run that decides needs the load average');

  const previous = parsed.states;
  const banned = bannedAddresses(settings.BLACKLIST, stats.clients.listedAddresses, previous);
  let numbulks = 0;
  for (const address of previous.keys()) if (previousClientState(previous, address, banned) === 'bulk') numbulks++;
  const limits = adjustLimits(settings, input.loadAverage, stats.total200, numbulks);
  const valve = applySafetyValve({
    decision: decideAll({ previous, clients: stats.clients.entries(), limits, blacklist: banned }),
    previous,
    longTotalOf: (address) => stats.clients.get(address)?.longTotal ?? 0,
    totalRequests: stats.linesInWindow,
    clientCount: stats.clients.size,
    maxNewBlocks: settings.MAX_NEW_BLOCKS,
    maxBlockedShare: settings.MAX_BLOCKED_SHARE,
  });
  const { states, changes } = valve.decision;
  const safetyValve = valve.tripped ? { reason: valve.tripped, withheld: valve.withheld } : undefined;
  const content = renderMap(states, input.format);
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
    if (whitelist.has(address)) return { ...common, reason: { kind: 'whitelisted' } };
    if (settings.EXCLUDE_NON_GLOBAL && isNonGlobal(address)) return { ...common, reason: { kind: 'non-global' } };
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
