/** `ipanalyse check-log [--log-format F] LOGFILE`: does the configured format read this log? Reads only. */
import type { Argv } from 'yargs';
import type { Problem } from '../errors.js';
import { compileLogFormats, clientFieldOf } from '../read/log-format.js';
import { readLogSample } from '../read/log-sample.js';
import { checkLog, renderLogCheck, renderLogCheckJson, suggestedSetting } from '../report/check-log.js';
import { JSON_OPTION, type Output, SETTINGS_OPTION, ownLogFormats, resolveNow, resolveSettings } from './common.js';

export function checkLogOptions<T>(y: Argv<T>) {
  return y
    .positional('logfile', { type: 'string', describe: 'the access log', demandOption: true })
    .option('settings', SETTINGS_OPTION)
    .option('log-format', { type: 'string', describe: "the format to check (default: the log's own in LOG_FILES, else LOG_FORMAT)" })
    .option('now', { type: 'string', describe: 'the clock the newest line\'s age is measured against (default: now)' })
    .option('json', JSON_OPTION);
}

type CheckLogArgs = Awaited<ReturnType<typeof checkLogOptions>['argv']>;

/** Exit 0 only when the formats in force read the log, as a run would: else the run's own 'blind' outcome. */
export async function checkLogCommand(args: CheckLogArgs, out: Output): Promise<Problem[]> {
  const now = resolveNow(args.now);
  const { settings } = await resolveSettings(args);
  const file = args.logfile as string;
  // As a run reads this log: with its own formats in LOG_FILES when it has some, unless --log-format names one to check.
  const own = args['log-format'] === undefined ? ownLogFormats(settings, file) : undefined;
  const formatNames = own ?? settings.LOG_FORMAT;
  const formats = compileLogFormats(formatNames, clientFieldOf(settings.CLIENT_ADDRESS));
  const sample = readLogSample(file);
  const check = checkLog({ file, ...sample, formats, formatNames, fromLogFiles: own !== undefined, maxUnreadableShare: settings.MAX_UNREADABLE_SHARE, now });
  out.stdout(args.json ? renderLogCheckJson(check) : renderLogCheck(check));
  return check.readable ? [] : [{ kind: 'blind', message: `${file}: the formats in force do not read this log${check.suggestions.length > 0 ? `; ${suggestedSetting(check)} does` : ''}` }];
}
