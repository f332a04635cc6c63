/**
 * The flood again, its million spoofed addresses in a few hundred /64s:
 * counted per /64 (IPV6_PREFIX = 64) it must cost no more memory than the
 * per-address flood does today, and it finds the few hundred clients the
 * flood really is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CACHE_DIR, type Scenario } from '../harness.js';
import { ensureNetworkFlood } from '../logs.js';
import { type BenchSetup, runIpanalyse } from '../setup.js';

export function networkFlood(setup: BenchSetup): Scenario {
  const log = ensureNetworkFlood();
  const perNetwork = path.join(CACHE_DIR, 'bench-64.conf');
  fs.writeFileSync(perNetwork, `${fs.readFileSync(setup.settingsFile, 'utf8')}IPV6_PREFIX = 64\n`);
  const lines = setup.probes.flood.linesRead;
  return {
    rows: [
      {
        id: 'e2e-flood64-address',
        what: 'ipanalyse, flood in 300 /64s, per address',
        group: 'child',
        lines,
        measure: () => runIpanalyse('ipanalyse (flood in /64s, per address)', setup.settingsFile, log),
      },
      {
        id: 'e2e-flood64-network',
        what: 'ipanalyse, flood in 300 /64s, IPV6_PREFIX = 64',
        group: 'child',
        lines,
        baseline: 'e2e-flood64-address',
        measure: () => runIpanalyse('ipanalyse (flood in /64s, per /64)', perNetwork, log),
      },
    ],
    targets: (s) => {
      const network = s('e2e-flood64-network').peakRssMB;
      const today = s('e2e-flood').peakRssMB;
      return [
        {
          name: 'peak RSS, flood per /64 vs the per-address flood (MB)',
          value: network ?? NaN,
          target: `<= ${today === undefined ? '-' : today.toFixed(0)}`,
          pass: network === undefined || today === undefined ? undefined : network <= today,
          detail: `per address on the same log: ${s('e2e-flood64-address').peakRssMB?.toFixed(0) ?? '-'} MB`,
        },
      ];
    },
  };
}
