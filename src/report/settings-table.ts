/** `check-config`: every effective setting, its value and where it came from. Pure. */
import { formatDuration } from 'date-fns/formatDuration';
import { intervalToDuration } from 'date-fns/intervalToDuration';
import type { LoadedSettings, Settings } from '../settings/settings.js';

export interface SettingRow {
  key: keyof Settings;
  value: Settings[keyof Settings];
  /** `default`, or `FILE:LINE`. */
  origin: string;
}

export function listSettings(loaded: LoadedSettings): SettingRow[] {
  return (Object.keys(loaded.settings) as (keyof Settings)[]).map((key) => ({ key, value: loaded.settings[key], origin: loaded.origins[key] }));
}

/** Values in the settings file's own syntax, so that a line can be copied back into it. */
export function formatSettingValue(key: keyof Settings, value: Settings[keyof Settings]): string {
  if (key === 'LOG_FILES') return formatLogFiles(value as Settings['LOG_FILES']);
  if (Array.isArray(value)) {
    const strings = value as string[];
    return strings.length === 1 ? `(${quote(strings[0])},)` : `(${strings.map(quote).join(', ')})`;
  }
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === undefined) return 'None';
  if (typeof value === 'number' && (key === 'BLOCKCOOLOFF_SECONDS' || key === 'BULKCOOLOFF_SECONDS')) {
    return `${value} s (${formatDuration(intervalToDuration({ start: 0, end: value * 1000 }))})`;
  }
  return String(value);
}

function formatLogFiles(files: Settings['LOG_FILES']): string {
  const entries = files.map(({ path, formats }) => (formats === undefined ? quote(path) : `(${quote(path)}, ${formatSettingValue('LOG_FORMAT', formats)})`));
  return entries.length === 1 ? `(${entries[0]},)` : `(${entries.join(', ')})`;
}

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function renderSettingsTable(loaded: LoadedSettings, settingsFile: string): string {
  const rows = listSettings(loaded).map((row) => [row.key, formatSettingValue(row.key, row.value), row.origin]);
  const header = ['SETTING', 'VALUE', 'FROM'];
  // A long list (a big WHITELIST) would push every other row's origin off screen: it overflows its column instead.
  const widths = [0, 1].map((column) => Math.min(48, Math.max(...[header, ...rows].map((cells) => cells[column].length))));
  const line = (cells: string[]) => `${cells[0].padEnd(widths[0])}  ${cells[1].padEnd(widths[1])}  ${cells[2]}`.trimEnd();
  const where = loaded.file ? `${loaded.file}: valid` : `no settings file at ${settingsFile}: every value is the default`;
  return `${[where, '', line(header), ...rows.map(line)].join('\n')}\n`;
}

export function renderSettingsJson(loaded: LoadedSettings): string {
  const settings = Object.fromEntries(listSettings(loaded).map(({ key, value, origin }) => [key, { value: value ?? null, origin }]));
  return `${JSON.stringify({ file: loaded.file ?? null, valid: true, settings })}\n`;
}
