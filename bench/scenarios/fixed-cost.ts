/** What every cron run pays before the window: start-up, settings and the seek, on the 10M-line log with a window after its end. */
import { formatStartDate } from '../../test/support/log-generator.js';
import type { Scenario } from '../harness.js';
import { WINDOW_END } from '../logs.js';
import { type BenchSetup, runIpanalyse } from '../setup.js';

export function fixedCost(setup: BenchSetup): Scenario {
  const afterEnd = formatStartDate(WINDOW_END + 3600);
  return {
    rows: [
      {
        id: 'e2e-empty',
        what: 'ipanalyse fixed cost (10M log, empty window)',
        group: 'child',
        note: 'startup + settings + seek',
        measure: () => runIpanalyse('ipanalyse (empty window)', setup.settingsFile, setup.logs.big, afterEnd),
      },
    ],
  };
}
