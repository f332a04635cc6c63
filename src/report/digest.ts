/**
 * `report`: one digest of the change log over a period, for a daily mail
 * instead of a line per change. Pure: it is given the log's entries in
 * order, from its first line, and the period as local `YYYY-MM-DD HH:MM`.
 */
import { addHours } from 'date-fns/addHours';
import { differenceInMinutes } from 'date-fns/differenceInMinutes';
import { format } from 'date-fns/format';
import { parse } from 'date-fns/parse';
import { compareAddresses } from '../address/ip-address.js';
import { CHANGE_KINDS, type ChangeKind, type ClientState } from '../decide/policy.js';
import { CHANGE_MINUTE_FORMAT, type ChangeEntry } from '../write/change-log.js';
import { PAGE_PROLOGUE, PAGE_STYLE, escapeHtml, htmlPage } from './html-page.js';

export interface Period {
  /** Local time, `YYYY-MM-DD HH:MM`, inclusive. */
  from: string;
  /** Local time, exclusive. */
  until: string;
}

export interface RestrictedClient {
  address: string;
  /** Minutes restricted within the period (bulk and block). */
  minutes: number;
  /** Minutes blocked within the period. */
  blockedMinutes: number;
  /** The state at the period's end; null when released by then. */
  stateAtEnd: ClientState | null;
  /** Times it was restricted again after a release, within the period. */
  returns: number;
}

export interface Digest {
  period: Period;
  /** Entries per kind in the period, and the clients they named. */
  counts: Record<ChangeKind, { entries: number; clients: number }>;
  /** The same counts over the period of the same length just before: what changed since then. */
  before: Record<ChangeKind, { entries: number; clients: number }>;
  /** Every client restricted at some time in the period, longest first. */
  restricted: RestrictedClient[];
  /** Clients restricted at the period's end, per state. */
  atEnd: Record<ClientState, number>;
  /** Lines of the log that are not change-log lines (skipped). */
  unreadableLines: number;
  /** Entries per kind in each hour of the period (local `YYYY-MM-DD HH:00`), for the picture. */
  hourly: { hour: string; counts: Record<ChangeKind, number> }[];
}

const RESTRICTING: Record<ChangeKind, ClientState | null> = {
  'new bulks': 'bulk',
  'new block': 'block',
  'ua block': 'block',
  'dir.block': 'block',
  unblocked: null,
  debulked: null,
};

const toDate = (minute: string) => parse(minute, CHANGE_MINUTE_FORMAT, new Date(0));

interface Track {
  state: ClientState | null;
  /** When the current state began, or the period's start if earlier. */
  since: string;
  minutes: number;
  blockedMinutes: number;
  /** Restricted at some time before: a new restriction after a release is a return. */
  everRestricted: boolean;
  returns: number;
  seenInPeriod: boolean;
}

function emptyCounts(): Record<ChangeKind, { entries: number; clients: number }> {
  return Object.fromEntries(CHANGE_KINDS.map((kind) => [kind, { entries: 0, clients: 0 }])) as Record<ChangeKind, { entries: number; clients: number }>;
}

/**
 * The digest of `period`; entries come in the log's order (as it is
 * appended), one by one, so that a change log of years is never held whole.
 * `unreadableLines` is asked for at the end, when the reader has counted them.
 */
