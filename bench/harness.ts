/**
 * What every scenario shares: the timers (a child from spawn to exit, with
 * its CPU time and peak RSS; work in process, after a GC), the rounds that
 * interleave every row of every scenario, medians, and the report: a table,
 * the targets with PASS/FAIL, and everything as JSON in results.json.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import { CHILD_ENV } from '../test/support/run-cli.js';

export const CACHE_DIR = path.join(os.tmpdir(), 'ipanalyse-bench');
const RUNS = positiveInt(process.env.BENCH_RUNS, 5);
export const PYTHON_RUNS = positiveInt(process.env.BENCH_PYTHON_RUNS, RUNS);

const USAGE_PRELOAD = path.join(REPO_ROOT, 'dist/bench/report-usage.js');
const GNU_TIME = '/usr/bin/time';
const USAGE_FILE = path.join(CACHE_DIR, `usage-${process.pid}.txt`);

function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export function mb(bytes: number, digits = 0): string {
  return (bytes / 1e6).toFixed(digits);
}

export function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

// ---------------------------------------------------------------------------
// Timing

interface Sample {
  wallMs: number;
  cpuMs: number;
  /** Peak resident set size of the child, KiB; undefined in process. */
  rssKb?: number;
}

export interface ChildOutcome extends Sample {
  stdout: string;
}

const hasGnuTime = fs.existsSync(GNU_TIME);
const childEnv = { ...CHILD_ENV, HOME: process.env.HOME ?? os.tmpdir() };

/**
 * Runs a command to its end and fails unless it exits with 0; wall time from
 * spawn to exit, CPU time and peak RSS as the child's own. `node`: the
 * command is Node, which can report its own usage when /usr/bin/time is
 * missing.
 */
export function runChild(what: string, command: string, args: string[], options: { node?: boolean } = {}): Promise<ChildOutcome> {
  fs.rmSync(USAGE_FILE, { force: true });
  let argv: string[];
  const env: Record<string, string> = { ...childEnv };
  if (hasGnuTime) {
    argv = [GNU_TIME, '-f', '%M %U %S', '-o', USAGE_FILE, command, ...args];
  } else if (options.node) {
    argv = [command, '--import', USAGE_PRELOAD, ...args];
    env.BENCH_USAGE_FILE = USAGE_FILE;
  } else {
    argv = [command, ...args];
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      child.on('close', () => {
        if (code !== 0) {
          reject(new Error(`${what} exited with ${code}:\n${stderr}`));
          return;
        }
        let cpuMs = NaN;
        let rssKb: number | undefined;
        try {
          const fields = fs.readFileSync(USAGE_FILE, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
          rssKb = fields[0];
          cpuMs = hasGnuTime ? (fields[1] + fields[2]) * 1000 : (fields[1] + fields[2]) / 1000;
        } catch {
          // no usage report (python without /usr/bin/time)
        }
        resolve({ wallMs, cpuMs, rssKb, stdout });
      });
    });
  });
}

function inProcess(work: () => unknown): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  work();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

// ---------------------------------------------------------------------------
// Scenarios and their rows

interface RowBase {
  id: string;
  what: string;
  /** Lines in the byte range it reads (for lines/s). */
  lines?: number;
  /** Row id of the baseline it is compared with. */
  baseline?: string;
  /** Shown instead of figures when the row was never measured. */
  note?: string;
}

/** Measures one process a round (undefined: none this round). */
export interface ChildRowSpec extends RowBase {
  group: 'child';
  measure: (round: number) => Promise<Sample | undefined>;
}

/** Work the harness times in this process. */
interface InProcessRowSpec extends RowBase {
  group: 'in-process';
  work: () => unknown;
}

type RowSpec = ChildRowSpec | InProcessRowSpec;

type Row = RowSpec & { samples: Sample[] };

export interface Summary {
  wallMs: number;
  minWallMs: number;
  cpuMs: number;
  linesPerSecond?: number;
  peakRssMB?: number;
  medianRssMB?: number;
}

interface Target {
  name: string;
  value: number;
  cpuValue?: number;
  target: string;
  pass: boolean | undefined;
  /** The same target judged on CPU times, which other load on the machine disturbs less. */
  cpuPass?: boolean;
  detail: string;
}

