/**
 * The headline: a cron run on an hour of a public API's traffic (Zipf
 * popularity, some 150k distinct clients), next to the bare baseline over the
 * same bytes and the original on the same window, and what each distinct
 * client costs against the 1M-line log's few thousand at the same rate.
 */
import { type Scenario, type Summary, ratioTarget } from '../harness.js';
import { type BenchSetup, baselineRow, runIpanalyse } from '../setup.js';
import { againstOriginal } from './original.js';

const MIN_SPEEDUP = 15;
const MIN_BASELINE_SPEED = 0.8;

export async function realistic(setup: BenchSetup): Promise<Scenario[]> {
  const probe = setup.probes.realistic;
  const few = setup.probes.small;
  if (probe.clients < 100_000) console.log(`  WARNING: the realistic hour holds only ${probe.clients} distinct clients`);
  const checks: string[] = [];
  const ours: Scenario = {
    checks,
    rows: [
      {
        id: 'e2e-real',
        what: `ipanalyse end to end, realistic (${Math.round(probe.clients / 1000)}k clients)`,
        group: 'child',
        lines: probe.linesRead,
        baseline: 'base-child-real',
        measure: () => runIpanalyse('ipanalyse (realistic)', setup.settingsFile, setup.logs.realistic),
      },
      baselineRow('base-child-real', 'bare Node baseline, realistic hour (process)', setup.realisticRange, probe, checks),
    ],
    targets: (s) => [
      ratioTarget(
        'baseline / ipanalyse, realistic hour (speed)',
        s('base-child-real'),
        s('e2e-real'),
        { atLeast: MIN_BASELINE_SPEED },
        `${s('base-child-real').wallMs.toFixed(0)} / ${s('e2e-real').wallMs.toFixed(0)} ms`,
      ),
    ],
    figures: (s) => {
      // The few-clients run scaled to the same lines: what is left is what the clients cost.
      const perClient = (time: (m: Summary) => number) =>
        ((time(s('e2e-real')) - (time(s('e2e-1m')) * probe.linesRead) / few.linesRead) * 1000) / (probe.clients - few.clients);
      return [
        `per distinct client: ${perClient((m) => m.wallMs).toFixed(2)} µs wall, ${perClient((m) => m.cpuMs).toFixed(2)} µs CPU ` +
          `(realistic hour against the 1M-line log scaled to ${probe.linesRead} lines, ${probe.clients} vs ${few.clients} distinct clients)`,
      ];
    },
  };
  const original = await againstOriginal(setup, {
    id: 'original-real',
    what: 'original Python script, realistic hour',
    log: setup.logs.realistic,
    lines: probe.linesRead,
    ipanalyse: 'e2e-real',
    baseline: 'base-child-real',
    targetName: 'original / ipanalyse, realistic hour (end to end)',
    minSpeedup: MIN_SPEEDUP,
  });
  return [ours, original];
}
