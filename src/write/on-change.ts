/**
 * The operator's command run after the map changed (e.g. `nginx -t && nginx
 * -s reload`), and the memory of a reload that failed: until one succeeds,
 * the web server may be serving an old map, so every following run retries.
 */
import { readFileSync, rmSync } from 'node:fs';
import { childProcess } from '../lazy-modules.js';
import { writeFileAtomic } from './atomic-write.js';

/** What is kept of the command's output for the message; the rest is read and dropped, never fatal. */
const OUTPUT_CAP_BYTES = 64 * 1024;
/** How long a command may ignore SIGTERM before its whole process group gets SIGKILL. */
const KILL_GRACE_MS = 2000;

/**
 * Runs `command` through /bin/sh in a process group of its own, with
 * IPANALYSE_MAP set to the map's path. After `timeoutSeconds` the whole group
 * (the shell and whatever it started) gets SIGTERM, then SIGKILL. Returns
 * undefined when it succeeded, else why it failed, in one line.
 */
export async function runOnChange(command: string, mapFile: string, timeoutSeconds: number): Promise<string | undefined> {
  const child = childProcess().spawn('/bin/sh', ['-c', command], {
    env: { ...process.env, IPANALYSE_MAP: mapFile },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const kept: Buffer[] = [];
  let keptBytes = 0;
  const keep = (chunk: Buffer) => {
    if (keptBytes >= OUTPUT_CAP_BYTES) return;
    kept.push(chunk.subarray(0, OUTPUT_CAP_BYTES - keptBytes));
    keptBytes += chunk.length;
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timeout = setTimeout(() => {
    timedOut = true;
    signalGroup('SIGTERM');
    // The shell may die of TERM while a child that ignores it lives on: the group gets KILL either way.
    killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
  }, timeoutSeconds * 1000);

  const ended = await new Promise<{ status: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ status: null, signal: null, error }));
    child.once('exit', (status, signal) => resolve({ status, signal }));
  });
  clearTimeout(timeout);
  if (timedOut) {
    await new Promise((resolve) => setTimeout(resolve, KILL_GRACE_MS));
    clearTimeout(killTimer);
    signalGroup('SIGKILL');
  }
  // A daemon the command started may hold the pipes open for ever; its output is not ours to wait for.
  child.stdout.destroy();
  child.stderr.destroy();

  if (!timedOut && !ended.error && ended.status === 0) return undefined;
  const how = timedOut
    ? `timed out after ${timeoutSeconds} s; its process group was killed`
    : ended.error
      ? ended.error.message
      : ended.signal
        ? `killed by ${ended.signal}`
        : `exit ${ended.status}`;
  const said = Buffer.concat(kept).toString('utf8').trim().split('\n')[0];
  return `ON_CHANGE '${command}' failed (${how})${said ? `: ${said}` : ''}`;
}

/** The marker of a reload that has not succeeded yet, next to the map. */
export function pendingReloadFile(mapFile: string): string {
  return `${mapFile}.reload-pending`;
}

/** The failure that left a reload pending, or undefined when none is. */
export function readPendingReload(mapFile: string): string | undefined {
  try {
    return readFileSync(pendingReloadFile(mapFile), 'utf8').trim() || 'an earlier ON_CHANGE failed';
  } catch {
    return undefined;
  }
}

export function markReloadPending(mapFile: string, failure: string): void {
  writeFileAtomic(pendingReloadFile(mapFile), `${failure}\n`);
}

export function clearPendingReload(mapFile: string): void {
  rmSync(pendingReloadFile(mapFile), { force: true });
}
