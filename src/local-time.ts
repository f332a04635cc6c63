/** Dates as operators type them in a crontab: local time, `YYYY-mm-dd HH:MM:SS`, as the original takes them. */
import { isValid } from 'date-fns/isValid';
import { parse } from 'date-fns/parse';

export const LOCAL_DATE_TIME_FORMAT = 'yyyy-MM-dd HH:mm:ss';

/** Returns the instant, or undefined when `text` is not a real local date and time in that form. */
export function parseLocalDateTime(text: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  const date = parse(text, LOCAL_DATE_TIME_FORMAT, new Date(0));
  return isValid(date) ? date : undefined;
}