export interface Scenario {
  rows: RowSpec[];
  /** Filled while measuring: what the scenario found out about its inputs, printed under the table. */
  checks?: string[];
  targets?: (summaryOf: (id: string) => Summary) => Target[];
  /** Figures derived from the medians with no target of their own, printed under the targets. */
  figures?: (summaryOf: (id: string) => Summary) => string[];
}

/** A target on the ratio of two rows' medians, judged on wall and on CPU time; `scale` 100 makes it a percentage. */
export function ratioTarget(
  name: string,
  numerator: Summary,
  denominator: Summary,
  bound: { atMost: number } | { atLeast: number },
  detail: string,
  scale = 1,
): Target {
  const value = (numerator.wallMs / denominator.wallMs) * scale;
  const cpuValue = (numerator.cpuMs / denominator.cpuMs) * scale;
  const holds = (v: number) => ('atMost' in bound ? v <= bound.atMost : v >= bound.atLeast);
  const target = 'atMost' in bound ? `<= ${bound.atMost}` : `>= ${bound.atLeast}`;
  return { name, value, cpuValue, target, pass: holds(value), cpuPass: holds(cpuValue), detail };
}

interface Measured {
  rows: Row[];
  scenarios: Scenario[];
  measureMs: number;
}

/**
 * RUNS rounds of every row, child rows first, then the in-process ones;
 * every other round in reverse order, so that no row always follows the same
 * one and other load on the machine hits them all alike.
 */
export async function measure(scenarios: Scenario[]): Promise<Measured> {
  const all: Row[] = scenarios.flatMap((s) => s.rows.map((spec) => ({ ...spec, samples: [] as Sample[] })));
  const childRows = all.filter((r): r is ChildRowSpec & Row => r.group === 'child');
  const inProcessRows = all.filter((r): r is InProcessRowSpec & Row => r.group === 'in-process');
  const started = performance.now();
  for (let round = 0; round < RUNS; round++) {
    process.stdout.write(`round ${round + 1}/${RUNS}:`);
    const inOrder = <T>(rows: T[]) => (round % 2 === 1 ? [...rows].reverse() : rows);
    for (const row of inOrder(childRows)) {
      const sample = await row.measure(round);
      if (sample) row.samples.push({ wallMs: sample.wallMs, cpuMs: sample.cpuMs, rssKb: sample.rssKb });
      process.stdout.write(` ${row.id}`);
    }
    for (const row of inOrder(inProcessRows)) {
      row.samples.push(inProcess(row.work));
      process.stdout.write(` ${row.id}`);
    }
    process.stdout.write('\n');
  }
  fs.rmSync(USAGE_FILE, { force: true });
  return { rows: [...childRows, ...inProcessRows], scenarios, measureMs: performance.now() - started };
}

// ---------------------------------------------------------------------------
// Reporting

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function summarize(row: Row): Summary {
  const wallMs = median(row.samples.map((s) => s.wallMs));
  const cpuMs = median(row.samples.map((s) => s.cpuMs));
  const rss = row.samples.map((s) => s.rssKb).filter((v): v is number => v !== undefined);
  return {
    wallMs,
    minWallMs: Math.min(...row.samples.map((s) => s.wallMs)),
    cpuMs,
    linesPerSecond: row.lines ? (row.lines / wallMs) * 1000 : undefined,
    peakRssMB: rss.length ? (Math.max(...rss) * 1024) / 1e6 : undefined,
    medianRssMB: rss.length ? (median(rss) * 1024) / 1e6 : undefined,
  };
}

interface RunFacts {
  loadBefore: number[];
  /** How long generating the logs took, when this run generated them. */
  generateMs?: number;
  /** Written to results.json as they are: the window, the logs and where ipanalyse read in them. */
  inputs: Record<string, unknown>;
}

class RowNotMeasured extends Error {}

