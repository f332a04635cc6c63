/** What a simulated period comes to, for a person: transitions, flapping clients, the busiest ones, the requests restricted. Pure. */
import { CHANGE_KINDS, type ChangeKind, type MapState } from '../decide/policy.js';
import { formatLocalTime } from '../local-time.js';
import type { Simulation, StateCounts, StepRecord } from './simulation.js';

const RELEASES: readonly ChangeKind[] = ['unblocked', 'debulked'];
const RESTRICTIONS: readonly ChangeKind[] = ['new bulks', 'dir.block', 'ua block', 'new block'];

export interface Flapper {
  address: string;
  /** Times it was restricted again within the flap interval after a release. */
  flaps: number;
}

export interface BusyClient {
  address: string;
  apiRequests: number;
  /** Seconds in each state; `www` is the rest of the period. */
  seconds: StateCounts & { www: number };
}

export interface SimulationSummary {
  simulation: Simulation;
  steps: number;
  decidedSteps: number;
  /** The reasons steps decided nothing, with how many each. */
  skipped: [string, number][];
  transitions: Record<ChangeKind, number>;
  flapSteps: number;
  flappers: Flapper[];
  busiest: BusyClient[];
  /** The most clients in each state at one step. */
  peak: StateCounts;
  restrictedRequests: StateCounts;
}

export function summarize(simulation: Simulation, flapSteps: number): SimulationSummary {
  const transitions = Object.fromEntries(CHANGE_KINDS.map((kind) => [kind, 0])) as Record<ChangeKind, number>;
  const released = new Map<string, number>();
  const flaps = new Map<string, number>();
  const skipped = new Map<string, number>();
  const peak: StateCounts = { bulk: 0, block: 0, ban: 0 };
  for (const [n, step] of simulation.steps.entries()) {
    if (step.skipped !== undefined) skipped.set(step.skipped, (skipped.get(step.skipped) ?? 0) + 1);
    for (const state of ['bulk', 'block', 'ban'] as const) peak[state] = Math.max(peak[state], step.counts[state]);
    for (const kind of CHANGE_KINDS) {
      const addresses = step.changes[kind] ?? [];
      transitions[kind] += addresses.length;
      for (const address of addresses) {
        if (RELEASES.includes(kind)) released.set(address, n);
        else if (RESTRICTIONS.includes(kind)) {
          const at = released.get(address);
          if (at !== undefined && n - at <= flapSteps) flaps.set(address, (flaps.get(address) ?? 0) + 1);
          released.delete(address);
        }
      }
    }
  }
  const period = simulation.steps.length * simulation.every;
  const busiest = simulation.busiest.map(({ address, apiRequests }) => {
    const spent = simulation.timeInState.get(address) ?? { bulk: 0, block: 0, ban: 0 };
    return { address, apiRequests, seconds: { ...spent, www: period - spent.bulk - spent.block - spent.ban } };
  });
  return {
    simulation,
    steps: simulation.steps.length,
    decidedSteps: simulation.steps.filter((step) => step.decided).length,
    skipped: [...skipped].sort((a, b) => b[1] - a[1]),
    transitions,
    flapSteps,
    flappers: [...flaps].map(([address, count]) => ({ address, flaps: count })).sort((a, b) => b.flaps - a.flaps || (a.address < b.address ? -1 : 1)),
    busiest,
    peak,
    restrictedRequests: simulation.restrictedRequests,
  };
}

/** One step as a JSON line: its time, clients per state, the changes by kind, the limits in force. */
export function renderStepJson(step: StepRecord, settings?: string): string {
  const { time, ...rest } = step;
  return `${JSON.stringify({ ...(settings === undefined ? {} : { settings }), time: formatLocalTime(time), epoch: time, ...rest })}\n`;
}

