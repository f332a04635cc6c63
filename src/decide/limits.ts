/**
 * The limits in force for one run, adapted to the machine's load exactly as
 * the original script does (its lines 302-316).
 */
import type { Settings } from '../settings/settings.js';

export type LimitSettings = Pick<
  Settings,
  | 'BULKLONG_LIMIT'
  | 'BULKSHORT_LIMIT'
  | 'BLOCK_UPPER'
  | 'BLOCK_LOWER'
  | 'BLOCK_LOADFAC'
  | 'BULK_LOADFAC'
  | 'BULK_LOWER'
  | 'MAX_BULK_IPS'
  | 'BULKCOOLOFF_SECONDS'
>;

export interface Limits {
  /** The 15-minute load average as read, and its integer part, which is what counts. */
  loadAverage: number;
  cpuload: number;
  /** API requests answered 200 per second over the short window. */
  dbload: number;
  total200: number;
  /** Clients in state bulk in the previous map. */
  numbulks: number;
  /** A bulk client above this (long window; a third of it in the short window) is blocked. */
  blockLimit: number;
  /** Which rule set blockLimit, in plain words. */
  blockLimitReason: string;
  /** A client above this many API requests in the long window becomes bulk. */
  bulkLongLimit: number;
  bulkShortLimit: number;
  /** Anyone above this (a third of it in the short window) is blocked outright. */
  blockUpper: number;
}

/** Returns the limits for a run; pure, so that every boundary can be tested with plain numbers. */
export function adjustLimits(settings: LimitSettings, loadAverage: number, total200: number, numbulks: number): Limits {
  const cpuload = Math.trunc(loadAverage);
  const dbload = total200 / settings.BULKCOOLOFF_SECONDS;
  let blockLimit = Math.max(settings.BLOCK_LOWER, settings.BLOCK_UPPER - settings.BLOCK_LOADFAC * (dbload - 75));
  let blockLimitReason =
    blockLimit === settings.BLOCK_LOWER
      ? `BLOCK_LOWER (database load ${formatNumber(dbload)}/s is high)`
      : `BLOCK_UPPER - BLOCK_LOADFAC * (dbload ${formatNumber(dbload)}/s - 75)`;
  const bulkLongLimit = Math.max(settings.BULK_LOWER, settings.BULKLONG_LIMIT - settings.BULK_LOADFAC * (cpuload - 14));
  if (numbulks > settings.MAX_BULK_IPS) {
    blockLimit = Math.max(3600, settings.BLOCK_LOWER - (numbulks - settings.MAX_BULK_IPS) * 10);
    blockLimitReason = `${numbulks} bulk clients, more than MAX_BULK_IPS ${settings.MAX_BULK_IPS}: the bulk pool is crowded`;
  }
  // An almost empty bulk pool serves its clients faster; do not punish them for it.
  if (numbulks < 10) {
    blockLimit = 2 * settings.BLOCK_UPPER;
    blockLimitReason = `only ${numbulks} bulk clients (fewer than 10): twice BLOCK_UPPER`;
  }
  return {
    loadAverage,
    cpuload,
    dbload,
    total200,
    numbulks,
    blockLimit,
    blockLimitReason,
    bulkLongLimit,
    bulkShortLimit: settings.BULKSHORT_LIMIT,
    blockUpper: settings.BLOCK_UPPER,
  };
}

export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
