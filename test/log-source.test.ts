import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { type RunReport, runAnalysis } from '../src/run.js';
import { defaultSettings, type Settings } from '../src/settings/settings.js';
import { formatLogTimestamp } from './support/log-generator.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-source-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A combined line at an instant, written in the wall-clock time of a fixed UTC offset (minutes). */
function line(address: string, epoch: number, offsetMinutes = 0): string {
  return `${address} - - [${formatLogTimestamp(epoch, offsetMinutes)}] "GET /search?q=x HTTP/1.1" 200 10 "-" "Mozilla/5.0"\n`;
}

/** One line every `step` seconds in [from, to), cycling over a few clients. */
function traffic(from: number, to: number, step = 2, offsetMinutes = 0): string {
  let text = '';
  for (let t = from, i = 0; t < to; t += step, i++) text += line(`198.51.100.${i % 7}`, t, offsetMinutes);
  return text;
}

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const settings: Settings = { ...defaultSettings(work), MIN_LOG_SIZE: 0, BULKLONG_LIMIT: 100, BULKSHORT_LIMIT: 30, BULK_LOWER: 10 };

let runs = 0;
async function analyse(files: Record<string, string | Buffer>, overrides: Partial<Settings> = {}, now = new Date(END * 1000), startDate?: Date): Promise<RunReport> {
  const dir = path.join(work, `run-${runs++}`);
  fs.mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return runAnalysis({
    settings: { ...settings, ...overrides, BLOCKEDFILE: path.join(dir, 'ip_blocks.map'), LOGFILE: path.join(dir, 'changes.log') },
    logFile: path.join(dir, 'access.log'),
    now,
    startDate,
    loadAverage: 14,
    format: 'apache',
    dryRun: true,
  });
}

function clientsOf(report: RunReport): string {
  return report.map?.content ?? `skipped: ${report.skipped}`;
}

describe('rotated logs: the window is read across generations', async () => {
  const whole = traffic(END - 7200, END);
  const single = await analyse({ 'access.log': whole });

  test('the single-file run sees the whole window', () => {
    assert.equal(single.stats?.linesInWindow, 1800, "one line every 2 s, the end excluded by the generator");
    assert.equal(single.map?.counts.bulk, 7);
  });

  test('LOG.1 plain + LOG give the same statistics as one file', async () => {
    const report = await analyse({ 'access.log.1': traffic(END - 7200, END - 1800), 'access.log': traffic(END - 1800, END) });
    assert.equal(report.stats?.linesInWindow, single.stats?.linesInWindow);
    assert.equal(clientsOf(report), clientsOf(single));
    assert.deepEqual(report.files.map((f) => path.basename(f.path)), ['access.log.1', 'access.log']);
  });

  test('LOG.2.gz + LOG.1 + a fresh LOG: the compressed generation is streamed', async () => {
    const report = await analyse({
      'access.log.2.gz': zlib.gzipSync(traffic(END - 7200, END - 2400)),
      'access.log.1': traffic(END - 2400, END - 600),
      'access.log': traffic(END - 600, END),
    });
    assert.deepEqual(report.files.map((f) => path.basename(f.path)), ['access.log.2.gz', 'access.log.1', 'access.log']);
    assert.equal(report.stats?.linesInWindow, single.stats?.linesInWindow);
    assert.equal(clientsOf(report), clientsOf(single));
  });

  test('an empty log just after rotation is not blind, even below MIN_LOG_SIZE', async () => {
    const report = await analyse({ 'access.log.1': whole, 'access.log': '' }, { MIN_LOG_SIZE: whole.length });
    assert.equal(report.skipped, undefined);
    assert.equal(clientsOf(report), clientsOf(single));
  });

  test('without ROTATED_LOGS the original rule holds: a small log is not analysed', async () => {
    const report = await analyse({ 'access.log.1': whole, 'access.log': traffic(END - 60, END) }, { MIN_LOG_SIZE: 1_000_000, ROTATED_LOGS: [] });
    assert.match(report.skipped ?? '', /smaller than MIN_LOG_SIZE/);
  });

  test('a previous generation is not opened when the log covers the window', async () => {
    const report = await analyse({ 'access.log.1': 'garbage that would be counted\n', 'access.log': whole });
    assert.deepEqual(report.files.map((f) => path.basename(f.path)), ['access.log']);
    assert.equal(report.stats?.garbageLines, 0);
  });

  // A replay reads on two hours past its window (a clock stepped back may bring the window's times again): LOG.1 holds more than that.
  test('replaying an hour that lies wholly in LOG.1 stops before the current log', async () => {
    const report = await analyse(
      { 'access.log.1': traffic(END - 5 * 3600, END - 3600), 'access.log': traffic(END - 3600, END) },
      {},
      new Date(END * 1000),
      new Date((END - 5 * 3600) * 1000),
    );
    assert.equal(report.stats?.linesInWindow, 1801, "both ends of the replayed hour");
    assert.deepEqual(report.files.map((f) => path.basename(f.path)), ['access.log.1']);
  });

  test('a damaged compressed generation is an input error naming the file', async () => {
    await assert.rejects(
      analyse({ 'access.log.2.gz': Buffer.from('not gzip at all'), 'access.log.1': traffic(END - 1200, END - 600), 'access.log': traffic(END - 600, END) }),
      (error: Error) => /access\.log\.2\.gz/.test(error.message) && (error as { exitCode?: number }).exitCode === 66,
    );
  });
});

