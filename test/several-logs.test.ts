/**
 * Several servers behind a load balancer, each logging a share of every
 * client: one run over their logs must decide exactly what a run over the
 * single log they were split from decides, and must refuse, naming the log,
 * when one of them cannot be trusted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressBook, type ClientProfile, formatLogTimestamp, generateLog, mulberry32, zipfClients } from './support/log-generator.js';
import { runCli } from './support/run-cli.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-several-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const NOW = '2026-11-20 12:00:00';

/** A busy hour: a Zipf population whose head is over the limits, and one /64 whose addresses are each under them. */
function busyHour(seed: number): string[] {
  const rng = mulberry32(seed);
  const book = new AddressBook(rng);
  const from = END - 3900;
  const clients: ClientProfile[] = zipfClients(rng, book, { count: 1500, totalRate: 8, exponent: 1.1, from, until: END, ipv6Share: 0.3, noUserAgentShare: 0.05 });
  for (let i = 1; i <= 4; i++) {
    clients.push({ ...clients[0], label: `net-${i}`, address: `2a01:4f8:10:20::${i}`, phases: [{ from, until: END, rate: 0.1 }], apiShare: 0.95, mix: 'api', userAgent: 'curl/8.5.0', arrivals: 'steady' });
  }
  return generateLog({ seed, from, until: END, maxLatenessSeconds: 30, clients }).lines;
}

const SETTINGS = `
MIN_LOG_SIZE = 0
BULKLONG_LIMIT = 600
BULKSHORT_LIMIT = 150
BULK_LOWER = 300
BLOCK_UPPER = 2000
BLOCK_LOWER = 900
MAX_NEW_BLOCKS = 1000
MAX_BLOCKED_SHARE = 1
ROTATED_LOGS = ()
`;

/** A previous map with a client to release and one still restricted, so that the change lines hold more than additions. */
const PREVIOUS = '203.0.113.77 block\n';

let runs = 0;

interface Outcome {
  status: number | null;
  stderr: string;
  stdout: string;
  map: string;
  changes: string;
}

function run(logs: string[], settingsText: string, extra: string[] = []): Outcome {
  const dir = path.join(work, `run-${runs++}`);
  fs.mkdirSync(dir);
  const settings = path.join(dir, 'ip_blocks.conf');
  fs.writeFileSync(settings, settingsText);
  const map = path.join(dir, 'ip_blocks.map');
  fs.writeFileSync(map, PREVIOUS);
  const changes = path.join(dir, 'changes.log');
  const result = runCli(['--settings', settings, '--map', map, '--changelog', changes, '--now', NOW, '--loadavg', '2', ...extra, ...logs]);
  return { ...result, map: fs.readFileSync(map, 'utf8'), changes: fs.existsSync(changes) ? fs.readFileSync(changes, 'utf8') : '' };
}

/** Writes the lines into `parts` logs, each line to a randomly chosen one (as a load balancer would), in order. */
function split(name: string, lines: string[], parts: number, seed: number, prefix: (part: number) => string = () => ''): string[] {
  const rng = mulberry32(seed);
  const shares: string[][] = Array.from({ length: parts }, () => []);
  for (const line of lines) {
    const part = Math.floor(rng() * parts);
    shares[part].push(prefix(part) + line);
  }
  return shares.map((share, part) => write(`${name}-${part}.log`, share));
}

function write(name: string, lines: string[]): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, lines.map((line) => `${line}\n`).join(''));
  return file;
}

function pyTuple(entries: string[]): string {
  return `(${entries.join(', ')},)`;
}

const lines = busyHour(7);
const single = write('single.log', lines);

