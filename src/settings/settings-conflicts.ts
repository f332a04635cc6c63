/**
 * Settings that are each valid but contradict each other, or can never take
 * effect given the formulas of decide/limits.ts. Pure. They are warnings,
 * not errors: the original accepts them, and a run with them is well defined.
 */
import type { SettingOrigins, Settings } from './settings.js';

export interface SettingConflict {
  /** The settings involved, each shown with where it was set. */
  keys: (keyof Settings)[];
  message: string;
}

/** The load average's integer part at which the bulk formula uses BULKLONG_LIMIT unchanged. */
const NOMINAL_CPULOAD = 14;
const NOMINAL_DBLOAD = 75;

export function findConflicts(s: Settings): SettingConflict[] {
  const conflicts: SettingConflict[] = [];
  const add = (keys: (keyof Settings)[], message: string) => conflicts.push({ keys, message });

  // bulk limit = max(BULK_LOWER, BULKLONG_LIMIT - BULK_LOADFAC * (cpuload - 14)), cpuload >= 0.
  const highestBulkLimit = s.BULKLONG_LIMIT + s.BULK_LOADFAC * NOMINAL_CPULOAD;
  const lowestBulkLimit = s.BULK_LOADFAC > 0 ? s.BULK_LOWER : Math.max(s.BULK_LOWER, s.BULKLONG_LIMIT);
  if (s.BULK_LOADFAC === 0 && s.BULKLONG_LIMIT > s.BULK_LOWER) {
    add(['BULK_LOWER', 'BULK_LOADFAC', 'BULKLONG_LIMIT'], `with BULK_LOADFAC 0 the bulk limit is always BULKLONG_LIMIT ${s.BULKLONG_LIMIT}: BULK_LOWER ${s.BULK_LOWER} never takes effect`);
  }
  if (s.BULK_LOWER >= highestBulkLimit) {
    add(['BULK_LOWER', 'BULKLONG_LIMIT', 'BULK_LOADFAC'], `BULK_LOWER ${s.BULK_LOWER} is at or above the highest bulk limit the load formula gives (${highestBulkLimit}, at load 0): the bulk limit is always BULK_LOWER and does not follow the load`);
  }
  if (lowestBulkLimit >= s.BLOCK_UPPER) {
    add(['BULK_LOWER', 'BLOCK_UPPER'], `the bulk limit never drops below ${lowestBulkLimit}, but anyone above BLOCK_UPPER ${s.BLOCK_UPPER} is blocked outright first: no client ever becomes bulk on the long window`);
  }
  if (s.BULKSHORT_LIMIT >= s.BLOCK_UPPER / 3) {
    add(['BULKSHORT_LIMIT', 'BLOCK_UPPER'], `BULKSHORT_LIMIT ${s.BULKSHORT_LIMIT} is at or above a third of BLOCK_UPPER (${round(s.BLOCK_UPPER / 3)}), where anyone is blocked outright: the short bulk limit never takes effect`);
  }
  // block limit for bulk clients = max(BLOCK_LOWER, BLOCK_UPPER - BLOCK_LOADFAC * (dbload - 75)); above BLOCK_UPPER anyone is blocked already.
  if (s.BLOCK_LOWER > s.BLOCK_UPPER) {
    add(['BLOCK_LOWER', 'BLOCK_UPPER'], `BLOCK_LOWER ${s.BLOCK_LOWER} is above BLOCK_UPPER ${s.BLOCK_UPPER}: a bulk client is blocked outright at BLOCK_UPPER before the block limit for bulk clients (at least BLOCK_LOWER) applies`);
  } else if (s.BLOCK_LOADFAC === 0 && s.BLOCK_UPPER > s.BLOCK_LOWER) {
    add(['BLOCK_LOWER', 'BLOCK_LOADFAC'], `with BLOCK_LOADFAC 0 the block limit for bulk clients is always BLOCK_UPPER ${s.BLOCK_UPPER}: BLOCK_LOWER ${s.BLOCK_LOWER} never takes effect`);
  } else if (s.BLOCK_UPPER + s.BLOCK_LOADFAC * NOMINAL_DBLOAD <= s.BLOCK_LOWER) {
    add(['BLOCK_LOWER', 'BLOCK_LOADFAC'], `the block limit for bulk clients is always BLOCK_LOWER ${s.BLOCK_LOWER}: it does not follow the database load`);
  }
  return conflicts;
}

/** One line per conflict: `KEY (ORIGIN) and KEY (ORIGIN): message`. */
export function describeConflict(conflict: SettingConflict, origins: SettingOrigins): string {
  return `${conflict.keys.map((key) => `${key} (${origins[key]})`).join(' and ')}: ${conflict.message}`;
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
