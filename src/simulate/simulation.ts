/**
 * Cron's job at every step of a past period, in one pass: the window slides
 * over the period's lines and each step is decided by planRun, the function
 * a run calls, from the map the step before left. Pure.
 */
import { type Plan, planRun } from '../decide/plan.js';
import { CHANGE_KINDS, type ChangeKind, type MapState } from '../decide/policy.js';
import type { Limits } from '../decide/limits.js';
import type { Settings } from '../settings/settings.js';
import { type MapFormat, countStates } from '../write/map-file.js';
import { FLAG_API, KIND_CLIENT, KIND_LISTED, type PeriodLines } from './period-lines.js';
import { SlidingWindow } from './sliding-window.js';

export interface SimulationInput {
  settings: Settings;
  lines: PeriodLines;
  /** Client addresses (keys) by the index the reader gave them. */
  addresses: readonly string[];
  garbageSamples: string[];
  logBytes: number;
  logFile: string;
  mapFile: string;
  format: MapFormat;
  /** Epoch seconds: the first and last step's clock, and the step. */
  from: number;
  to: number;
  every: number;
  disorder: number;
  loadAverageAt: (time: number) => number;
  /** The map before the first step; undefined: none. */
  previousMapText: string | undefined;
  /** How many clients get a series of their own (the busiest by API requests in the period). */
  busiest?: number;
  onStep?: (done: number, total: number) => void;
  /** Told every step's plan and the map text it started from (the equality test compares them with runs). */
  onPlan?: (time: number, plan: Plan, previousMapText: string | undefined) => void;
}

export type StateCounts = Record<MapState, number>;

export interface StepRecord {
  /** Epoch seconds. */
  time: number;
  decided: boolean;
  skipped?: string;
  /** Clients counted in the window. */
  clients: number;
  counts: StateCounts;
  /** The kinds that happened at this step, with their addresses. */
  changes: Partial<Record<ChangeKind, string[]>>;
  limits?: Pick<Limits, 'loadAverage' | 'dbload' | 'numbulks' | 'bulkLongLimit' | 'bulkShortLimit' | 'blockLimit' | 'blockUpper'>;
}

export interface ClientSeries {
  address: string;
  /** API requests in the period. */
  apiRequests: number;
  /** Per step: API requests in the long and the short window, and the state (null: free) the step gave it. */
  longApi: number[];
  shortApi: number[];
  states: (MapState | null)[];
}

export interface Simulation {
  from: number;
  to: number;
  every: number;
  steps: StepRecord[];
  busiest: ClientSeries[];
  /** API requests that arrived while their client was bulk (throttled), block (refused) or ban (banned), by the map in force. */
  restrictedRequests: StateCounts;
  /** Seconds each client spent in each state, for the restricted ones. */
  timeInState: Map<string, StateCounts>;
  /** The map after the last step. */
  finalMap: string | undefined;
}

const RESTRICTED: readonly MapState[] = ['bulk', 'block', 'ban'];
const STATE_CODE: Record<MapState, number> = { bulk: 1, block: 2, ban: 3 };

export function stepTimes(from: number, to: number, every: number): number[] {
  const times: number[] = [];
  for (let t = from; t <= to; t += every) times.push(t);
  return times;
}

