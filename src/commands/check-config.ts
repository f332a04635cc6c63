/** `ipanalyse check-config`: validates the settings and shows every effective value and its origin. */
import type { Argv } from 'yargs';
import type { Problem } from '../errors.js';
import { describeConflict, findConflicts } from '../settings/settings-conflicts.js';
import { renderSettingsJson, renderSettingsTable } from '../report/settings-table.js';
import { JSON_OPTION, LAYOUT, type Output, SETTINGS_OPTION, resolveSettings } from './common.js';

export function checkConfigOptions<T>(y: Argv<T>) {
  return y.option('settings', SETTINGS_OPTION).option('json', JSON_OPTION);
}

type CheckConfigArgs = Awaited<ReturnType<typeof checkConfigOptions>['argv']>;

/** An invalid file throws the same ConfigError as a run (exit 78, every problem). */
export async function checkConfigCommand(args: CheckConfigArgs, out: Output): Promise<Problem[]> {
  const { loaded } = await resolveSettings({ settings: args.settings });
  const settingsFile = args.settings ?? LAYOUT.settingsFile;
  out.stdout(args.json ? renderSettingsJson(loaded) : renderSettingsTable(loaded, settingsFile));
  // Valid but contradictory: a warning, exit 0, as a run with them is well defined.
  for (const conflict of findConflicts(loaded.settings)) out.stderr(`ipanalyse: warning: ${describeConflict(conflict, loaded.origins)}\n`);
  return [];
}
