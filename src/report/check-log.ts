/** `check-log`: which format reads a log's sample, what cannot be read, and how old the log is. Pure. */
import { formatSetting, linesRead, presetsReading } from '../read/detect-format.js';
import { CR } from '../read/line-fields.js';
import { type LineFormat, PRESETS, compileLogFormat, lineTimeOf } from '../read/log-format.js';
import { formatLocalTime } from '../local-time.js';
import { describeFormats } from '../decide/plan.js';
import { formatAge } from './summary.js';

export interface LogCheck {
  file: string;
  size: number;
  /** The formats in force, as configured. */
  formats: string[];
  /** Whether they are the log's own, from its entry in LOG_FILES (else LOG_FORMAT's, or --log-format's). */
  fromLogFiles: boolean;
  sampledLines: number;
  /** Lines of the sample the formats in force read, 0 to 1. */
  readShare: number;
  /** The most that may be unreadable before a run refuses to decide (MAX_UNREADABLE_SHARE). */
  maxUnreadableShare: number;
  /** True when a run with these formats would read this log. */
  readable: boolean;
  /** Each preset's share of the sample it reads. */
  presets: { name: string; readShare: number }[];
  /** The presets that read every line the formats in force cannot read (none when they read all). */
  suggestions: string[];
  /** A few lines the formats in force cannot read, printable. */
  unreadableSamples: string[];
  /** First and last line times of the sample, epoch seconds; null when none is readable. */
  firstLineTime: number | null;
  newestLineTime: number | null;
  newestLineAgeSeconds: number | null;
}

const MAX_SAMPLES = 3;

function withoutCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
}

function lineTimes(formats: LineFormat[], lines: Buffer[]): number[] {
  const lineTime = lineTimeOf(formats);
  const times: number[] = [];
  for (const line of lines) {
    const bytes = withoutCr(line);
    const time = lineTime(bytes, 0, bytes.length);
    if (time === time) times.push(time);
  }
  return times;
}

export function checkLog(input: { file: string; size: number; head: Buffer[]; tail: Buffer[]; formats: LineFormat[]; formatNames: string[]; fromLogFiles: boolean; maxUnreadableShare: number; now: Date }): LogCheck {
  const lines = [...input.head, ...input.tail];
  const unreadable = lines.filter((line) => !input.formats.some((format) => linesRead(format, [line]) === 1));
  const readShare = lines.length === 0 ? 0 : 1 - unreadable.length / lines.length;
  const presets = Object.keys(PRESETS).map((name) => ({ name, readShare: lines.length === 0 ? 0 : linesRead(compileLogFormat(name), lines) / lines.length }));
  const times = lineTimes(input.formats, lines);
  const newest = times.length > 0 ? Math.max(...times) : null;
  return {
    file: input.file,
    size: input.size,
    formats: input.formatNames,
    fromLogFiles: input.fromLogFiles,
    sampledLines: lines.length,
    readShare,
    maxUnreadableShare: input.maxUnreadableShare,
    readable: lines.length > 0 && 1 - readShare <= input.maxUnreadableShare,
    presets,
    suggestions: unreadable.length > 0 ? presetsReading(unreadable) : [],
    unreadableSamples: unreadable.slice(0, MAX_SAMPLES).map((line) => line.toString('latin1', 0, Math.min(line.length, 200)).replace(/[^\x20-\x7e]/g, '?')),
    firstLineTime: times.length > 0 ? Math.min(...times) : null,
    newestLineTime: newest,
    newestLineAgeSeconds: newest === null ? null : Math.floor(input.now.getTime() / 1000) - newest,
  };
}

const percent = (share: number) => `${(100 * share).toFixed(share > 0.99 && share < 1 ? 1 : 0)}%`;

export function renderLogCheck(c: LogCheck): string {
  const out = [`log:       ${c.file} (${c.size} bytes), ${c.sampledLines} lines sampled from its start and its end`];
  out.push(`format:    ${describeFormats(c.formats)}${c.fromLogFiles ? ' (its own, in LOG_FILES)' : ''} reads ${percent(c.readShare)} of them: ${c.readable ? 'readable' : `NOT readable (a run refuses more than ${percent(c.maxUnreadableShare)} unreadable)`}`);
  for (const sample of c.unreadableSamples) out.push(`           unreadable: ${sample}`);
  const reading = c.presets.filter((p) => p.readShare > 0).map((p) => `${p.name} ${percent(p.readShare)}`);
  out.push(`presets:   ${reading.length > 0 ? reading.join(', ') : 'none reads any line'}`);
  if (!c.readable && c.suggestions.length > 0) out.push(`use:       ${suggestedSetting(c)}${c.fromLogFiles ? '' : ` (or --log-format ${c.suggestions[0]})`}`);
  if (c.firstLineTime !== null && c.newestLineTime !== null && c.newestLineAgeSeconds !== null) {
    const age = c.newestLineAgeSeconds < 0 ? `stamped ${-c.newestLineAgeSeconds} s ahead of the clock` : `${formatAge(c.newestLineAgeSeconds)} old`;
    out.push(`time:      ${formatLocalTime(c.firstLineTime)} .. ${formatLocalTime(c.newestLineTime)} (local time); the newest line is ${age}`);
  } else out.push('time:      no line with a readable time');
  return `${out.join('\n')}\n`;
}

/** The setting that gives the checked log the first preset that reads it: its entry in LOG_FILES when it has one, else LOG_FORMAT. */
export function suggestedSetting(c: LogCheck): string {
  return formatSetting(c.suggestions[0], c.fromLogFiles ? c.file : undefined);
}

export function renderLogCheckJson(c: LogCheck): string {
  return `${JSON.stringify(c)}\n`;
}
