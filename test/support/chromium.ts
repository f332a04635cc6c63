/** Debian's headless Chromium, to open the HTML reports as a person would. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

export const CHROMIUM = ['chromium', 'chromium-browser'].find((name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0);
export const NO_CHROMIUM = "chromium is not installed (.ci/run installs Debian's chromium as root)";
/** Screenshots kept for a person to look at. */
export const ARTEFACTS = path.join(REPO_ROOT, 'out/test-artifacts');

export function chromium(args: string[]) {
  return spawnSync(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0', '--virtual-time-budget=5000', '--window-size=1200,2600', ...args], { encoding: 'utf8', timeout: 90_000 });
}

/** The page's DOM after its scripts ran, the console errors, and what it says on <body> of its charts. */
export function openPage(file: string): { status: number | null; stderr: string; dom: string; consoleErrors: string[]; body: string } {
  const result = chromium(['--dump-dom', `file://${file}`]);
  const consoleErrors = result.stderr.split('\n').filter((line) => /CONSOLE\(|Uncaught/.test(line));
  return { status: result.status, stderr: result.stderr, dom: result.stdout, consoleErrors, body: /<body([^>]*)>/.exec(result.stdout)?.[1] ?? '' };
}
