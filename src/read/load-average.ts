/** The machine's 15-minute load average: the one input of a run that is not a file we own. */
import { readFileSync } from 'node:fs';
import { InputError, describeSystemError } from '../errors.js';

/** Parses the third field of a /proc/loadavg line; undefined when it is not a number. */
export function parseLoadAverage(text: string): number | undefined {
  const field = text.trim().split(/\s+/)[2];
  const value = field === undefined ? NaN : Number(field);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

export function readLoadAverage(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the load average: ${describeSystemError(error, file)} (give --loadavg N to set it)`);
  }
  const value = parseLoadAverage(text);
  if (value === undefined) throw new InputError(`${file}: no 15-minute load average in its third field`);
  return value;
}
