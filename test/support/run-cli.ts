import { spawnSync } from 'node:child_process';
import { CLI } from './paths.js';

/** A child's whole environment, so that nothing leaks in from the caller's and local time is UTC. */
export const CHILD_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' };

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real binary, as cron would, with the time zone pinned. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...CHILD_ENV, ...options.env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
