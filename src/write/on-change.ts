/** The operator's command run after the map changed (e.g. `nginx -t && nginx -s reload`). */
import { spawnSync } from 'node:child_process';

const ON_CHANGE_TIMEOUT_MS = 60_000;

/**
 * Runs `command` with IPANALYSE_MAP set to the map's path. Returns undefined
 * when it succeeded, else why it failed, in one line: the map is right, but
 * the web server may not use it yet.
 */
export function runOnChange(command: string, mapFile: string): string | undefined {
  const result = spawnSync('/bin/sh', ['-c', command], {
    env: { ...process.env, IPANALYSE_MAP: mapFile },
    encoding: 'utf8',
    timeout: ON_CHANGE_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (!result.error && result.status === 0) return undefined;
  const how = result.error ? result.error.message : result.signal ? `killed by ${result.signal}` : `exit ${result.status}`;
  const said = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim().split('\n')[0];
  return `the map was written, but ON_CHANGE '${command}' failed (${how})${said ? `: ${said}` : ''}`;
}
