/**
 * Which of the presets reads a log's lines: for the message of a run that
 * cannot read its log, and for `check-log`. Pure.
 */
import { canonicalizeIp } from '../address/ip-address.js';
import { CR, newLogEntry } from './line-fields.js';
import { type LineFormat, PRESETS, compileLogFormat } from './log-format.js';

/** The lines (without their newline) that `format` reads with a valid client address. */
export function linesRead(format: LineFormat, lines: readonly Buffer[]): number {
  const entry = newLogEntry();
  let read = 0;
  for (const line of lines) {
    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    if (format.scan(line, 0, end, entry) && canonicalizeIp(line.toString('latin1', entry.ipStart, entry.ipEnd)) !== undefined) read++;
  }
  return read;
}

/** The presets that read every one of `lines`, in PRESETS' order; none for no lines. */
export function presetsReading(lines: readonly Buffer[]): string[] {
  if (lines.length === 0) return [];
  return Object.keys(PRESETS).filter((name) => linesRead(compileLogFormat(name), lines) === lines.length);
}

/** What an operator would write in ip_blocks.conf to use `preset`: for `ownLog`, a log with its own formats, its entry in LOG_FILES. */
export function formatSetting(preset: string, ownLog?: string): string {
  return ownLog === undefined ? `LOG_FORMAT = '${preset}'` : `('${ownLog}', '${preset}') in LOG_FILES`;
}
