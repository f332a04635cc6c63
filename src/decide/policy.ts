/**
 * The bulk / block / ban state machine (SPEC "The state machine"; the
 * original's IPstats.new_state and its main loop). Pure.
 */
import { compareAddresses } from '../address/ip-address.js';
import type { Limits } from './limits.js';
import { formatNumber } from './limits.js';
import type { ClientStats } from '../read/window-stats.js';

export type ClientState = 'bulk' | 'block';
export type MapState = ClientState | 'ban';

/** The change-log categories, in the order and spelling the original writes them. */
export const CHANGE_KINDS = ['unblocked', 'debulked', 'new bulks', 'dir.block', 'ua block', 'new block'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface Verdict {
  state: ClientState | undefined;
  change: ChangeKind | undefined;
  /** The rule that decided, in plain words, for `explain` and the verbose summary. */
  rule: string;
}

const RELEASE_BELOW = 5;

/**
 * The API requests in the long and in the short window up to which neither
 * "blocked outright" nor "bulk" applies: decide() then gives a client without
 * a previous state no state.
 */
export function restrictionThresholds(limits: Limits): { longApi: number; shortApi: number } {
  return { longApi: Math.min(limits.blockUpper, limits.bulkLongLimit), shortApi: Math.min(limits.blockUpper / 3, limits.bulkShortLimit) };
}

/** Decides one client's next state from its previous state and its window statistics. */
export function decide(previous: ClientState | undefined, stats: ClientStats, limits: Limits): Verdict {
  const n = formatNumber;
  if (previous === 'block') {
    // Release only the really quiet ones: this catches clients that ignore the HTTP error.
    if (stats.longTotal < RELEASE_BELOW) {
      return { state: undefined, change: 'unblocked', rule: `was blocked and made only ${stats.longTotal} requests in the long window (fewer than ${RELEASE_BELOW}): released` };
    }
    return { state: 'block', change: undefined, rule: `was blocked and still made ${stats.longTotal} requests in the long window (${RELEASE_BELOW} or more): stays blocked` };
  }
  if (stats.longApi > limits.blockUpper || stats.shortApi > limits.blockUpper / 3) {
    return {
      state: 'block',
      change: 'new block',
      rule: `${stats.longApi} API requests in the long window / ${stats.shortApi} in the short window exceed BLOCK_UPPER ${n(limits.blockUpper)} / ${n(limits.blockUpper / 3)}: blocked outright`,
    };
  }
  if (previous === 'bulk') {
    if (stats.shortTotal < RELEASE_BELOW) {
      return { state: undefined, change: 'debulked', rule: `was bulk and made only ${stats.shortTotal} requests in the short window (fewer than ${RELEASE_BELOW}): released` };
    }
    if (stats.longApi > limits.blockLimit || stats.shortApi > limits.blockLimit / 3) {
      return {
        state: 'block',
        change: 'dir.block',
        rule: `was bulk and still hammering: ${stats.longApi} / ${stats.shortApi} API requests exceed the block limit ${n(limits.blockLimit)} / ${n(limits.blockLimit / 3)} (${limits.blockLimitReason}): blocked`,
      };
    }
    return {
      state: 'bulk',
      change: undefined,
      rule: `was bulk, still active (${stats.shortTotal} requests in the short window) and within the block limit ${n(limits.blockLimit)} / ${n(limits.blockLimit / 3)}: stays bulk`,
    };
  }
  if (stats.longApi > limits.bulkLongLimit || stats.shortApi > limits.bulkShortLimit) {
    const over = `${stats.longApi} / ${stats.shortApi} API requests exceed the bulk limits ${n(limits.bulkLongLimit)} / ${n(limits.bulkShortLimit)}`;
    if (stats.badUa) {
      return { state: 'block', change: 'ua block', rule: `${over}, with no or a blocklisted user agent: blocked` };
    }
    return { state: 'bulk', change: 'new bulks', rule: `${over}: moved to the bulk pool` };
  }
  return {
    state: undefined,
    change: undefined,
    rule: `${stats.longApi} / ${stats.shortApi} API requests are within the bulk limits ${n(limits.bulkLongLimit)} / ${n(limits.bulkShortLimit)}: no restriction`,
  };
}

export type Changes = Record<ChangeKind, string[]>;

export interface Decision {
  /** The whole new map: address to state. */
  states: Map<string, MapState>;
  changes: Changes;
}

export interface DecideAllInput {
  /** The previous map, as read (may contain addresses that are now listed). */
  previous: ReadonlyMap<string, MapState>;
  /**
   * Every client, or at least every one that can change state: those of
   * `previous` and those over restrictionThresholds (the others get no state
   * and no change either way).
   */
  clients: Iterable<[string, ClientStats]>;
  limits: Limits;
  /** Every address written as `ban`. */
  blacklist: ReadonlySet<string>;
}

/** Previous block/bulk states that carry over: blacklisted addresses are bans, never blocks. */
export function previousClientState(previous: ReadonlyMap<string, MapState>, address: string, blacklist: ReadonlySet<string>): ClientState | undefined {
  const state = previous.get(address);
  return state === 'ban' || blacklist.has(address) ? undefined : state;
}

/** Runs the state machine over every client and builds the new map and the change-log entries. */
export function decideAll(input: DecideAllInput): Decision {
  const blacklist = input.blacklist;
  const states = new Map<string, MapState>();
  const changes: Changes = { unblocked: [], debulked: [], 'new bulks': [], 'dir.block': [], 'ua block': [], 'new block': [] };
  // Only addresses of the previous map are looked up again: a set of every
  // client would cost a flood of spoofed addresses a hundred megabytes.
  const seenBefore = new Set<string>();
  const within = restrictionThresholds(input.limits);
  for (const [address, stats] of input.clients) {
    if (input.previous.has(address)) seenBefore.add(address);
    const previous = previousClientState(input.previous, address, blacklist);
    // Nearly every client is a free one far below every limit: skip building its verdict.
    if (previous === undefined && stats.longApi <= within.longApi && stats.shortApi <= within.shortApi) continue;
    const verdict = decide(previous, stats, input.limits);
    if (verdict.state) states.set(address, verdict.state);
    if (verdict.change) changes[verdict.change].push(address);
  }
  // The original drops these silently; an operator wants to see every release.
  for (const [address, state] of input.previous) {
    if (seenBefore.has(address) || state === 'ban' || blacklist.has(address)) continue;
    changes[state === 'block' ? 'unblocked' : 'debulked'].push(address);
  }
  for (const address of blacklist) states.set(address, 'ban');
  for (const kind of CHANGE_KINDS) changes[kind].sort(compareAddresses);
  return { states, changes };
}

const NEWLY_BLOCKING: readonly ChangeKind[] = ['new block', 'ua block', 'dir.block'];

export interface SafetyValveInput {
  decision: Decision;
  previous: ReadonlyMap<string, MapState>;
  /** Requests per client in the long window, for the share check. */
  longTotalOf: (address: string) => number;
  /** All requests in the long window, every client. */
  totalRequests: number;
  /** Clients with statistics in the window (neither listed nor excluded). */
  clientCount: number;
  maxNewBlocks: number;
  maxBlockedShare: number;
}

export interface SafetyValveResult {
  decision: Decision;
  /** Why the valve closed; undefined when the decision stands as it was. */
  tripped?: string;
  withheld: string[];
}

/**
 * Behind a proxy or load balancer whose address replaced everyone's, the log
 * holds that address and at most a stray health check or monitor besides. A
 * lone abuser on a small site still sits among more normal clients than this.
 */
const PROXY_MAX_OTHER_CLIENTS = 4;

/**
 * Withholds every new block when the new blocks look like a broken input
 * rather than abuse: too many at once, or one "client" making nearly all the
 * traffic from almost no other clients (a proxy or load balancer whose
 * address replaced everyone's). A withheld client is throttled instead: it
 * becomes (or stays) bulk. Everything else stands.
 */
export function applySafetyValve(input: SafetyValveInput): SafetyValveResult {
  const { decision } = input;
  const newBlocks = NEWLY_BLOCKING.flatMap((kind) => decision.changes[kind]);
  let tripped: string | undefined;
  if (newBlocks.length > input.maxNewBlocks) {
    tripped = `${newBlocks.length} clients would newly be blocked, more than MAX_NEW_BLOCKS ${input.maxNewBlocks}`;
  } else if (input.maxBlockedShare < 1 && input.totalRequests > 0 && input.clientCount - 1 <= PROXY_MAX_OTHER_CLIENTS) {
    const dominant = newBlocks.find((address) => input.longTotalOf(address) / input.totalRequests > input.maxBlockedShare);
    if (dominant !== undefined) {
      const share = Math.round((100 * input.longTotalOf(dominant)) / input.totalRequests);
      const others = input.clientCount - 1;
      tripped = `${dominant} made ${share}% of all requests in the window, more than MAX_BLOCKED_SHARE ${input.maxBlockedShare}, beside only ${others} other client${others === 1 ? '' : 's'}: a proxy or load balancer address, not a client?`;
    }
  }
  if (!tripped) return { decision, withheld: [] };
  const states = new Map(decision.states);
  const changes = { ...decision.changes, 'new bulks': [...decision.changes['new bulks']] };
  for (const address of newBlocks) {
    states.set(address, 'bulk');
    if (input.previous.get(address) !== 'bulk') changes['new bulks'].push(address);
  }
  changes['new bulks'].sort(compareAddresses);
  for (const kind of NEWLY_BLOCKING) changes[kind] = [];
  return { decision: { states, changes }, tripped, withheld: newBlocks };
}