describe('time zones: windows are instants, whatever offset the lines carry', async () => {
  test('a log whose offset changes mid-file (a DST change) gives the exact window', async () => {
    // 2026-03-29 01:00 UTC: Central Europe goes from +0100 to +0200 and the wall clock jumps from 02:00 to 03:00.
    const change = Date.UTC(2026, 2, 29, 1, 0, 0) / 1000;
    const log = traffic(change - 5400, change, 1, 60) + traffic(change, change + 5400, 1, 120);
    const end = change + 1800;
    const report = await analyse({ 'access.log': log }, {}, new Date(end * 1000));
    assert.equal(report.stats?.linesInWindow, 3601, 'every second of the hour ending 30 minutes after the change, both ends included');
  });

  test('the same instants logged in UTC and in -0500 give the same decisions', async () => {
    const utc = await analyse({ 'access.log': traffic(END - 7200, END, 2, 0) });
    const newYork = await analyse({ 'access.log': traffic(END - 7200, END, 2, -300) });
    assert.equal(newYork.stats?.linesInWindow, utc.stats?.linesInWindow);
    assert.equal(clientsOf(newYork), clientsOf(utc));
  });
});

describe('the log changes while a run reads it', async () => {
  const { findGenerations, generationsToRead, readGenerations, closeGenerations } = await import('../src/read/log-source.js');
  const { WindowReader } = await import('../src/read/window-stats.js');
  const { newRequestClassifier } = await import('../src/read/log-line.js');
  const window = { start: END - 3600, shortStart: END - 900, end: END };

  /** Opens the generations, lets `meanwhile` change the files, then reads: as a run whose log moves under it. */
  async function readWhile(files: Record<string, string>, meanwhile: (dir: string) => void) {
    const dir = path.join(work, `moving-${runs++}`);
    fs.mkdirSync(dir);
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const warnings: string[] = [];
    const generations = findGenerations(path.join(dir, 'access.log'), ['.1'], warnings);
    meanwhile(dir);
    const reader = new WindowReader({ window, classifier: newRequestClassifier(['/search']), uaBlocklist: [], isListed: () => false, disorderSeconds: 120 });
    let reads: Awaited<ReturnType<typeof readGenerations>>;
    try {
      reads = await readGenerations(await generationsToRead(generations, window.start - 120), window.start - 120, reader, warnings);
    } finally {
      closeGenerations(generations);
    }
    return { stats: reader.finish(), warnings, files: reads };
  }

  test('renamed by logrotate and recreated: the run reads the file it opened, nothing missed, nothing twice', async () => {
    const { stats, warnings, files } = await readWhile({ 'access.log': traffic(END - 7200, END) }, (dir) => {
      fs.renameSync(path.join(dir, 'access.log'), path.join(dir, 'access.log.1'));
      fs.writeFileSync(path.join(dir, 'access.log'), traffic(END - 10, END));
    });
    assert.equal(stats.linesInWindow, 1800);
    assert.deepEqual(warnings, []);
    assert.deepEqual(files.map((f) => [f.truncated, f.replaced]), [[false, true]], 'complete, and the path names the new log now');
  });

  test('appended to: lines past the size seen at the start are left to the next run', async () => {
    const { stats, files } = await readWhile({ 'access.log': traffic(END - 7200, END - 600) }, (dir) => {
      fs.appendFileSync(path.join(dir, 'access.log'), traffic(END - 600, END));
    });
    assert.equal(stats.linesInWindow, 1500);
    assert.deepEqual(files.map((f) => [f.truncated, f.replaced]), [[false, false]]);
  });

  test('a previous generation is opened only when the window reaches into it', async () => {
    const dir = path.join(work, `lazy-${runs++}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'access.log'), traffic(END - 7200, END));
    fs.writeFileSync(path.join(dir, 'access.log.1'), traffic(END - 14400, END - 7200));
    const generations = findGenerations(path.join(dir, 'access.log'), ['.1'], []);
    try {
      await generationsToRead(generations, window.start - 120);
      assert.equal(generations[1].fd, undefined, 'LOG.1 was never opened');
    } finally {
      closeGenerations(generations);
    }
  });

  test('truncated (copytruncate): no crash, and a warning says how much was not read', async () => {
    const { stats, warnings, files } = await readWhile({ 'access.log': traffic(END - 7200, END) }, (dir) => {
      fs.truncateSync(path.join(dir, 'access.log'), 0);
    });
    assert.equal(files[0].truncated, true, 'the read is flagged partial');
    assert.equal(stats.linesInWindow, 0);
    assert.match(warnings.join('\n'), /access\.log shrank while it was read \(truncated\?\): \d+ bytes of the window were not read/);
  });
});