function duration(seconds: number): string {
  if (seconds === 0) return '-';
  const minutes = Math.round(seconds / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min` : `${minutes} min`;
}

const STATE_WORDS: Record<MapState, string> = { bulk: 'throttled (bulk)', block: 'refused (block)', ban: 'banned (ban)' };

export function renderSummaryText(summary: SimulationSummary): string {
  const sim = summary.simulation;
  const lines = [
    `Simulated ${formatLocalTime(sim.from)} to ${formatLocalTime(sim.to)}, every ${duration(sim.every)}: ${summary.steps} steps, ${summary.decidedSteps} decided.`,
  ];
  for (const [reason, count] of summary.skipped) lines.push(`  ${count} steps decided nothing: ${reason}`);
  lines.push('', 'Transitions:');
  for (const kind of CHANGE_KINDS) lines.push(`  ${kind.padEnd(10)} ${summary.transitions[kind]}`);
  lines.push('', `Most clients at once: ${summary.peak.bulk} bulk, ${summary.peak.block} block, ${summary.peak.ban} ban.`);
  lines.push('', 'API requests that would have been:');
  for (const state of ['bulk', 'block', 'ban'] as const) lines.push(`  ${STATE_WORDS[state].padEnd(17)} ${summary.restrictedRequests[state]}`);
  lines.push('', `Clients that flapped (released and restricted again within ${summary.flapSteps} steps): ${summary.flappers.length}`);
  for (const flapper of summary.flappers.slice(0, 10)) lines.push(`  ${flapper.address}  ${flapper.flaps} times`);
  lines.push('', 'Busiest clients (API requests; time as www, bulk, block, ban):');
  for (const client of summary.busiest) {
    const { www, bulk, block, ban } = client.seconds;
    lines.push(`  ${client.address.padEnd(39)} ${String(client.apiRequests).padStart(8)}   ${[www, bulk, block, ban].map(duration).join(' / ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Two settings over the same period, side by side. */
export function renderComparison(summaries: readonly [SimulationSummary, SimulationSummary], names: readonly string[]): string {
  const [a, b] = summaries;
  const rows: [string, string | number, string | number][] = [
    ['steps decided', a.decidedSteps, b.decidedSteps],
    ...CHANGE_KINDS.map((kind): [string, number, number] => [kind, a.transitions[kind], b.transitions[kind]]),
    ['most bulk at once', a.peak.bulk, b.peak.bulk],
    ['most block at once', a.peak.block, b.peak.block],
    ['most ban at once', a.peak.ban, b.peak.ban],
    ...(['bulk', 'block', 'ban'] as const).map((state): [string, number, number] => [`API requests ${STATE_WORDS[state]}`, a.restrictedRequests[state], b.restrictedRequests[state]]),
    ['clients that flapped', a.flappers.length, b.flappers.length],
  ];
  const width = Math.max(12, ...names.map((name) => name.length));
  const lines = [`Simulated ${formatLocalTime(a.simulation.from)} to ${formatLocalTime(a.simulation.to)} under two settings:`, '', `${''.padEnd(34)} ${names[0].padStart(width)}  ${names[1].padStart(width)}`];
  for (const [label, left, right] of rows) lines.push(`${label.padEnd(34)} ${String(left).padStart(width)}  ${String(right).padStart(width)}${left === right ? '' : '  *'}`);
  const restricted = (summary: SimulationSummary) => new Set([...summary.simulation.timeInState.keys()]);
  const onlyA = [...restricted(a)].filter((address) => !restricted(b).has(address));
  const onlyB = [...restricted(b)].filter((address) => !restricted(a).has(address));
  lines.push('', `Restricted only under ${names[0]}: ${onlyA.length}${list(onlyA)}`, `Restricted only under ${names[1]}: ${onlyB.length}${list(onlyB)}`);
  return `${lines.join('\n')}\n`;
}

function list(addresses: string[]): string {
  return addresses.length === 0 ? '' : ` (${addresses.slice(0, 8).join(', ')}${addresses.length > 8 ? ', ...' : ''})`;
}
