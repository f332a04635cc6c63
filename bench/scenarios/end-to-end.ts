/**
 * A cron run as it is: ipanalyse on the 1M-line log, start to exit, next to
 * the bare Node baseline started as a process over the same bytes.
 */
import type { Scenario } from '../harness.js';
import { type BenchSetup, runBaseline, runIpanalyse } from '../setup.js';

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
      {
        id: 'base-child-1m',
        what: 'bare Node baseline, 1M window (process)',
        group: 'child',
        lines: probe.linesRead,
        measure: async (round) => {
          const outcome = await runBaseline('baseline (1M)', setup.smallRange);
          if (round === 0) {
            const counted = JSON.parse(outcome.stdout) as { lines: number; bytes: number };
            const same = counted.lines === probe.linesRead && counted.bytes === probe.bytesRead;
            checks.push(`baseline read ${counted.lines} lines / ${counted.bytes} bytes; ipanalyse ${probe.linesRead} lines / ${probe.bytesRead} bytes: ${same ? 'same' : 'DIFFERENT'}`);
          }
          return outcome;
        },
      },
    ],
  };
}
