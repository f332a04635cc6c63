/**
 * What the original cron script decides on a generated log (`predictRun`).
 * The original positions its window start only to within a few lines and
 * counts the first line after the short-window start as long-only;
 * `predictRun` refuses (throws) whenever a client's counts come close enough
 * to a limit for that imprecision to matter, so a scenario that passes it has
 * one right answer that an exact implementation must also find.
 */

import { CHANGE_KINDS, type ChangeKind, type MapState } from '../../src/decide/policy.js';
import type { Settings } from '../../src/settings/settings.js';
import {
  API_FLAG,
  type GeneratedLog,
  NO_USER_AGENT_FLAG,
  STATUS_200_FLAG,
  type ScenarioConfig,
  formatStartDate,
  linesWrittenBy,
} from './log-generator.js';

/**
 * The settings both tools get (the windows stay at their defaults, 1 h and
 * 15 min). The names and vocabulary are shared with src/; the prediction
 * below stays an independent reading of the original, never a call into it.
 */
export type PolicySettings = Pick<
  Settings,
  'BULKLONG_LIMIT' | 'BULKSHORT_LIMIT' | 'BLOCK_UPPER' | 'BLOCK_LOWER' | 'BLOCK_LOADFAC' | 'BULK_LOADFAC' | 'BULK_LOWER' | 'MAX_BULK_IPS' | 'WHITELIST' | 'BLACKLIST'
>;

export { CHANGE_KINDS, type ChangeKind, type MapState };

export interface PredictedRun {
  map: Map<string, MapState>;
  /** As the original logs them: releases of clients absent from the window are not logged. */
  changes: Record<ChangeKind, string[]>;
}

/** A scenario puts some client too close to a limit for the original's imprecise window edges. */
export class AmbiguousScenarioError extends Error {
  override name = 'AmbiguousScenarioError';
}

const LONG_WINDOW = 3600;
const SHORT_WINDOW = 900;

/**
 * How far from a window edge (seconds) the original may misplace a line.
 * It either stops its search on a line within 1 s of the target or between
 * two lines under 500 bytes apart, then reads on in file order; a line
 * written out of order is at most `lateness` older than its neighbours, and
 * the timestamps lose up to a second to truncation.
 */
function edgeUncertainty(lateness: number): number {
  return Math.ceil(lateness) + 4;
}

interface Range {
  low: number;
  high: number;
}

interface WindowCounts {
  longTotal: Range;
  longApi: Range;
  shortTotal: Range;
  shortApi: Range;
  /** Lines without a user agent in the long window. */
  noUserAgent: Range;
}

/** Margin kept from every limit on top of the edge uncertainty: "clearly" above or below. */
function marginFor(limit: number): number {
  return Math.max(2, Math.ceil(limit * 0.03));
}

/**
 * Predicts the original's map and change log for a run at instant `at` with
 * STARTDATE `at - 1h`, from the previous map. Throws AmbiguousScenarioError
 * when the original's imprecise window edges could tip a decision.
 */