export function simulate(input: SimulationInput): Simulation {
  const { settings, lines } = input;
  const window = new SlidingWindow(lines, input.addresses, { long: settings.BLOCKCOOLOFF_SECONDS, short: settings.BULKCOOLOFF_SECONDS, disorder: input.disorder }, input.garbageSamples);
  const busiest = busiestClients(lines, input.addresses.length, input.from - settings.BLOCKCOOLOFF_SECONDS, input.to, input.busiest ?? 8).map(
    ({ index, apiRequests }): ClientSeries & { index: number } => ({ index, address: input.addresses[index], apiRequests, longApi: [], shortApi: [], states: [] }),
  );
  // The state the map in force gives each client and listed address, to count the requests it restricts.
  const clientState = new Uint8Array(input.addresses.length);
  const listedState = new Uint8Array(lines.listed.length);
  const listedIndex = new Map(lines.listed.map((address, i) => [address, i]));
  let restrictedClients: number[] = [];
  let restrictedListed: number[] = [];
  const restrictedRequests: StateCounts = { bulk: 0, block: 0, ban: 0 };
  const timeInState = new Map<string, StateCounts>();
  const steps: StepRecord[] = [];
  const times = stepTimes(input.from, input.to, input.every);
  let previousMapText = input.previousMapText;
  const codeState = (code: number): MapState => RESTRICTED[code - 1];

  const tooSmall = input.logBytes < settings.MIN_LOG_SIZE;
  for (const [n, time] of times.entries()) {
    const stats = window.moveTo(time);
    if (n > 0) {
      const { flags, kinds, clients } = lines;
      for (let line = window.enteredFrom; line < window.enteredTo; line++) {
        if (!(flags[line] & FLAG_API)) continue;
        const kind = kinds[line];
        const code = kind === KIND_CLIENT ? clientState[clients[line]] : kind === KIND_LISTED ? listedState[clients[line]] : 0;
        if (code > 0) restrictedRequests[codeState(code)]++;
      }
    }
    const plan = planRun({
      settings,
      stats: tooSmall ? undefined : stats,
      logBytes: input.logBytes,
      read: {
        replay: false,
        logs: [
          {
            logFile: input.logFile,
            formats: settings.LOG_FORMAT,
            newestLineTime: stats.newestLineTime,
            unreadableSamples: [],
            linesRead: stats.linesRead,
            garbageLines: stats.garbageLines,
            garbageSample: stats.garbageSamples[0],
          },
        ],
      },
      previousMapText,
      mapFile: input.mapFile,
      loadAverage: input.loadAverageAt(time),
      now: new Date(time * 1000),
      format: input.format,
    });
    input.onPlan?.(time, plan, previousMapText);
    const inForce = plan.decided ? plan.states : plan.previous;
    const record: StepRecord = { time, decided: plan.decided, clients: stats.clients.size, counts: plan.decided ? plan.map.counts : countStates(plan.previous), changes: {} };
    if (plan.decided) {
      for (const kind of CHANGE_KINDS) if (plan.changes[kind].length > 0) record.changes[kind] = plan.changes[kind];
      const { loadAverage, dbload, numbulks, bulkLongLimit, bulkShortLimit, blockLimit, blockUpper } = plan.limits;
      record.limits = { loadAverage, dbload, numbulks, bulkLongLimit, bulkShortLimit, blockLimit, blockUpper };
      previousMapText = plan.map.content;
      for (const i of restrictedClients) clientState[i] = 0;
      for (const i of restrictedListed) listedState[i] = 0;
      restrictedClients = [];
      restrictedListed = [];
      for (const [address, state] of plan.states) {
        const client = window.clients.index(address);
        if (client >= 0) {
          clientState[client] = STATE_CODE[state];
          restrictedClients.push(client);
        } else {
          const listed = listedIndex.get(address);
          if (listed !== undefined) {
            listedState[listed] = STATE_CODE[state];
            restrictedListed.push(listed);
          }
        }
      }
    } else {
      record.skipped = plan.skipped;
      // A run that decides nothing creates the missing map empty, which the next run then reads.
      if (plan.createEmptyMap) previousMapText = '';
    }
    for (const [address, state] of inForce) {
      let spent = timeInState.get(address);
      if (!spent) timeInState.set(address, (spent = { bulk: 0, block: 0, ban: 0 }));
      spent[state] += input.every;
    }
    for (const client of busiest) {
      client.longApi.push(window.clients.longApi(client.index));
      client.shortApi.push(window.clients.shortApi(client.index));
      client.states.push(inForce.get(client.address) ?? null);
    }
    steps.push(record);
    input.onStep?.(n + 1, times.length);
  }
  return {
    from: input.from,
    to: input.to,
    every: input.every,
    steps,
    busiest: busiest.map(({ index: _index, ...series }) => series),
    restrictedRequests,
    timeInState,
    finalMap: previousMapText,
  };
}

/** The clients with the most API requests from `from` to `to`, most first. */
function busiestClients(lines: PeriodLines, clientCount: number, from: number, to: number, count: number): { index: number; apiRequests: number }[] {
  const api = new Int32Array(clientCount);
  const { kinds, flags, times, clients } = lines;
  for (let i = 0; i < lines.count; i++) {
    if (kinds[i] === KIND_CLIENT && flags[i] & FLAG_API && times[i] >= from && times[i] <= to) api[clients[i]]++;
  }
  // The leaders so far, kept sorted; a client enters only when it beats the last.
  const top: number[] = [];
  const before = (a: number, b: number) => api[b] - api[a] || a - b;
  for (let i = 0; i < clientCount; i++) {
    if (api[i] === 0 || (top.length === count && before(i, top[count - 1]) > 0)) continue;
    top.push(i);
    top.sort(before);
    if (top.length > count) top.pop();
  }
  return top.map((index) => ({ index, apiRequests: api[index] }));
}
