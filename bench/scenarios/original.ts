/**
 * The original cron script on the same window of the 1M-line log, when it
 * (in ../shared/reference/) and python3 are there; its map must be the one
 * ipanalyse prints.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readIfExists } from '../../test/support/files.js';
import { REFERENCE_SCRIPT, RUN_ORIGINAL } from '../../test/support/paths.js';
import { CACHE_DIR, PYTHON_RUNS, type Scenario, ratioTarget, runChild } from '../harness.js';
import { STARTDATE } from '../logs.js';
import { type BenchSetup, runIpanalyse } from '../setup.js';

const MIN_SPEEDUP = 10;
const TARGET_NAME = 'original / ipanalyse (1M, end to end)';
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

export async function original(setup: BenchSetup): Promise<Scenario> {
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
    oursMap = dryRunMap((await runIpanalyse('ipanalyse (1M, for its map)', setup.settingsFile, setup.logs.small)).stdout);
  }
  return {
    checks,
    rows: [
      {
        id: 'original-1m',
        what: 'original Python script, 1M-line log',
        group: 'child',
        lines: setup.probes.small.linesRead,
        baseline: 'base-child-1m',
        note: skipped,
        measure: async (round) => {
          if (!python || round >= PYTHON_RUNS) return undefined;
          fs.rmSync(MAP, { force: true });
          fs.rmSync(CHANGE_LOG, { force: true });
          const outcome = await runChild('the original', python, [RUN_ORIGINAL, REFERENCE_SCRIPT, BASE, '1.00 1.00 1.00 1/100 1', setup.logs.small.file, STARTDATE]);
          if (round === 0) {
            const theirs = mapLines(readIfExists(MAP) ?? '');
            const same = theirs.join('\n') === oursMap.join('\n');
            checks.push(`maps: the original's ${theirs.length} lines and ipanalyse's ${oursMap.length} lines are ${same ? 'identical' : 'DIFFERENT'}`);
          }
          return outcome;
        },
      },
    ],
    targets: (s) => [
      python
        ? ratioTarget(TARGET_NAME, s('original-1m'), s('e2e-1m'), { atLeast: MIN_SPEEDUP }, `${s('original-1m').wallMs.toFixed(0)} / ${s('e2e-1m').wallMs.toFixed(0)} ms`)
        : { name: TARGET_NAME, value: NaN, target: `>= ${MIN_SPEEDUP}`, pass: undefined, detail: skipped ?? 'not run' },
    ],
  };
}
