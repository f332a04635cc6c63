/**
 * `explain`: what a run decides for one address and why, in plain words.
 * The verdict, its reason and the limits come from the run's own plan (a dry
 * run), never recomputed here, so they cannot drift from what cron does;
 * this module only puts them into words. Pure.
 */
import { buildAddressList } from '../address/address-list.js';
import { type Limits, formatNumber } from '../decide/limits.js';
import type { ChangeKind, MapState } from '../decide/policy.js';
import { describeWindow, formatLocalTime } from '../local-time.js';
import type { AnalysisWindow, ClientStats } from '../read/window-stats.js';
import type { RunReport } from '../run.js';
import { describeSight } from './summary.js';
import type { SettingOrigins, Settings } from '../settings/settings.js';

export interface ExplainInput {
  /** Canonical: an address, or a network as a map writes it. */
  address: string;
  /** What the address is counted under: itself, or its network (IPV6_PREFIX, IPV4_PREFIX). */
  key: string;
  /** For a network: its busiest addresses over the same window, busiest first. */
  busiest?: { address: string; stats: ClientStats }[];
  /** With several logs: the client's requests in each, in the order read. */
  perLog?: LogShare[];
  settings: Settings;
  origins: SettingOrigins;
  /** The dry run's report: the plan exactly as a run makes it. */
  report: RunReport;
}

/** A client's requests in one server's log; null when it made none there. */
export interface LogShare {
  logFile: string;
  stats: ClientStats | null;
}

export interface Explanation {
  address: string;
  /** With several logs: the client's requests in each; null with one. */
  perLog: LogShare[] | null;
  /** Set when the address is counted as part of a network: the network, and its busiest addresses. */
  network: { key: string; busiest: { address: string; stats: ClientStats }[] } | null;
  window: AnalysisWindow;
  /** What the run could read of the log. */
  sight: RunReport['sight'];
  mapFile: string;
  listed: { list: 'WHITELIST' | 'BLACKLIST'; origin: string } | null;
  /** null: no request in the window, or not analysed (listed, excluded). */
  stats: ClientStats | null;
  previous: MapState | null;
  /** null when the run decides nothing. */
  limits: (Limits & { bulkLongLimitReason: string }) | null;
  skipped: string | null;
  verdict: { state: MapState | null; change: ChangeKind | null; rule: string };
}

export function explainAddress(input: ExplainInput): Explanation {
  const { address, settings, report } = input;
  const { plan } = report;
  const listed = address.includes('/') ? null : listingOf(address, settings, input.origins);
  // A listed address is judged as itself: a whitelisted one is let through its restricted network.
  const subject = listed ? address : input.key;
  const before = plan.previous.get(subject) ?? null;
  const network = input.key !== address ? { key: input.key, busiest: input.busiest ?? [] } : null;
  const common = { address, perLog: input.perLog ?? null, network, window: report.window, sight: report.sight, mapFile: settings.BLOCKEDFILE, listed, previous: before };
  if (!plan.decided) {
    const rule = `a run decides nothing, ${plan.skipped}; the map keeps ${before ? `'${before}'` : 'no entry'} for this address`;
    return { ...common, stats: null, limits: null, skipped: plan.skipped, verdict: { state: before, change: null, rule } };
  }

  const why = plan.why(subject);
  const { limits } = plan;
  const released = why.carried ? `; was ${why.carried === 'block' ? 'blocked' : 'bulk'}: released` : '';
  const { reason } = why;
  let rule: string;
  if (reason.kind === 'blacklisted') rule = `blacklisted (BLACKLIST, ${listed?.origin ?? 'a blacklisted network'}): always ban`;
  else if (reason.kind === 'judged') {
    rule = reason.rule;
    if (reason.wasBanned) rule = `was banned but is no longer blacklisted, so it is judged afresh: ${rule}`;
    if (reason.withheldBy) rule += `; but the safety valve closed (${reason.withheldBy}), so this new block is withheld: bulk instead`;
  } else if (reason.kind === 'whitelisted') rule = `whitelisted (WHITELIST, ${listed?.origin}): never restricted, never in the map${released}`;
  else if (reason.kind === 'non-global') rule = `not a global address, and EXCLUDE_NON_GLOBAL leaves those out${released}`;
  else rule = `made no request in the window${released || ': no restriction'}`;

  const bulkLongLimitReason =
    limits.bulkLongLimit === settings.BULK_LOWER
      ? `BULK_LOWER (CPU load ${limits.cpuload} is high)`
      : `BULKLONG_LIMIT - BULK_LOADFAC * (cpuload ${limits.cpuload} - 14)`;
  return { ...common, stats: why.stats ?? null, limits: { ...limits, bulkLongLimitReason }, skipped: null, verdict: { state: why.state, change: why.change, rule } };
}

