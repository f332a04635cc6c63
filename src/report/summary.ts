/** The human summary of a run (`--verbose`) and its JSON twin (`--json`). Pure. */
import { formatNumber } from '../decide/limits.js';
import { describeWindow, formatLocalTime } from '../local-time.js';
import type { RunReport } from '../run.js';

/** The unreadable share, the newest line's age and the future lines, in a few words (also for explain). */
export function describeSight(sight: RunReport['sight']): string {
  const share = `${(100 * sight.unreadableShare).toFixed(sight.unreadableShare > 0 && sight.unreadableShare < 0.1 ? 1 : 0)}% unreadable`;
  const seconds = sight.newestLineAgeSeconds;
  const age = seconds === null ? 'no line read' : seconds < 0 ? `newest line stamped ${-seconds} s ahead of the clock` : `newest line ${formatAge(seconds)} old`;
  const future = sight.futureLines > 0 ? `, ${sight.futureLines} stamped in the future (skipped)` : '';
  return `${share}, ${age}${future}`;
}

export function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} days`;
}

export function renderSummary(report: RunReport, dryRun: boolean): string {
  const out: string[] = [];
  if (report.logs.length > 1) {
    for (const log of report.logs) {
      out.push(`log:      ${log.logFile} (${log.logBytes} bytes): ${log.linesRead} lines; ${log.linesInWindow} in the window, ${log.garbageLines} garbage (${describeSight(log.sight)})`);
    }
  } else out.push(`log:      ${report.logFile} (${report.logBytes} bytes)`);
  out.push(`window:   ${describeWindow(report.window)}`);
  if (report.stateNote) out.push(report.stateNote.replace(/^state: /, 'state:    '));
  for (const file of report.files) {
    const from = file.seekReads > 0 ? `from byte ${file.offset} (found in ${file.seekReads} reads)` : 'from its start';
    out.push(`file:     ${file.path}: ${file.bytesRead} bytes ${from}`);
  }
  if (report.stats) {
    const s = report.stats;
    out.push(`read:     ${s.linesRead} lines; ${s.linesInWindow} in the window, ${s.garbageLines} garbage (${describeSight(report.sight)})`);
    for (const sample of s.garbageSamples) out.push(`          garbage: ${sample}`);
    out.push(`clients:  ${s.clients} with statistics; ${s.listedLines} lines from whitelisted or blacklisted addresses`);
  }
  if (report.skipped) {
    out.push(`nothing decided: ${report.skipped}`);
    return `${out.join('\n')}\n`;
  }
  const limits = report.limits;
  if (limits) {
    out.push(
      `load:     load average ${limits.loadAverage} (cpuload ${limits.cpuload}); dbload ${formatNumber(limits.dbload)}/s (${limits.total200} API requests answered 200 in the short window); ${limits.numbulks} bulk clients before`,
    );
    out.push(`limits:   bulk above ${formatNumber(limits.bulkLongLimit)} API requests (long window) or ${formatNumber(limits.bulkShortLimit)} (short window)`);
    out.push(`          bulk clients blocked above ${formatNumber(limits.blockLimit)} / ${formatNumber(limits.blockLimit / 3)}: ${limits.blockLimitReason}`);
    out.push(`          anyone blocked above ${formatNumber(limits.blockUpper)} / ${formatNumber(limits.blockUpper / 3)} (BLOCK_UPPER)`);
  }
  for (const warning of report.warnings) out.push(`warning:  ${warning}`);
  if (report.safetyValve) out.push(`SAFETY VALVE: ${report.safetyValve.reason}; new blocks withheld: ${report.safetyValve.withheld.join(', ')}`);
  if (report.map) {
    const c = report.map.counts;
    const fate = dryRun ? 'dry run, not written' : report.map.written ? 'written' : 'unchanged, not rewritten';
    out.push(`map:      ${c.bulk} bulk, ${c.block} block, ${c.ban} ban -> ${report.map.file} (${fate})`);
  }
  if (report.changeLines) {
    out.push('changes:');
    for (const line of (report.changeLines ?? '').trimEnd().split('\n')) out.push(`  ${line}`);
  } else {
    out.push('changes:  none');
  }
  return `${out.join('\n')}\n`;
}

/** The report as one JSON object; the map's content is left out (it is in the map file). */
export function renderJson(report: RunReport, dryRun: boolean): string {
  const { map, plan, ...rest } = report;
  const mapSummary = map && { file: map.file, counts: map.counts, changed: map.changed, written: map.written };
  return `${JSON.stringify({ ...rest, map: mapSummary, dryRun, window: { ...report.window, startLocal: formatLocalTime(report.window.start), endLocal: formatLocalTime(report.window.end) } })}\n`;
}
