/** `ipanalyse status`: the current map and the last change-log lines. Reads only; takes no lock. */
import type { Argv } from 'yargs';
import { InputError, type Problem, UsageError, describeSystemError } from '../errors.js';
import { type LastRun, type Status, renderStatus, renderStatusJson, summariseLastRun, summariseMap } from '../report/status.js';
import { readBoundedFile } from '../read/bounded-file.js';
import { readLastLines } from '../read/tail-lines.js';
import { readMapWithAge } from '../write/map-store.js';
import { type Output, resolveNow, resolveSettings, withSettingsOptions } from './common.js';

export function statusOptions<T>(y: Argv<T>) {
  return withSettingsOptions(y)
    .option('lines', { type: 'number', default: 10, describe: 'how many change-log lines to show' })
    .option('now', { type: 'string', describe: 'the clock the map\'s age is measured against, "YYYY-mm-dd HH:MM:SS" (default: now)' })
    .option('metrics', { type: 'string', describe: 'the metrics file the runs write, to show the last run (default: METRICS_FILE)' });
}

type StatusArgs = Awaited<ReturnType<typeof statusOptions>['argv']>;

export async function statusCommand(args: StatusArgs, out: Output): Promise<Problem[]> {
  if (!(Number.isSafeInteger(args.lines) && args.lines >= 0)) throw new UsageError('--lines needs a whole number of 0 or more');
  const now = resolveNow(args.now);
  const { settings } = await resolveSettings(args);
  const mapFile = settings.BLOCKEDFILE;
  const map = readMapWithAge(mapFile);
  const status: Status = {
    mapFile,
    map: map ? summariseMap(mapFile, map.text, map.modified, now) : null,
    lastRun: settings.METRICS_FILE ? lastRunOf(settings.METRICS_FILE) : null,
    changeLog: { file: settings.LOGFILE, lines: tail(settings.LOGFILE, args.lines) },
  };
  out.stdout(args.json ? renderStatusJson(status) : renderStatus(status));
  return [];
}

/** What the metrics file says of the last run; null when there is none yet. */
function lastRunOf(file: string): LastRun | null {
  try {
    return summariseLastRun(file, readBoundedFile(file, 1024 * 1024, 'a metrics file').toString('utf8'));
  } catch {
    return null;
  }
}

/** The last lines, or null when there is no change log yet. */
function tail(file: string, lines: number): string[] | null {
  try {
    return readLastLines(file, lines);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(`cannot read the change log ${describeSystemError(error, file)}`);
  }
}
