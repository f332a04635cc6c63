/** `ipanalyse report`: a digest of the change log over a period, for a daily mail. Reads only; takes no lock. */
import { format } from 'date-fns/format';
import type { Argv } from 'yargs';
import { InputError, type Problem, UsageError, describeSystemError } from '../errors.js';
import { checkReadableFile } from '../read/bounded-file.js';
import { fileLines } from '../read/file-lines.js';
import { type Digest, buildDigest, renderDigest, renderDigestHtml, renderDigestJson } from '../report/digest.js';
import { writeFileAtomic } from '../write/atomic-write.js';
import { parseDuration } from '../settings/settings-schema.js';
import { CHANGE_MINUTE_FORMAT, type ChangeEntry, parseChangeLine } from '../write/change-log.js';
import { JSON_OPTION, type Output, SETTINGS_OPTION, resolveNow, resolveSettings } from './common.js';

export function reportOptions<T>(y: Argv<T>) {
  return y
    .option('settings', SETTINGS_OPTION)
    .option('changelog', { type: 'string', describe: 'change log (default: LOGFILE)' })
    .option('since', { type: 'string', default: '1 day', describe: "the period before now: '1 day', '12 h', '1 week'" })
    .option('now', { type: 'string', describe: 'the end of the period, "YYYY-mm-dd HH:MM:SS" (default: now)' })
    .option('json', JSON_OPTION)
    .option('html', { type: 'string', describe: 'also write the digest as one self-contained HTML page, with a chart of the changes per hour' });
}

type ReportArgs = Awaited<ReturnType<typeof reportOptions>['argv']>;

/** Change logs grow for years; a digest reads them as a stream of lines. */
const MAX_CHANGE_LOG_BYTES = 16 * 1024 * 1024 * 1024;

export async function reportCommand(args: ReportArgs, out: Output): Promise<Problem[]> {
  const duration = parseDuration(args.since);
  if ('problem' in duration) throw new UsageError(`--since: ${duration.problem}`);
  const now = resolveNow(args.now);
  const { settings } = await resolveSettings(args);
  const file = settings.LOGFILE;
  const minute = (offsetSeconds: number) => format(new Date(now.getTime() - offsetSeconds * 1000), CHANGE_MINUTE_FORMAT);
  const period = { from: minute(duration.seconds), until: minute(0) };

  let unreadable = 0;
  async function* entries(): AsyncGenerator<ChangeEntry> {
    for await (const line of await fileLines(file)) {
      if (line === '') continue;
      const entry = parseChangeLine(line);
      if (entry) yield entry;
      else unreadable++;
    }
  }
  let digest: Digest;
  try {
    checkReadableFile(file, MAX_CHANGE_LOG_BYTES, 'a change log');
    digest = await buildDigest(entries(), period, minute(2 * duration.seconds), () => unreadable);
  } catch (error) {
    throw new InputError(`cannot read the change log ${describeSystemError(error, file)}`);
  }
  if (args.html) writeFileAtomic(args.html, renderDigestHtml(digest, file));
  out.stdout(args.json ? renderDigestJson(digest, file) : renderDigest(digest, file));
  return [];
}
