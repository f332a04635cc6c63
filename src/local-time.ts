/** Dates as operators type them in a crontab: local time, `YYYY-mm-dd HH:MM:SS`, as the original takes them. */
import { format } from 'date-fns/format';
import { isValid } from 'date-fns/isValid';
import { parse } from 'date-fns/parse';

export const LOCAL_DATE_TIME_FORMAT = 'yyyy-MM-dd HH:mm:ss';

/** Returns the instant, or undefined when `text` is not a real local date and time in that form. */
export function parseLocalDateTime(text: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  const date = parse(text, LOCAL_DATE_TIME_FORMAT, new Date(0));
  return isValid(date) ? date : undefined;
}

export function formatLocalTime(epochSeconds: number): string {
  return format(new Date(epochSeconds * 1000), LOCAL_DATE_TIME_FORMAT);
}

/** The window as the summaries show it: `start .. end, short window from X (local time)`. */
export function describeWindow(window: { start: number; shortStart: number; end: number }): string {
  return `${formatLocalTime(window.start)} .. ${formatLocalTime(window.end)}, short window from ${formatLocalTime(window.shortStart)} (local time)`;
}
