/** `ipanalyse explain IP LOGFILE [STARTDATE]`: what a run would decide for one address, and why. Writes nothing, takes no lock. */
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { explainAddress, renderExplanation, renderExplanationJson } from '../report/explain.js';
import { canonicalizeIp } from '../address/ip-address.js';
import { parseMap } from '../write/map-file.js';
import { readMapText, runAnalysis } from '../run.js';
import { type Output, resolveAnalysisInputs, resolveSettings, withAnalysisOptions } from './common.js';

export function explainOptions<T>(y: Argv<T>) {
  return withAnalysisOptions(y.positional('ip', { type: 'string', describe: 'the client address', demandOption: true }));
}

type ExplainArgs = Awaited<ReturnType<typeof explainOptions>['argv']>;

export async function explainCommand(args: ExplainArgs, out: Output): Promise<void> {
  const address = canonicalizeIp(args.ip);
  if (address === undefined) throw new UsageError(`'${args.ip}' is not an IPv4 or IPv6 address`);
  const inputs = resolveAnalysisInputs(args);
  const { loaded, mapFile, changeLogFile } = await resolveSettings(args);
  const { settings } = loaded;
  // The decision comes from the real run, dry: the same code as cron's, whatever it becomes.
  const report = await runAnalysis({ settings, ...inputs, mapFile, changeLogFile, format: args.format, dryRun: true });
  const explanation = explainAddress({
    address,
    settings,
    origins: loaded.origins,
    mapFile,
    // A run that decided nothing never read the map.
    previous: report.previousStates ?? parseMap(readMapText(mapFile) ?? '').states,
    report,
    stats: report.clientTable?.get(address),
  });
  for (const warning of report.warnings) out.stderr(`ipanalyse: warning: ${warning}\n`);
  out.stdout(args.json ? renderExplanationJson(explanation) : renderExplanation(explanation));
}
