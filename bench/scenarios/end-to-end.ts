/**
 * A cron run as it is: ipanalyse on the 1M-line log, start to exit, next to
 * the bare Node baseline started as a process over the same bytes.
 */
import type { Scenario } from '../harness.js';
import { type BenchSetup, baselineRow, runIpanalyse } from '../setup.js';

export function endToEnd(setup: BenchSetup): Scenario {
  const probe = setup.probes.small;
  const checks: string[] = [];
  return {
    checks,
    rows: [
      {
        id: 'e2e-1m',
        what: 'ipanalyse end to end, 1M-line log',
        group: 'child',
        lines: probe.linesRead,
        baseline: 'base-child-1m',
        measure: () => runIpanalyse('ipanalyse (1M)', setup.settingsFile, setup.logs.small),
      },
      baselineRow('base-child-1m', 'bare Node baseline, 1M window (process)', setup.smallRange, probe, checks),
    ],
  };
}