export function predictRun(
  log: GeneratedLog,
  config: ScenarioConfig,
  settings: PolicySettings,
  previous: ReadonlyMap<string, MapState>,
  at: number,
  loadAverage15: number,
): PredictedRun {
  const longStart = at - LONG_WINDOW;
  const shortStart = at - SHORT_WINDOW;
  const fuzz = edgeUncertainty(config.maxLatenessSeconds);
  const n = config.clients.length;
  // exact counts, then the lines near an edge, whose side the original may get wrong
  const longTotal = new Int32Array(n), longApi = new Int32Array(n), shortTotal = new Int32Array(n), shortApi = new Int32Array(n);
  const longEdgeTotal = new Int32Array(n), longEdgeApi = new Int32Array(n), shortEdgeTotal = new Int32Array(n), shortEdgeApi = new Int32Array(n);
  const noUa = new Int32Array(n), noUaEdge = new Int32Array(n);
  let total200 = 0;
  let total200Edge = 0;

  const end = linesWrittenBy(log, at);
  // A line is written no earlier than the second it carries.
  const first = linesWrittenBy(log, longStart - fuzz - 1);
  for (let i = first; i < end; i++) {
    const t = log.loggedAt[i];
    if (t < longStart - fuzz) continue;
    const c = log.client[i];
    const f = log.flags[i];
    const api = (f & API_FLAG) !== 0 ? 1 : 0;
    if (Math.abs(t - longStart) <= fuzz) {
      longEdgeTotal[c]++;
      longEdgeApi[c] += api;
      if (f & NO_USER_AGENT_FLAG) noUaEdge[c]++;
    }
    if (Math.abs(t - shortStart) <= fuzz) {
      shortEdgeTotal[c]++;
      shortEdgeApi[c] += api;
      if (api && f & STATUS_200_FLAG) total200Edge++;
    }
    if (t < longStart) continue;
    longTotal[c]++;
    longApi[c] += api;
    if (f & NO_USER_AGENT_FLAG) noUa[c]++;
    if (t > shortStart) {
      shortTotal[c]++;
      shortApi[c] += api;
      if (api && f & STATUS_200_FLAG) total200++;
    }
  }

  const range = (exact: number, edge: number): Range => ({ low: Math.max(0, exact - edge), high: exact + edge });
  const when = formatStartDate(at);
  const blacklist = new Set(settings.BLACKLIST);
  const notCounted = new Set([...settings.WHITELIST, ...settings.BLACKLIST]);

  const exceeds = (who: string, what: string, value: Range, limit: Range): boolean => {
    const margin = marginFor(limit.low);
    if (value.low > limit.high + margin) return true;
    if (value.high <= limit.low - margin) return false;
    throw new AmbiguousScenarioError(
      `run at ${when}: ${who} ${what} is ${value.low}..${value.high}, within ${margin} of the limit ${limit.low === limit.high ? limit.low : `${limit.low}..${limit.high}`}`,
    );
  };
  const fewerThan5 = (who: string, what: string, value: Range): boolean => {
    if (value.high < 5 - 2) return true;
    if (value.low >= 5 + 2) return false;
    throw new AmbiguousScenarioError(`run at ${when}: ${who} ${what} is ${value.low}..${value.high}, too close to the release threshold 5`);
  };
  const fixed = (value: number): Range => ({ low: value, high: value });

  // Limits, as the original adapts them (its lines 303-316).
  let numbulks = 0;
  for (const [address, state] of previous) if (state === 'bulk' && !blacklist.has(address)) numbulks++;
  const cpuload = Math.trunc(loadAverage15);
  const blockLimitFor = (t200: number): number => {
    let limit = Math.max(settings.BLOCK_LOWER, settings.BLOCK_UPPER - settings.BLOCK_LOADFAC * (t200 / SHORT_WINDOW - 75));
    if (numbulks > settings.MAX_BULK_IPS) limit = Math.max(3600, settings.BLOCK_LOWER - (numbulks - settings.MAX_BULK_IPS) * 10);
    if (numbulks < 10) limit = 2 * settings.BLOCK_UPPER;
    return limit;
  };
  const t200 = range(total200, total200Edge);
  const blockLimitA = blockLimitFor(t200.low);
  const blockLimitB = blockLimitFor(t200.high);
  const blockLimit: Range = { low: Math.min(blockLimitA, blockLimitB), high: Math.max(blockLimitA, blockLimitB) };
  const blockLimitThird: Range = { low: blockLimit.low / 3, high: blockLimit.high / 3 };
  const bulkLongLimit = fixed(Math.max(settings.BULK_LOWER, settings.BULKLONG_LIMIT - settings.BULK_LOADFAC * (cpuload - 14)));
  const blockUpper = fixed(settings.BLOCK_UPPER);
  const blockUpperThird = fixed(settings.BLOCK_UPPER / 3);
  const bulkShortLimit = fixed(settings.BULKSHORT_LIMIT);

  const map = new Map<string, MapState>();
  const changes: Record<ChangeKind, string[]> = { unblocked: [], debulked: [], 'new bulks': [], 'dir.block': [], 'ua block': [], 'new block': [] };
  for (let c = 0; c < n; c++) {
    const client = config.clients[c];
    if (notCounted.has(client.address)) continue;
    const counts: WindowCounts = {
      longTotal: range(longTotal[c], longEdgeTotal[c]),
      longApi: range(longApi[c], longEdgeApi[c]),
      shortTotal: range(shortTotal[c], shortEdgeTotal[c]),
      shortApi: range(shortApi[c], shortEdgeApi[c]),
      noUserAgent: range(noUa[c], noUaEdge[c]),
    };
    if (counts.longTotal.high === 0) continue; // no statistics at all
    const who = `${client.label} (${client.address})`;
    if (counts.longTotal.low === 0) {
      // Whether it has statistics at all is up to the edge; harmless only if nothing could follow from them
      // (a release of a client without statistics goes unlogged, one with statistics is logged).
      if (previous.has(client.address) || counts.longTotal.high >= 3) {
        throw new AmbiguousScenarioError(`run at ${when}: ${who} has ${counts.longTotal.high} requests, all at the window's edge`);
      }
    }
    const was = blacklist.has(client.address) ? undefined : previous.get(client.address);
    const wasBlocked = was === 'block';
    const wasBulked = was === 'bulk';
    let state: 'bulk' | 'block' | 'uablock' | 'emblock' | undefined;
    if (wasBlocked) {
      state = fewerThan5(who, 'long_total', counts.longTotal) ? undefined : 'block';
    } else if (exceeds(who, 'long_api', counts.longApi, blockUpper) || exceeds(who, 'short_api', counts.shortApi, blockUpperThird)) {
      state = 'block';
    } else if (wasBulked) {
      if (fewerThan5(who, 'short_total', counts.shortTotal)) state = undefined;
      else if (exceeds(who, 'long_api', counts.longApi, blockLimit) || exceeds(who, 'short_api', counts.shortApi, blockLimitThird)) state = 'emblock';
      else state = 'bulk';
    } else if (exceeds(who, 'long_api', counts.longApi, bulkLongLimit) || exceeds(who, 'short_api', counts.shortApi, bulkShortLimit)) {
      if (counts.noUserAgent.low > 0) state = 'uablock';
      else if (counts.noUserAgent.high === 0) state = 'bulk';
      else throw new AmbiguousScenarioError(`run at ${when}: ${who} sent no user agent only at the window's edge`);
    }

    if (state === undefined) {
      if (wasBlocked) changes.unblocked.push(client.address);
      else if (wasBulked) changes.debulked.push(client.address);
      continue;
    }
    if (state === 'uablock') changes['ua block'].push(client.address);
    else if (state === 'emblock') changes['dir.block'].push(client.address);
    else if (state === 'block' && !wasBlocked) changes['new block'].push(client.address);
    else if (state === 'bulk' && !wasBulked) changes['new bulks'].push(client.address);
    map.set(client.address, state === 'bulk' ? 'bulk' : 'block');
  }
  for (const address of settings.BLACKLIST) map.set(address, 'ban');
  for (const kind of CHANGE_KINDS) changes[kind].sort();
  return { map, changes };
}
