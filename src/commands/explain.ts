/** `ipanalyse explain IP LOGFILE... [STARTDATE]`: what a run would decide for one address, and why. Writes nothing, takes no lock. */
import type { Argv } from 'yargs';
import { parseListEntry } from '../address/address-list.js';
import { PER_ADDRESS, clientKeyFunction, countsPerAddress } from '../address/client-key.js';
import { canonicalizeIp } from '../address/ip-address.js';
import { type LogToRead, readWindows } from '../read/read-window.js';
import type { AnalysisWindow, ClientStats } from '../read/window-stats.js';
import type { Settings } from '../settings/settings.js';
import { type Problem, UsageError } from '../errors.js';
import { type LogShare, explainAddress, renderExplanation, renderExplanationJson } from '../report/explain.js';
import { runAnalysis } from '../run.js';
import { type Output, resolveAnalysisInputs, resolveLogs, resolveSettings, withAnalysisOptions } from './common.js';

export function explainOptions<T>(y: Argv<T>) {
  return withAnalysisOptions(y.positional('ip', { type: 'string', describe: 'the client address, or the network it is counted under (2001:db8:1:2::/64)', demandOption: true }));
}

const BUSIEST = 5;

type ExplainArgs = Awaited<ReturnType<typeof explainOptions>['argv']>;

/** The address or network asked about, canonical, and the key it is counted under. */
function subjectOf(text: string, keyOf: (address: string) => string): { address: string; key: string } {
  const address = canonicalizeIp(text);
  if (address !== undefined) return { address, key: keyOf(address) };
  const parsed = text.includes('/') ? parseListEntry(text) : undefined;
  if (parsed && 'entry' in parsed) {
    const network = parsed.entry;
    const counted = keyOf(network.split('/')[0]);
    if (counted !== network) throw new UsageError(`${network} is not a network clients are counted under here (its first address is counted as ${counted}): give an address, or ${counted}`);
    return { address: network, key: network };
  }
  throw new UsageError(`'${text}' is not an IPv4 or IPv6 address or network${parsed && 'problem' in parsed ? ` (${parsed.problem})` : ''}`);
}

/**
 * The client's requests in each log: the run sums them into one table, so
 * each log is read again on its own, dry (its problems were the run's to report).
 */
async function sharesPerLog(logs: readonly LogToRead[], settings: Settings, window: AnalysisWindow, key: string): Promise<LogShare[]> {
  const shares: LogShare[] = [];
  for (const log of logs) {
    const { stats } = await readWindows([log], { ...settings, MIN_LOG_SIZE: 0 }, window, []);
    shares.push({ logFile: log.path, stats: stats?.clients.get(key) ?? null });
  }
  return shares;
}

export async function explainCommand(args: ExplainArgs, out: Output): Promise<Problem[]> {
  const { logFiles, ...analysisInputs } = resolveAnalysisInputs(args);
  const { loaded, settings } = await resolveSettings(args);
  const logs = resolveLogs(logFiles, settings);
  const inputs = { ...analysisInputs, logs };
  const prefixes = { ipv4: settings.IPV4_PREFIX, ipv6: settings.IPV6_PREFIX };
  const keyOf = clientKeyFunction(prefixes);
  const { address, key } = subjectOf(args.ip, keyOf);
  // The decision comes from the real run, dry: the same plan as cron's, whatever it becomes.
  const report = await runAnalysis({ settings, ...inputs, format: args.format, dryRun: true });
  let busiest: { address: string; stats: ClientStats }[] = [];
  if (!countsPerAddress(prefixes)) {
    // The run keeps no per-address counts of a network; a second, per-address read of the same window has them.
    const perAddress = await runAnalysis({ settings: { ...settings, IPV4_PREFIX: PER_ADDRESS.ipv4, IPV6_PREFIX: PER_ADDRESS.ipv6 }, ...inputs, format: args.format, dryRun: true });
    const { plan } = perAddress;
    if (plan.decided) {
      busiest = [...plan.clients()].filter(([a]) => keyOf(a) === key).sort((a, b) => b[1].longTotal - a[1].longTotal).slice(0, BUSIEST).map(([a, stats]) => ({ address: a, stats }));
    }
  }
  const perLog = logs.length > 1 ? await sharesPerLog(logs, settings, report.window, key) : undefined;
  const explanation = explainAddress({ address, key, busiest, perLog, settings, origins: loaded.origins, report });
  for (const warning of report.warnings) out.stderr(`ipanalyse: warning: ${warning}\n`);
  out.stdout(args.json ? renderExplanationJson(explanation) : renderExplanation(explanation));
  return [];
}