function listingOf(address: string, settings: Settings, origins: SettingOrigins): Explanation['listed'] {
  for (const list of ['BLACKLIST', 'WHITELIST'] as const) {
    if (!buildAddressList(settings[list]).has(address)) continue;
    const fileKey = list === 'BLACKLIST' ? 'BLACKLIST_FILE' : 'WHITELIST_FILE';
    const origin = settings[list].includes(address) || !settings[fileKey] ? origins[list] : origins[fileKey];
    return { list, origin };
  }
  return null;
}

export function renderExplanation(e: Explanation): string {
  const n = formatNumber;
  const { window } = e;
  const listing = e.listed ? `${e.listed.list === 'BLACKLIST' ? 'blacklisted' : 'whitelisted'} (${e.listed.list}, ${e.listed.origin})` : 'neither whitelisted nor blacklisted';
  const out = [
    `address:   ${e.address}, ${listing}`,
    `window:    ${describeWindow(window)}`,
    `log:       ${describeSight(e.sight)}`,
  ];
  if (e.network) {
    out.push(`counted:   as the network ${e.network.key} (IPV6_PREFIX / IPV4_PREFIX): its requests are summed over every address in it`);
    if (e.network.busiest.length > 0) {
      out.push(`busiest:   ${e.network.busiest.map((b) => `${b.address} ${b.stats.longTotal} (${b.stats.longApi} API)`).join(', ')}`);
    }
  }
  if (e.stats) {
    const s = e.stats;
    out.push(
      `requests:  long window ${s.longTotal} (${s.longApi} API), short window ${s.shortTotal} (${s.shortApi} API)`,
      `           ${s.badUa ? 'bad user agent: sent none, or one in UA_BLOCKLIST, at least once' : 'user agent: never missing, never in UA_BLOCKLIST'}`,
    );
    for (const share of e.perLog ?? []) {
      const t = share.stats;
      out.push(`           ${share.logFile}: ${t ? `long window ${t.longTotal} (${t.longApi} API), short window ${t.shortTotal} (${t.shortApi} API)` : 'none'}`);
    }
  } else if (!e.skipped) {
    out.push(`requests:  ${e.listed ? 'not counted: listed clients get no statistics' : 'none counted in the window'}`);
  }
  out.push(`previous:  ${e.previous ? `'${e.previous}'` : 'not'} in ${e.mapFile}`);
  const l = e.limits;
  if (l) {
    out.push(
      `load:      load average ${l.loadAverage} -> cpuload ${l.cpuload}`,
      `           ${l.total200} API requests answered 200 in the short window -> dbload ${n(l.dbload)}/s`,
      `           ${l.numbulks} bulk clients in the previous map -> numbulks ${l.numbulks}`,
      `limits:    bulk above ${n(l.bulkLongLimit)} API requests in the long window: ${l.bulkLongLimitReason}`,
      `           bulk above ${n(l.bulkShortLimit)} API requests in the short window: BULKSHORT_LIMIT`,
      `           a bulk client blocked above ${n(l.blockLimit)} / ${n(l.blockLimit / 3)}: ${l.blockLimitReason}`,
      `           anyone blocked above ${n(l.blockUpper)} / ${n(l.blockUpper / 3)}: BLOCK_UPPER`,
    );
  }
  const { verdict } = e;
  const change = verdict.change ? `change log: '${verdict.change}'` : 'no change-log entry';
  out.push(`rule:      ${verdict.rule}`, `verdict:   ${verdict.state ?? 'not in the map (no restriction)'}; ${change}`);
  return `${out.join('\n')}\n`;
}

export function renderExplanationJson(e: Explanation): string {
  const window = { ...e.window, startLocal: formatLocalTime(e.window.start), endLocal: formatLocalTime(e.window.end), shortStartLocal: formatLocalTime(e.window.shortStart) };
  return `${JSON.stringify({ ...e, window })}\n`;
}
