import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

const RUN_LOCK_MODULE = path.join(REPO_ROOT, 'dist/src/write/run-lock.js');

export interface LockHolder {
  pid: number;
  /** Lets the holder release the lock and exit; resolves with its exit code. */
  release(): Promise<number | null>;
  kill(): void;
}

/**
 * A process that holds the run lock of `mapFile` as a run does, and blocks
 * in a synchronous read (as a long replay blocks in readSync, so that none of
 * its timers could fire) until release() is called.
 */
export async function holdRunLock(mapFile: string): Promise<LockHolder> {
  const script = `(async () => {
    const { acquireRunLock } = await import(${JSON.stringify(RUN_LOCK_MODULE)});
    const lock = acquireRunLock(process.argv[1]);
    process.stdout.write('held\\n');
    require('node:fs').readSync(0, Buffer.alloc(1));
    lock.release();
  })()`;
  const child = spawn(process.execPath, ['-e', script, mapFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let output = '';
  child.stderr.on('data', (data) => (output += data));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data) => {
      output += data;
      if (output.includes('held\n')) resolve();
    });
    exited.then((code) => reject(new Error(`the lock holder exited (${code}): ${output}`)));
  });
  return {
    pid: child.pid!,
    release: () => {
      child.stdin.end('\n');
      return exited;
    },
    kill: () => child.kill('SIGKILL'),
  };
}
