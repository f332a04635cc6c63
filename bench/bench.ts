/**
 * `npm run bench`: how fast ipanalyse reads the last hour of a big access
 * log, next to the original Python script and a bare Node baseline, all
 * measured in one run over the same window.
 *
 * setup.ts generates (or reuses) the logs, warms the page cache and learns
 * where ipanalyse reads in each; every scenario in scenarios/ adds its rows
 * and targets; harness.ts measures every row BENCH_RUNS times (default 5),
 * round by round, and prints and writes the report.
 *
 * Environment: BENCH_RUNS (default 5), BENCH_PYTHON_RUNS (default BENCH_RUNS),
 * BENCH_ONLY (scenario names, comma-separated: only those, e.g. `simulate`).
 */
import os from 'node:os';
import { STARTDATE } from './logs.js';
import { measure, report } from './harness.js';
import { endToEnd } from './scenarios/end-to-end.js';
import { fixedCost } from './scenarios/fixed-cost.js';
import { flood } from './scenarios/flood.js';
import { networkFlood } from './scenarios/network-flood.js';
import { inProcess } from './scenarios/in-process.js';
import { original } from './scenarios/original.js';
import { seekAtScale } from './scenarios/seek-at-scale.js';
import { realistic } from './scenarios/realistic.js';
import { incremental } from './scenarios/incremental.js';
import { simulation } from './scenarios/simulate.js';
import type { Scenario } from './harness.js';
import { prepare } from './setup.js';

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  console.log(`ipanalyse bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), node ${process.version}, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  const setup = await prepare();
  // In this order in the table (processes first) and in the targets: the realistic hour is the headline.
  const all: [string, () => Scenario | Scenario[] | Promise<Scenario | Scenario[]>][] = [
    ['realistic', () => realistic(setup)],
    ['incremental', () => incremental(setup)],
    ['end-to-end', () => endToEnd(setup)],
    ['seek-at-scale', () => seekAtScale(setup)],
    ['fixed-cost', () => fixedCost(setup)],
    ['original', () => original(setup)],
    ['in-process', () => inProcess(setup)],
    ['flood', () => flood(setup)],
    ['network-flood', () => networkFlood(setup)],
    ['simulate', () => simulation(setup)],
  ];
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
  const unknown = only?.filter((name) => !all.some(([known]) => known === name)) ?? [];
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: no scenario ${unknown.join(', ')} (there are ${all.map(([name]) => name).join(', ')})`);
  const scenarios: Scenario[] = [];
  for (const [name, make] of all) if (!only || only.includes(name)) scenarios.push(...[await make()].flat());
  const { logs, probes, window } = setup;
  report(await measure(scenarios), {
    loadBefore,
    generateMs: logs.generateMs,
    inputs: {
      window: { startDate: STARTDATE, tz: 'UTC', start: window.start, end: window.end },
      logs: { small: { ...logs.small, probe: probes.small }, big: { ...logs.big, probe: probes.big }, flood: { ...logs.flood, probe: probes.flood }, realistic: { ...logs.realistic, probe: probes.realistic } },
    },
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
