/** `status`: the current map and the end of the change log, summarised for an operator. Pure. */
import { formatDistance } from 'date-fns/formatDistance';
import { compareAddresses } from '../address/ip-address.js';
import { countStates, parseMap } from '../write/map-file.js';
import type { MapState } from '../decide/policy.js';
import { formatLocalTime } from '../local-time.js';
import { NEWEST_LINE_AGE, UNREADABLE_SHARE, problemsOf, readMetricValues } from './metrics.js';
import { formatAge } from './summary.js';

const STATES: readonly MapState[] = ['bulk', 'block', 'ban'];

export interface MapStatus {
  file: string;
  /** Local time of the last change; the map is rewritten only when it changes, so an old one is normal. */
  changed: string;
  age: string;
  counts: Record<MapState, number>;
  clients: Record<MapState, string[]>;
  warnings: string[];
}

/** The last run as its metrics file says (when METRICS_FILE is set). */
export interface LastRun {
  file: string;
  unreadableShare: number | null;
  newestLineAgeSeconds: number | null;
  problems: string[];
}

export interface Status {
  /** null: there is no map yet. */
  map: MapStatus | null;
  mapFile: string;
  lastRun: LastRun | null;
  changeLog: { file: string; lines: string[] | null };
}

export function summariseMap(file: string, text: string, modified: Date, now: Date): MapStatus {
  const { states, warnings } = parseMap(text);
  const clients: Record<MapState, string[]> = { bulk: [], block: [], ban: [] };
  for (const [address, state] of states) clients[state].push(address);
  for (const state of STATES) clients[state].sort(compareAddresses);
  return {
    file,
    changed: formatLocalTime(Math.floor(modified.getTime() / 1000)),
    age: formatDistance(modified, now, { addSuffix: true }),
    counts: countStates(states),
    clients,
    warnings: warnings.map((warning) => `${file}:${warning}`),
  };
}

const WIDTH = 100;
const INDENT = ' '.repeat(10);

export function renderStatus(status: Status): string {
  const out: string[] = [];
  const { map } = status;
  if (!map) out.push(`map:      none at ${status.mapFile} (no run has written one yet)`);
  else {
    out.push(`map:      ${map.file}, last changed ${map.changed} (${map.age})`, `          ${STATES.map((state) => `${map.counts[state]} ${state}`).join(', ')}`);
    for (const state of STATES) {
      if (map.clients[state].length > 0) out.push(...wrapList(`${state}:`.padEnd(INDENT.length), map.clients[state]));
    }
    for (const warning of map.warnings) out.push(`warning:  ${warning}`);
  }
  const { lastRun } = status;
  if (lastRun) {
    const share = lastRun.unreadableShare === null ? 'unknown' : `${(100 * lastRun.unreadableShare).toFixed(1)}%`;
    const age = lastRun.newestLineAgeSeconds === null ? 'no line read' : `${formatAge(Math.max(0, lastRun.newestLineAgeSeconds))} old`;
    const problems = lastRun.problems.length > 0 ? `; ended with: ${lastRun.problems.join(', ')}` : '';
    out.push(`last run: ${share} of the lines unreadable, newest line ${age} at the run${problems} (${lastRun.file})`);
  }
  const { changeLog } = status;
  if (changeLog.lines === null) out.push(`changes:  none at ${changeLog.file} yet`);
  else {
    out.push(`changes:  last ${changeLog.lines.length} lines of ${changeLog.file}`);
    for (const line of changeLog.lines) out.push(`  ${line}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderStatusJson(status: Status): string {
  return `${JSON.stringify(status)}\n`;
}

/** Addresses as lines of at most WIDTH columns (one address may exceed it), the first after `label`. */
function wrapList(label: string, items: string[]): string[] {
  const lines: string[] = [];
  let line = label;
  for (const item of items) {
    const separator = line.length > INDENT.length ? ' ' : '';
    if (separator && line.length + 1 + item.length > WIDTH) {
      lines.push(line);
      line = INDENT + item;
    } else line += separator + item;
  }
  lines.push(line);
  return lines;
}

/** The last run's sight and problems from its metrics file's text. */
export function summariseLastRun(file: string, metricsText: string): LastRun {
  const values = readMetricValues(metricsText);
  return {
    file,
    unreadableShare: values.get(UNREADABLE_SHARE) ?? null,
    newestLineAgeSeconds: values.get(NEWEST_LINE_AGE) ?? null,
    problems: problemsOf(metricsText),
  };
}
