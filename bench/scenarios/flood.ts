/**
 * A spoofed flood: over a million distinct clients in the window, each with
 * its own counts. What it costs in time, and above all in memory, next to the
 * baseline's Map over the same bytes.
 */
import type { Scenario } from '../harness.js';
import { type BenchSetup, runBaseline, runIpanalyse } from '../setup.js';

const MAX_RSS_MB = 150;

export function flood(setup: BenchSetup): Scenario {
  const probe = setup.probes.flood;
  if (probe.clients < 1_000_000) console.log(`  WARNING: the flood window holds only ${probe.clients} distinct clients`);
  return {
    rows: [
      {
        id: 'e2e-flood',
        what: 'ipanalyse end to end, 1M-client flood',
        group: 'child',
        lines: probe.linesRead,
        baseline: 'base-child-flood',
        measure: () => runIpanalyse('ipanalyse (flood)', setup.settingsFile, setup.logs.flood),
      },
      {
        id: 'base-child-flood',
        what: 'bare Node baseline, flood window (process)',
        group: 'child',
        lines: probe.linesRead,
        measure: () => runBaseline('baseline (flood)', setup.floodRange),
      },
    ],
    targets: (s) => {
      const rss = s('e2e-flood').peakRssMB;
      const baselineRss = s('base-child-flood').peakRssMB;
      return [
        {
          name: `peak RSS, ${probe.clients} distinct clients (MB)`,
          value: rss ?? NaN,
          target: `<= ${MAX_RSS_MB}`,
          pass: rss === undefined ? undefined : rss <= MAX_RSS_MB,
          detail: `baseline on the same bytes: ${baselineRss === undefined ? '-' : baselineRss.toFixed(0)} MB`,
        },
      ];
    },
  };
}