describe('three servers count as the one log they were split from', () => {
  for (const prefixLength of [128, 64]) {
    test(`IPV6_PREFIX = ${prefixLength}: the same map and change lines, per-log formats included`, () => {
      const settings = `${SETTINGS}IPV6_PREFIX = ${prefixLength}\n`;
      const whole = run([single], settings);
      assert.equal(whole.status, 0, whole.stderr);
      // Not vacuous: the hour restricts clients, and releases the previous one.
      assert.match(whole.map, / bulk$/m);
      assert.match(whole.map, / block$/m);
      assert.match(whole.changes, /203\.0\.113\.77/);
      if (prefixLength === 64) assert.match(whole.map, /^2a01:4f8:10:20::\/64 (bulk|block)$/m);
      else assert.doesNotMatch(whole.map, /2a01:4f8:10:20::/);

      const combined = split(`combined-${prefixLength}`, lines, 3, 11);
      const byArguments = run(combined, settings);
      assert.equal(byArguments.status, 0, byArguments.stderr);
      assert.equal(byArguments.map, whole.map);
      assert.equal(byArguments.changes, whole.changes);

      // The third server logs in vhost_combined; LOG_FILES says so, and names the logs.
      const mixed = split(`mixed-${prefixLength}`, lines, 3, 12, (part) => (part === 2 ? 'api.example.org:443 ' : ''));
      const logFiles = pyTuple([`'${mixed[0]}'`, `'${mixed[1]}'`, `('${mixed[2]}', 'vhost_combined')`]);
      const bySetting = run([], `${settings}LOG_FILES = ${logFiles}\n`);
      assert.equal(bySetting.status, 0, bySetting.stderr);
      assert.equal(bySetting.map, whole.map);
      assert.equal(bySetting.changes, whole.changes);

      // The same logs named on the command line take their formats from LOG_FILES.
      const named = run(mixed, `${settings}LOG_FILES = ${logFiles}\n`);
      assert.equal(named.map, whole.map);

      // What each server would decide alone: less, which is why the logs are read together.
      const alone = run([combined[0]], settings);
      assert.notEqual(alone.map, whole.map);
    });
  }
});

describe('one bad log among good ones stops the run, naming it', () => {
  const [a, b] = split('good', lines, 2, 13);

  test('a missing log: exit 66, the map left as it was', () => {
    const missing = path.join(work, 'no-such.log');
    const result = run([a, missing, b], SETTINGS);
    assert.equal(result.status, 66);
    assert.match(result.stderr, new RegExp(`cannot read the log .*${path.basename(missing)}`));
    assert.equal(result.map, PREVIOUS);
  });

  test('a stale log (that server stopped logging): exit 69, naming it; the others alone would undercount', () => {
    const old = write('stale.log', [`198.51.100.9 - - [${formatLogTimestamp(END - 3 * 3600)}] "GET /search?q=x HTTP/1.1" 200 10 "-" "curl/8"`]);
    const result = run([a, old, b], SETTINGS);
    assert.equal(result.status, 69);
    assert.match(result.stderr, new RegExp(`the newest line of ${old} is 3 hours old`));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.equal(result.map, PREVIOUS);
  });

  test('a log in another format than configured: exit 69, naming the log and its formats', () => {
    const vhost = write('vhost.log', lines.slice(-2000).map((line) => `www.example.org:80 ${line}`));
    const result = run([a, vhost], `${SETTINGS}LOG_FORMAT = 'common'\nLOG_FILES = (('${a}', 'combined'),)\n`);
    assert.equal(result.status, 69);
    assert.match(result.stderr, new RegExp(`${vhost}: 2000 of 2000 lines read \\(100%\\) cannot be read as LOG_FORMAT 'common'`));
    assert.equal(result.map, PREVIOUS);
  });

  test('the same log twice would count it twice: a usage error', () => {
    const result = run([a, a], SETTINGS);
    assert.equal(result.status, 64);
    assert.match(result.stderr, /is given twice/);
  });
});

describe('what an operator sees of each log', () => {
  const logs = split('seen', lines, 3, 14);

  test('--json lists every log with its lines, the first as logFile', () => {
    const result = run(logs, SETTINGS, ['--json', '--dry-run']);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.logFile, logs[0]);
    assert.deepEqual(report.logs.map((log: { logFile: string }) => log.logFile), logs);
    const linesRead = report.logs.map((log: { linesRead: number }) => log.linesRead);
    assert.equal(linesRead.reduce((x: number, y: number) => x + y, 0), report.stats.linesRead);
    assert.ok(linesRead.every((n: number) => n > 0));
  });

  test('explain shows the client\'s requests in each log, which add up to its total', () => {
    const busiest = lines[0].split(' ')[0];
    const settings = path.join(work, 'explain.conf');
    fs.writeFileSync(settings, SETTINGS);
    const result = runCli(['explain', '--settings', settings, '--map', path.join(work, 'explain.map'), '--now', NOW, '--loadavg', '2', '--json', busiest, ...logs]);
    assert.equal(result.status, 0, result.stderr);
    const explanation = JSON.parse(result.stdout);
    assert.deepEqual(explanation.perLog.map((share: { logFile: string }) => share.logFile), logs);
    const sum = explanation.perLog.reduce((total: number, share: { stats: { longTotal: number } | null }) => total + (share.stats?.longTotal ?? 0), 0);
    assert.equal(sum, explanation.stats.longTotal);
    const text = runCli(['explain', '--settings', settings, '--map', path.join(work, 'explain.map'), '--now', NOW, '--loadavg', '2', busiest, ...logs]);
    for (const log of logs) assert.match(text.stdout, new RegExp(`^ +${log}: long window \\d+`, 'm'));
  });
});
