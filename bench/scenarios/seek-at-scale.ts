/**
 * The same window at the end of a ten times bigger log: the seek should make
 * the run cost what the window costs, not what the file does.
 */
import { type Scenario, ratioTarget } from '../harness.js';
import { type BenchSetup, runIpanalyse } from '../setup.js';

const MAX_SCALE = 1.1;

export function seekAtScale(setup: BenchSetup): Scenario {
  const { logs, probes } = setup;
  const smallTail = logs.small.bytes - probes.small.offset;
  const bigTail = logs.big.bytes - probes.big.offset;
  if (bigTail !== smallTail) console.log(`  note: the seek landed ${bigTail - smallTail} bytes apart in 10m.log and 1m.log`);
  return {
    rows: [
      {
        id: 'e2e-10m',
        what: 'ipanalyse end to end, 10M-line log',
        group: 'child',
        lines: probes.big.linesRead,
        baseline: 'base-child-1m',
        measure: () => runIpanalyse('ipanalyse (10M)', setup.settingsFile, logs.big),
      },
    ],
    targets: (s) => [
      ratioTarget('seek at scale: e2e 10M / e2e 1M', s('e2e-10m'), s('e2e-1m'), { atMost: MAX_SCALE }, `${s('e2e-10m').wallMs.toFixed(0)} / ${s('e2e-1m').wallMs.toFixed(0)} ms`),
    ],
  };
}