export async function buildDigest(entries: AsyncIterable<ChangeEntry> | Iterable<ChangeEntry>, period: Period, previousFrom: string, unreadableLines: () => number = () => 0): Promise<Digest> {
  const counts = emptyCounts();
  const before = emptyCounts();
  const clientsOf = new Map<ChangeKind, Set<string>>(CHANGE_KINDS.map((kind) => [kind, new Set()]));
  const clientsBefore = new Map<ChangeKind, Set<string>>(CHANGE_KINDS.map((kind) => [kind, new Set()]));
  const tracks = new Map<string, Track>();
  const hourly = new Map<string, Record<ChangeKind, number>>();
  for (let hour = toDate(`${period.from.slice(0, 13)}:00`); format(hour, CHANGE_MINUTE_FORMAT) < period.until; hour = addHours(hour, 1)) {
    hourly.set(format(hour, CHANGE_MINUTE_FORMAT), Object.fromEntries(CHANGE_KINDS.map((kind) => [kind, 0])) as Record<ChangeKind, number>);
  }

  /** Adds the time `track` spent in its state up to `minute` (clipped to the period). */
  const accrue = (track: Track, minute: string) => {
    if (track.state === null) return;
    const from = track.since < period.from ? period.from : track.since;
    const to = minute > period.until ? period.until : minute;
    if (to <= from) return;
    const minutes = differenceInMinutes(toDate(to), toDate(from));
    track.minutes += minutes;
    if (track.state === 'block') track.blockedMinutes += minutes;
    track.seenInPeriod = true;
  };

  for await (const entry of entries) {
    if (entry.minute >= period.until) break;
    const inPeriod = entry.minute >= period.from;
    if (inPeriod || entry.minute >= previousFrom) {
      const target = inPeriod ? counts : before;
      const clients = (inPeriod ? clientsOf : clientsBefore).get(entry.kind) as Set<string>;
      target[entry.kind].entries += entry.addresses.length;
      for (const address of entry.addresses) clients.add(address);
      const hour = inPeriod ? hourly.get(`${entry.minute.slice(0, 13)}:00`) : undefined;
      if (hour) hour[entry.kind] += entry.addresses.length;
    }
    const next = RESTRICTING[entry.kind];
    for (const address of entry.addresses) {
      let track = tracks.get(address);
      if (!track) {
        track = { state: null, since: entry.minute, minutes: 0, blockedMinutes: 0, everRestricted: false, returns: 0, seenInPeriod: false };
        tracks.set(address, track);
      }
      accrue(track, entry.minute);
      if (inPeriod) {
        if (next !== null && track.state === null && track.everRestricted) track.returns++;
        track.seenInPeriod = true;
      }
      if (next !== null) track.everRestricted = true;
      track.state = next;
      track.since = entry.minute;
    }
  }
  for (const kind of CHANGE_KINDS) {
    counts[kind].clients = clientsOf.get(kind)?.size ?? 0;
    before[kind].clients = clientsBefore.get(kind)?.size ?? 0;
  }

  const restricted: RestrictedClient[] = [];
  const atEnd: Record<ClientState, number> = { bulk: 0, block: 0 };
  for (const [address, track] of tracks) {
    accrue(track, period.until);
    if (track.state !== null) atEnd[track.state]++;
    if (!track.seenInPeriod) continue;
    restricted.push({ address, minutes: track.minutes, blockedMinutes: track.blockedMinutes, stateAtEnd: track.state, returns: track.returns });
  }
  restricted.sort((a, b) => b.minutes - a.minutes || compareAddresses(a.address, b.address));
  return { period, counts, before, restricted, atEnd, unreadableLines: unreadableLines(), hourly: [...hourly].map(([hour, hourCounts]) => ({ hour, counts: hourCounts })) };
}

function formatMinutes(minutes: number): string {
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  return [days ? `${days} d` : '', hours ? `${hours} h` : '', rest || minutes === 0 ? `${rest} min` : ''].filter(Boolean).join(' ');
}

const TOP = 10;

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export function renderDigest(digest: Digest, changeLog: string): string {
  const { period, counts, before } = digest;
  const out = [`change log: ${changeLog}, ${period.from} .. ${period.until} (local time)`];
  const change = (kind: ChangeKind) => {
    const delta = counts[kind].entries - before[kind].entries;
    return `${kind} ${counts[kind].entries}${delta ? ` (${delta > 0 ? '+' : ''}${delta})` : ''}`;
  };
  out.push(`changes:    ${CHANGE_KINDS.map(change).join(', ')}`, '            (in brackets: the difference to the period of the same length before)');
  const restrictedNow = digest.atEnd.bulk + digest.atEnd.block;
  out.push(`at the end: ${restrictedNow === 0 ? 'nobody restricted' : `${digest.atEnd.bulk} bulk, ${digest.atEnd.block} block`}`);
  if (digest.restricted.length === 0) out.push('restricted: nobody in the period');
  else {
    out.push(`restricted longest (${Math.min(TOP, digest.restricted.length)} of ${digest.restricted.length}):`);
    for (const client of digest.restricted.slice(0, TOP)) {
      const blocked = client.blockedMinutes ? `, blocked ${formatMinutes(client.blockedMinutes)}` : '';
      const end = client.stateAtEnd ? `still ${client.stateAtEnd === 'block' ? 'blocked' : 'bulk'}` : 'released';
      out.push(`  ${client.address.padEnd(39)} ${formatMinutes(client.minutes)}${blocked}; ${end}`);
    }
  }
  const cameBack = digest.restricted.filter((client) => client.returns > 0).sort((a, b) => b.returns - a.returns);
  out.push(`came back:  ${cameBack.length === 0 ? 'nobody was restricted again after a release' : `${plural(cameBack.length, 'client')} restricted again after a release`}`);
  for (const client of cameBack.slice(0, TOP)) out.push(`  ${client.address.padEnd(39)} ${plural(client.returns, 'time')}`);
  if (digest.unreadableLines > 0) {
    const lines = digest.unreadableLines === 1 ? '1 line of the change log is not a change-log line' : `${digest.unreadableLines} lines of the change log are not change-log lines`;
    out.push(`warning:    ${lines} (skipped)`);
  }
  return `${out.join('\n')}\n`;
}

