/**
 * What the scenarios are given: the logs, in the page cache; the settings
 * and the window; and, from a first untimed `ipanalyse --json` run on each
 * log, the byte range it reads (the seek offset to the end), so that the
 * baseline and the in-process rows read exactly those bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { analysisWindow } from '../src/read/read-window.js';
import type { AnalysisWindow } from '../src/read/window-stats.js';
import { loadSettings } from '../src/settings/load-settings.js';
import type { Settings } from '../src/settings/settings.js';
import { CLI, REPO_ROOT } from '../test/support/paths.js';
import { CACHE_DIR, type ChildOutcome, type ChildRowSpec, mb, pad, runChild } from './harness.js';
import { type LogFile, type LogSet, STARTDATE, WINDOW_END, WINDOW_START, ensureLogs, warmPageCache } from './logs.js';

const BASELINE_SCRIPT = path.join(REPO_ROOT, 'dist/bench/baseline.js');
const SCRATCH = path.join(CACHE_DIR, 'scratch');

export interface Probe {
  offset: number;
  bytesRead: number;
  seekReads: number;
  linesRead: number;
  linesInWindow: number;
  clients: number;
}

/** Bytes [from, to) of a log. */
export interface ByteRange {
  file: string;
  from: number;
  to: number;
}

export interface BenchSetup {
  logs: LogSet;
  settingsFile: string;
  settings: Settings;
  window: AnalysisWindow;
  probes: { small: Probe; big: Probe; flood: Probe; realistic: Probe };
  /** What ipanalyse reads of the 1M-line log, of the flood log and of the realistic hour. */
  smallRange: ByteRange;
  floodRange: ByteRange;
  realisticRange: ByteRange;
}

/** A dry run of ipanalyse on `log` for the hour from `startDate`. */
export function runIpanalyse(what: string, settingsFile: string, log: LogFile, startDate = STARTDATE, extra: string[] = []): Promise<ChildOutcome> {
  const args = ['--settings', settingsFile, '--map', path.join(SCRATCH, 'ip_blocks.map'), '--changelog', path.join(SCRATCH, 'restricted_ip.log'), '--loadavg', '1', '--dry-run', ...extra, log.file, startDate];
  return runChild(what, process.execPath, [CLI, ...args], { node: true });
}

/** The bare Node baseline as a process, over `range`. */
export function runBaseline(what: string, range: ByteRange): Promise<ChildOutcome> {
  return runChild(what, process.execPath, [BASELINE_SCRIPT, range.file, String(range.from), String(range.to)], { node: true });
}

/**
 * The baseline as a row over the bytes ipanalyse reads (`probe`, `range`);
 * the first round checks that it read the same lines and bytes.
 */
export function baselineRow(id: string, what: string, range: ByteRange, probe: Probe, checks: string[]): ChildRowSpec {
  return {
    id,
    what,
    group: 'child',
    lines: probe.linesRead,
    measure: async (round) => {
      const outcome = await runBaseline(what, range);
      if (round === 0) {
        const counted = JSON.parse(outcome.stdout) as { lines: number; bytes: number };
        const same = counted.lines === probe.linesRead && counted.bytes === probe.bytesRead;
        checks.push(`${what}: read ${counted.lines} lines / ${counted.bytes} bytes; ipanalyse ${probe.linesRead} lines / ${probe.bytesRead} bytes: ${same ? 'same' : 'DIFFERENT'}`);
      }
      return outcome;
    },
  };
}

async function probe(settingsFile: string, log: LogFile): Promise<Probe> {
  const outcome = await runIpanalyse(`ipanalyse --json on ${log.file}`, settingsFile, log, STARTDATE, ['--json']);
  const report = JSON.parse(outcome.stdout) as {
    files: { offset: number; bytesRead: number; seekReads: number }[];
    stats: { linesRead: number; linesInWindow: number; clients: number };
  };
  const [file] = report.files;
  return { offset: file.offset, bytesRead: file.bytesRead, seekReads: file.seekReads, ...report.stats };
}

export async function prepare(): Promise<BenchSetup> {
  const logs = ensureLogs();
  fs.mkdirSync(SCRATCH, { recursive: true });
  const settingsFile = path.join(CACHE_DIR, 'bench.conf');
  fs.writeFileSync(settingsFile, '# written by bench/setup.ts: analyse logs of any size\nMIN_LOG_SIZE = 0\n');
  const { settings } = await loadSettings(settingsFile, REPO_ROOT);
  const window = analysisWindow(settings, new Date(WINDOW_END * 1000), new Date(WINDOW_START * 1000));

  const all = [logs.small, logs.big, logs.flood, logs.realistic];
  const warmMs = warmPageCache(all);
  console.log(`page cache: ${mb(all.reduce((sum, log) => sum + log.bytes, 0))} MB read once in ${(warmMs / 1000).toFixed(1)} s (untimed)`);

  // Also ipanalyse's warm-up run.
  const probes = {
    small: await probe(settingsFile, logs.small),
    big: await probe(settingsFile, logs.big),
    flood: await probe(settingsFile, logs.flood),
    realistic: await probe(settingsFile, logs.realistic),
  };
  console.log(`window ${STARTDATE} .. +1 h (TZ=UTC):`);
  for (const [log, p] of [[logs.small, probes.small], [logs.big, probes.big], [logs.flood, probes.flood], [logs.realistic, probes.realistic]] as const) {
    console.log(`  ${pad(path.basename(log.file), 13)} ${pad(String(log.lines), 9, true)} lines ${pad(mb(log.bytes), 5, true)} MB; seek: ${p.seekReads} reads -> byte ${p.offset}; reads ${mb(p.bytesRead)} MB, ${p.linesRead} lines, ${p.linesInWindow} in the window, ${p.clients} clients`);
  }
  const rangeOf = (log: LogFile, p: Probe): ByteRange => ({ file: log.file, from: p.offset, to: p.offset + p.bytesRead });
  return {
    logs,
    settingsFile,
    settings,
    window,
    probes,
    smallRange: rangeOf(logs.small, probes.small),
    floodRange: rangeOf(logs.flood, probes.flood),
    realisticRange: rangeOf(logs.realistic, probes.realistic),
  };
}
