/** `ipanalyse check-config`: validates the settings and shows every effective value and its origin. */
import path from 'node:path';
import type { Argv } from 'yargs';
import { renderSettingsJson, renderSettingsTable } from '../settings-table.js';
import { BASE_DIR, type Output, resolveSettings } from './common.js';

export function checkConfigOptions<T>(y: Argv<T>) {
  return y
    .option('settings', { type: 'string', describe: 'settings file (default: BASEDIR/settings/ip_blocks.conf)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' });
}

type CheckConfigArgs = Awaited<ReturnType<typeof checkConfigOptions>['argv']>;

/** An invalid file throws the same ConfigError as a run (exit 78, every problem). */
export async function checkConfigCommand(args: CheckConfigArgs, out: Output): Promise<void> {
  const { loaded } = await resolveSettings({ settings: args.settings });
  const settingsFile = args.settings ?? path.join(BASE_DIR, 'settings/ip_blocks.conf');
  out.stdout(args.json ? renderSettingsJson(loaded) : renderSettingsTable(loaded, settingsFile));
}
