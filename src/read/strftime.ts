/**
 * Apache's `%{format}t`: a strftime(3) format, compiled into a reader of the
 * timestamps it writes. Only the conversions that make an instant (and the
 * names that go with them) are understood; a format without `%z` is read in
 * the local time of the process (TZ), as Apache wrote it.
 */
import { monthAt, parsedEnd, utcMidnight } from './line-fields.js';

type Part =
  | { kind: 'literal'; byte: number }
  | { kind: 'digits'; width: number; unit: 'year' | 'year2' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'epoch'; padded: boolean }
  | { kind: 'month-name' }
  | { kind: 'zone' }
  | { kind: 'word' };

const EXPANSIONS: Record<string, string> = { T: '%H:%M:%S', F: '%Y-%m-%d', D: '%m/%d/%y', R: '%H:%M' };

/** Reads the instant at `at` (before `end`), sets parsedEnd.at and returns epoch seconds, or NaN. */
export type TimeReader = (buf: Uint8Array, at: number, end: number) => number;

/** Compiles a strftime format; returns the reader, or a message naming the conversion it cannot read. */
export function compileStrftime(format: string, where: string): TimeReader | string {
  const parts: Part[] = [];
  let expanded = format;
  for (const [letter, expansion] of Object.entries(EXPANSIONS)) expanded = expanded.split(`%${letter}`).join(expansion);
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i];
    if (c !== '%') {
      for (const byte of Buffer.from(c, 'utf8')) parts.push({ kind: 'literal', byte });
      continue;
    }
    const letter = expanded[++i];
    switch (letter) {
      case 'Y': parts.push({ kind: 'digits', width: 4, unit: 'year', padded: false }); break;
      case 'y': parts.push({ kind: 'digits', width: 2, unit: 'year2', padded: false }); break;
      case 'm': parts.push({ kind: 'digits', width: 2, unit: 'month', padded: false }); break;
      case 'd': parts.push({ kind: 'digits', width: 2, unit: 'day', padded: false }); break;
      case 'e': parts.push({ kind: 'digits', width: 2, unit: 'day', padded: true }); break;
      case 'H': parts.push({ kind: 'digits', width: 2, unit: 'hour', padded: false }); break;
      case 'M': parts.push({ kind: 'digits', width: 2, unit: 'minute', padded: false }); break;
      case 'S': parts.push({ kind: 'digits', width: 2, unit: 'second', padded: false }); break;
      case 's': parts.push({ kind: 'digits', width: 0, unit: 'epoch', padded: false }); break;
      case 'b':
      case 'h': parts.push({ kind: 'month-name' }); break;
      case 'z': parts.push({ kind: 'zone' }); break;
      case 'a':
      case 'A':
      case 'Z': parts.push({ kind: 'word' }); break;
      case '%': parts.push({ kind: 'literal', byte: 0x25 }); break;
      default:
        return `${where}: the time format '${format}' uses %${letter ?? ''}, which cannot be read back (use %Y %m %d %H %M %S %z %b, or sec / msec / usec)`;
    }
  }
  const units = new Set(parts.flatMap((p) => (p.kind === 'digits' ? [p.unit] : [])));
  const complete = units.has('epoch') || ((units.has('year') || units.has('year2')) && (units.has('month') || parts.some((p) => p.kind === 'month-name')) && units.has('day') && units.has('hour'));
  if (!complete) return `${where}: the time format '${format}' does not name an instant (it needs the date and the hour, or %s)`;
  const hasZone = parts.some((p) => p.kind === 'zone');

  return (buf, at, end) => {
    let year = 0;
    let month = 0;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let epoch = NaN;
    let offset = 0;
    let i = at;
    for (const part of parts) {
      if (part.kind === 'literal') {
        if (i >= end || buf[i] !== part.byte) return NaN;
        i++;
      } else if (part.kind === 'month-name') {
        if (i + 3 > end) return NaN;
        month = monthAt(buf, i);
        if (month < 0) return NaN;
        i += 3;
      } else if (part.kind === 'zone') {
        const sign = buf[i];
        if (i + 5 > end || (sign !== 0x2b && sign !== 0x2d)) return NaN;
        let value = 0;
        for (let k = 1; k <= 4; k++) {
          const d = buf[i + k] - 0x30;
          if (!(d >= 0 && d <= 9)) return NaN;
          value = value * 10 + d;
        }
        offset = (Math.floor(value / 100) * 3600 + (value % 100) * 60) * (sign === 0x2d ? -1 : 1);
        i += 5;
      } else if (part.kind === 'word') {
        const from = i;
        while (i < end && ((buf[i] | 0x20) >= 0x61 && (buf[i] | 0x20) <= 0x7a)) i++;
        if (i === from) return NaN;
      } else {
        if (part.padded && buf[i] === 0x20) i++;
        const from = i;
        const limit = part.width === 0 ? end : Math.min(end, i + part.width);
        let value = 0;
        while (i < limit && buf[i] >= 0x30 && buf[i] <= 0x39) value = value * 10 + buf[i++] - 0x30;
        if (i === from || (part.width > 0 && !part.padded && i - from !== part.width)) return NaN;
        if (part.unit === 'year') year = value;
        else if (part.unit === 'year2') year = 2000 + value;
        else if (part.unit === 'month') month = value - 1;
        else if (part.unit === 'day') day = value;
        else if (part.unit === 'hour') hour = value;
        else if (part.unit === 'minute') minute = value;
        else if (part.unit === 'second') second = value;
        else epoch = value;
      }
    }
    parsedEnd.at = i;
    if (epoch === epoch) return epoch;
    if (hour > 23 || minute > 59 || second > 60) return NaN;
    const midnight = utcMidnight(year, month, day);
    if (midnight !== midnight) return NaN;
    if (hasZone) return midnight + hour * 3600 + minute * 60 + second - offset;
    return Math.floor(new Date(year, month, day, hour, minute, second).getTime() / 1000);
  };
}
