/**
 * `ipanalyse simulate`: cron's job every minute over six hours of the
 * realistic population (Zipf, some 150k distinct clients an hour, 350k over
 * the seven hours read), next to one cron run over the same log's last hour.
 * The simulation reads every line of the period once and slides the window
 * over them, so its cost is that reading plus what changes at each step.
 */
import path from 'node:path';
import { formatStartDate } from '../../test/support/log-generator.js';
import { CLI } from '../../test/support/paths.js';
import { type Scenario, ratioTarget, runChild } from '../harness.js';
import { SIMULATED_HOURS, WINDOW_END, ensureSimulationLog } from '../logs.js';
import { type BenchSetup, runIpanalyse } from '../setup.js';

/**
 * A simulation should cost a few full-window runs, not one per step. The
 * period holds an hour of lines more than it spans (the first step's
 * window), seven hours for six, and no simulation reads less than every
 * line once: at a run's pace that alone is about six runs. The bound is
 * therefore per hour of lines read, half as much again as reading them, for
 * the steps and the rest: 10.5 runs for six hours, 37.5 for a day (against
 * 1,440 cron runs).
 */
const MAX_RUNS_PER_HOUR_READ = 1.5;
const STEPS = SIMULATED_HOURS * 60;
const MAX_RUNS = MAX_RUNS_PER_HOUR_READ * (SIMULATED_HOURS + 1);

export function simulation(setup: BenchSetup): Scenario {
  const log = ensureSimulationLog();
  const from = formatStartDate(WINDOW_END - STEPS * 60 + 60);
  const to = formatStartDate(WINDOW_END);
  const checks: string[] = [];
  return {
    checks,
    rows: [
      {
        id: 'sim-6h',
        what: `simulate ${SIMULATED_HOURS} h every minute, realistic`,
        group: 'child',
        lines: log.lines,
        measure: async (round) => {
          const outcome = await runChild('ipanalyse simulate', process.execPath, [CLI, 'simulate', '--settings', setup.settingsFile, '--from', from, '--to', to, '--loadavg', '1', log.file], { node: true });
          if (round === 0) checks.push(`simulate ${path.basename(log.file)} (${log.lines} lines) from ${from} to ${to}: ${/\d+ steps, \d+ decided/.exec(outcome.stdout)?.[0] ?? 'no summary'}`);
          return outcome;
        },
      },
      {
        id: 'sim-full',
        what: 'ipanalyse, the same log\'s last hour',
        group: 'child',
        measure: () => runIpanalyse('ipanalyse (simulation log, last hour)', setup.settingsFile, log),
      },
    ],
    targets: (s) => [
      ratioTarget(
        `simulate ${SIMULATED_HOURS} h every minute / one full-window run`,
        s('sim-6h'),
        s('sim-full'),
        { atMost: MAX_RUNS },
        `${s('sim-6h').wallMs.toFixed(0)} / ${s('sim-full').wallMs.toFixed(0)} ms, ${STEPS} steps`,
      ),
    ],
    figures: (s) => [`simulate: ${(s('sim-6h').wallMs / STEPS).toFixed(1)} ms a step with the reading, ${((s('sim-6h').wallMs / STEPS / s('sim-full').wallMs) * 100).toFixed(1)}% of a run`],
  };
}
