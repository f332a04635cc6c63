/** `ipanalyse explain IP LOGFILE [STARTDATE]`: what a run would decide for one address, and why. Writes nothing, takes no lock. */
import type { Argv } from 'yargs';
import { canonicalizeIp } from '../address/ip-address.js';
import { type Problem, UsageError } from '../errors.js';
import { explainAddress, renderExplanation, renderExplanationJson } from '../report/explain.js';
import { runAnalysis } from '../run.js';
import { type Output, resolveAnalysisInputs, resolveSettings, withAnalysisOptions } from './common.js';

export function explainOptions<T>(y: Argv<T>) {
  return withAnalysisOptions(y.positional('ip', { type: 'string', describe: 'the client address', demandOption: true }));
}

type ExplainArgs = Awaited<ReturnType<typeof explainOptions>['argv']>;

export async function explainCommand(args: ExplainArgs, out: Output): Promise<Problem[]> {
  const address = canonicalizeIp(args.ip);
  if (address === undefined) throw new UsageError(`'${args.ip}' is not an IPv4 or IPv6 address`);
  const inputs = resolveAnalysisInputs(args);
  const { loaded, settings } = await resolveSettings(args);
  // The decision comes from the real run, dry: the same plan as cron's, whatever it becomes.
  const report = await runAnalysis({ settings, ...inputs, format: args.format, dryRun: true });
  const explanation = explainAddress({ address, settings, origins: loaded.origins, report });
  for (const warning of report.warnings) out.stderr(`ipanalyse: warning: ${warning}\n`);
  out.stdout(args.json ? renderExplanationJson(explanation) : renderExplanation(explanation));
  return [];
}
