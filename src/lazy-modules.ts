/**
 * Node's modules that most runs never use, loaded when first asked for: zlib
 * for a compressed generation, child_process for ON_CHANGE. Loaded at the
 * start, they took a cron run 1.5 ms.
 */
import { lazyRequire } from './lazy-require.js';

export const zlib = lazyRequire<typeof import('node:zlib')>('node:zlib');
export const childProcess = lazyRequire<typeof import('node:child_process')>('node:child_process');
