/** The load average of a simulated period: one number, or a series of (time, value) lines. Pure. */
import { parseLocalDateTime } from '../local-time.js';

export interface LoadSample {
  /** Epoch seconds. */
  time: number;
  value: number;
}

/**
 * Reads lines of `TIME VALUE` (or `TIME,VALUE`), TIME in epoch seconds or
 * "YYYY-mm-dd HH:MM:SS" local time; `#` starts a comment. Throws on a line
 * it cannot read, naming it.
 */
export function parseLoadSeries(text: string, name: string): LoadSample[] {
  const samples: LoadSample[] = [];
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const match = /^(.+?)[\s,;]+([0-9]+(?:\.[0-9]*)?)$/.exec(line);
    const time = match && (/^\d+(\.\d+)?$/.test(match[1]) ? Number(match[1]) : (parseLocalDateTime(match[1].trim())?.getTime() ?? NaN) / 1000);
    if (!match || time === null || !Number.isFinite(time)) throw new Error(`${name}:${n + 1}: not "TIME VALUE" (TIME in epoch seconds or "YYYY-mm-dd HH:MM:SS"): ${raw}`);
    samples.push({ time, value: Number(match[2]) });
  }
  if (samples.length === 0) throw new Error(`${name}: no load average in it`);
  return samples.sort((a, b) => a.time - b.time);
}

/** The load at `time`: the latest sample at or before it, or the first one before the series starts. */
export function loadAt(samples: readonly LoadSample[], time: number): number {
  let low = 0;
  let high = samples.length - 1;
  if (time < samples[0].time) return samples[0].value;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (samples[mid].time <= time) low = mid;
    else high = mid - 1;
  }
  return samples[low].value;
}