export function renderDigestJson(digest: Digest, changeLog: string): string {
  return `${JSON.stringify({ changeLog, ...digest })}\n`;
}

const HTML_STYLE = '.chart{margin:1em 0}';

/** The digest as one self-contained page: changes per hour as a chart, and the tables of the text digest. */
export function renderDigestHtml(digest: Digest, changeLog: string): string {
  const { period } = digest;
  const cell = (text: string | number) => `<td>${escapeHtml(String(text))}</td>`;
  const counts = CHANGE_KINDS.map((kind) => `<tr>${cell(kind)}${cell(digest.counts[kind].entries)}${cell(digest.counts[kind].clients)}${cell(digest.before[kind].entries)}</tr>`).join('');
  const longest = digest.restricted
    .slice(0, TOP)
    .map((c) => `<tr>${cell(c.address)}${cell(formatMinutes(c.minutes))}${cell(formatMinutes(c.blockedMinutes))}${cell(c.stateAtEnd ?? 'released')}</tr>`)
    .join('');
  const back = digest.restricted.filter((c) => c.returns > 0).slice(0, TOP).map((c) => `<tr>${cell(c.address)}${cell(c.returns)}</tr>`).join('');
  const body =
    `<p>${escapeHtml(changeLog)}, ${escapeHtml(period.from)} .. ${escapeHtml(period.until)} (local time); at the end ${digest.atEnd.bulk} bulk, ${digest.atEnd.block} block.</p>` +
    `<h2>Changes per hour</h2><div class="chart" id="hourly"></div>` +
    `<h2>Changes</h2><table><thead><tr><th>kind</th><th>entries</th><th>clients</th><th>the period before</th></tr></thead><tbody>${counts}</tbody></table>` +
    `<h2>Restricted longest</h2><table><thead><tr><th>client</th><th>restricted</th><th>blocked</th><th>at the end</th></tr></thead><tbody>${longest}</tbody></table>` +
    `<h2>Came back after a release</h2><table><thead><tr><th>client</th><th>times</th></tr></thead><tbody>${back}</tbody></table>`;
  const hours = digest.hourly.map((h) => toDate(h.hour).getTime() / 1000);
  const data = { hours, series: CHANGE_KINDS.map((kind) => ({ kind, values: digest.hourly.map((h) => h.counts[kind]) })) };
  return htmlPage({ title: `ipanalyse report: ${period.from} .. ${period.until}`, style: `${PAGE_STYLE}${HTML_STYLE}`, body, data, pageScript: DIGEST_SCRIPT });
}

const COLOURS = ['#2ca02c', '#17becf', '#d99a00', '#d62728', '#9467bd', '#8c564b'];

const DIGEST_SCRIPT = `
(function () {${PAGE_PROLOGUE}
  var colours = ${JSON.stringify(COLOURS)};
  var series = [{}].concat(data.series.map(function (s, i) { return { label: s.kind, stroke: colours[i % colours.length], width: 2 }; }));
  var chart = new uPlot({ title: 'Change-log entries per hour', width: width, height: 300, series: series },
    [data.hours].concat(data.series.map(function (s) { return s.values; })), document.getElementById('hourly'));
  document.body.dataset.charts = '1';
  document.body.dataset.series = String(chart.series.length - 1);
})();
`;
