/**
 * The original cron script on the same window of a log, when it (in
 * ../shared/reference/) and python3 are there; its map must be the one
 * ipanalyse prints. Here on the 1M-line log; realistic.ts uses it on the
 * realistic hour.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readIfExists } from '../../test/support/files.js';
import { REFERENCE_SCRIPT, RUN_ORIGINAL } from '../../test/support/paths.js';
import { CACHE_DIR, PYTHON_RUNS, type Scenario, ratioTarget, runChild } from '../harness.js';
import { type LogFile, STARTDATE } from '../logs.js';
import { type BenchSetup, runIpanalyse } from '../setup.js';

const MIN_SPEEDUP = 10;
const BASE = path.join(CACHE_DIR, 'original');
const MAP = path.join(BASE, 'settings/ip_blocks.map');
const CHANGE_LOG = path.join(BASE, 'log/restricted_ip.log');

function pythonExecutable(): string | undefined {
  const found = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) return undefined;
  // The interpreter itself, not a version manager's shim in front of it.
  return found.stdout.trim() || 'python3';
}

/** A map's lines, sorted, without blank ones. */
function mapLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '').sort();
}

/** The map ipanalyse prints in a dry run. */
function dryRunMap(stdout: string): string[] {
  return mapLines(/--- map [^\n]*\n([\s\S]*?)--- change log/.exec(stdout)?.[1] ?? '');
}

/** The original on `log`, as row `id`, against ipanalyse's row `ipanalyse` and the baseline's row `baseline` over the same bytes. */
export interface OriginalRun {
  id: string;
  what: string;
  log: LogFile;
  lines: number;
  ipanalyse: string;
  baseline: string;
  targetName: string;
  minSpeedup: number;
}

export async function againstOriginal(setup: BenchSetup, run: OriginalRun): Promise<Scenario> {
  const python = fs.existsSync(REFERENCE_SCRIPT) ? pythonExecutable() : undefined;
  const skipped = !fs.existsSync(REFERENCE_SCRIPT)
    ? `skipped: the original script is not at ${REFERENCE_SCRIPT}`
    : python === undefined
      ? 'skipped: python3 is not installed'
      : undefined;
  const checks: string[] = [];
  let oursMap: string[] = [];
  if (python) {
    fs.mkdirSync(path.dirname(MAP), { recursive: true });
    fs.mkdirSync(path.dirname(CHANGE_LOG), { recursive: true });
    fs.writeFileSync(path.join(BASE, 'settings/ip_blocks.conf'), `BLOCKEDFILE = '${MAP}'\nLOGFILE = '${CHANGE_LOG}'\n`);
    oursMap = dryRunMap((await runIpanalyse(`ipanalyse on ${run.log.name}, for its map`, setup.settingsFile, run.log)).stdout);
  }
  return {
    checks,
    rows: [
      {
        id: run.id,
        what: run.what,
        group: 'child',
        lines: run.lines,
        baseline: run.baseline,
        note: skipped,
        measure: async (round) => {
          if (!python || round >= PYTHON_RUNS) return undefined;
          fs.rmSync(MAP, { force: true });
          fs.rmSync(CHANGE_LOG, { force: true });
          const outcome = await runChild('the original', python, [RUN_ORIGINAL, REFERENCE_SCRIPT, BASE, '1.00 1.00 1.00 1/100 1', run.log.file, STARTDATE]);
          if (round === 0) {
            const theirs = mapLines(readIfExists(MAP) ?? '');
            const same = theirs.join('\n') === oursMap.join('\n');
            checks.push(`maps on ${run.log.name}.log: the original's ${theirs.length} lines and ipanalyse's ${oursMap.length} lines are ${same ? 'identical' : 'DIFFERENT'}`);
          }
          return outcome;
        },
      },
    ],
    targets: (s) => [
      python
        ? ratioTarget(run.targetName, s(run.id), s(run.ipanalyse), { atLeast: run.minSpeedup }, `${s(run.id).wallMs.toFixed(0)} / ${s(run.ipanalyse).wallMs.toFixed(0)} ms`)
        : { name: run.targetName, value: NaN, target: `>= ${run.minSpeedup}`, pass: undefined, detail: skipped ?? 'not run' },
    ],
  };
}

export function original(setup: BenchSetup): Promise<Scenario> {
  return againstOriginal(setup, {
    id: 'original-1m',
    what: 'original Python script, 1M-line log',
    log: setup.logs.small,
    lines: setup.probes.small.linesRead,
    ipanalyse: 'e2e-1m',
    baseline: 'base-child-1m',
    targetName: 'original / ipanalyse (1M, end to end)',
    minSpeedup: MIN_SPEEDUP,
  });
}