/** Prints the table, the checks and the targets, and writes results.json. */
export function report({ rows, scenarios, measureMs }: Measured, facts: RunFacts): void {
  const summaries = new Map(rows.map((r) => [r.id, summarize(r)]));
  const s = (id: string) => {
    const summary = summaries.get(id);
    if (!summary) throw new RowNotMeasured(id);
    return summary;
  };
  const fmt = (v: number | undefined, digits = 0) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
  const header = `${pad('what', 46)} ${pad('runs', 4, true)} ${pad('wall ms', 8, true)} ${pad('(min)', 7, true)} ${pad('CPU ms', 8, true)} ${pad('lines/s', 8, true)} ${pad('x base', 7, true)} ${pad('RSS MB', 7, true)}`;
  console.log(`\nmedians of ${RUNS} runs (original: ${PYTHON_RUNS}); wall: spawn to exit; CPU: user + system; lines/s: lines read / median wall;`);
  console.log(`"x base": median wall / the baseline's (same bytes, same run; in-process rows against the in-process baseline); RSS: peak\n`);
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    const m = s(r.id);
    if (r.samples.length === 0) {
      console.log(`${pad(r.what, 46)} ${r.note ?? 'not run'}`);
      continue;
    }
    const ratio = r.baseline && summaries.has(r.baseline) ? m.wallMs / s(r.baseline).wallMs : r.id.startsWith('base') ? 1 : undefined;
    console.log(
      `${pad(r.what, 46)} ${pad(String(r.samples.length), 4, true)} ${pad(fmt(m.wallMs), 8, true)} ${pad(fmt(m.minWallMs), 7, true)} ${pad(fmt(m.cpuMs), 8, true)} ${pad(m.linesPerSecond ? `${(m.linesPerSecond / 1e6).toFixed(2)}M` : '-', 8, true)} ${pad(ratio === undefined ? '-' : ratio.toFixed(2), 7, true)} ${pad(fmt(m.peakRssMB), 7, true)}`,
    );
  }
  const checks = scenarios.flatMap((scenario) => scenario.checks ?? []);
  for (const c of checks) console.log(`check: ${c}`);

  // With BENCH_ONLY, a target or figure may need rows of a scenario not run: it is left out, and the list says so.
  const notRun = new Set<string>();
  const unmeasured = (rows: () => Target[] | string[] | undefined) => {
    try {
      return rows() ?? [];
    } catch (error) {
      if (!(error instanceof RowNotMeasured)) throw error;
      notRun.add(error.message);
      return [];
    }
  };
  const targets = scenarios.flatMap((scenario) => unmeasured(() => scenario.targets?.(s)) as Target[]);
  console.log('\ntargets, judged on the wall-clock medians [and on the CPU-time medians]');
  if (notRun.size > 0) console.log(`  (some left out: they need rows not run, ${[...notRun].join(', ')}; see BENCH_ONLY)`);
  for (const t of targets) {
    const verdict = t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'FAIL';
    const cpu = t.cpuValue === undefined ? '' : ` [CPU ${t.cpuValue.toFixed(2)} ${t.cpuPass ? 'PASS' : 'FAIL'}]`;
    console.log(`  ${verdict}  ${pad(t.name, 50)} ${pad(Number.isFinite(t.value) ? t.value.toFixed(2) : '-', 7, true)}${cpu}  target ${t.target}  (${t.detail})`);
  }
  const figures = scenarios.flatMap((scenario) => unmeasured(() => scenario.figures?.(s)) as string[]);
  for (const f of figures) console.log(`  ${f}`);
  const loadAfter = os.loadavg();
  console.log(`\nload average after: ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (other processes share these ${os.cpus().length} CPUs; CPU times are less sensitive to them than wall times)`);
  console.log(`measuring took ${(measureMs / 1000).toFixed(0)} s${facts.generateMs === undefined ? '' : `, generating the logs ${(facts.generateMs / 1000).toFixed(0)} s`}`);

  const resultsFile = path.join(CACHE_DIR, 'results.json');
  fs.writeFileSync(
    resultsFile,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim(), node: process.version, loadBefore: facts.loadBefore, loadAfter, gnuTime: hasGnuTime },
        runs: RUNS,
        pythonRuns: PYTHON_RUNS,
        ...facts.inputs,
        rows: rows.map((r) => ({ ...r, median: s(r.id) })),
        targets,
        figures,
        checks,
      },
      null,
      1,
    ),
  );
  console.log(`results: ${resultsFile}`);
}
