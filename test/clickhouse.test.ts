/**
 * ClickHouse as the statistics source, against a real server (Debian's
 * clickhouse-server 18.16) on loopback: a table holding the same lines as a
 * log must decide exactly what the log decides, and a ClickHouse that is
 * down, slow or without the table must stop the run with "retry later"
 * (75), the map untouched.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressBook, type ClientProfile, formatLogTimestamp, generateLog, mulberry32, zipfClients } from './support/log-generator.js';
import { type ClickHouse, startClickHouse } from './support/clickhouse-server.js';
import { freePort } from './support/web-server.js';
import { CLI, REPO_ROOT } from './support/paths.js';
import { CHILD_ENV } from './support/run-cli.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-clickhouse-'));
let server: ClickHouse | string = 'not started';
before(async () => {
  fs.mkdirSync(path.join(work, 'server'));
  server = await startClickHouse(path.join(work, 'server'));
});
after(async () => {
  if (typeof server !== 'string') await server.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const NOW = '2026-11-20 12:00:00';

/** README's CREATE TABLE, as an operator would paste it: the test runs exactly what is documented. */
function readmeSql(): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /```sql\n(CREATE DATABASE[\s\S]*?)```/.exec(readme);
  assert.ok(block, "README's ClickHouse section has a ```sql block starting with CREATE DATABASE");
  return block[1].split(';').map((statement) => statement.trim()).filter(Boolean);
}

const LINE = /^(\S+) \S+ \S+ \[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\] "((?:[^"\\]|\\.)*)" (\d{3}) \S+ "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A combined-format line as the README's Vector configuration stores it:
 * the request line and user agent as logged, `-` as '', the time as epoch
 * seconds (JSONEachRow, as Vector's clickhouse sink sends rows).
 */
function row(line: string): string | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const zone = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  const time = Date.UTC(Number(m[4]), MONTHS.indexOf(m[3]), Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7])) / 1000 - zone * 60;
  return JSON.stringify({ time, client: m[1], request: m[11], status: Number(m[12]), user_agent: m[13] === '-' ? '' : m[13] });
}

/**
 * A busy hour, and the lines a differential test must not miss: API paths
 * spelled to hide (decoded, `//`, `/../`), a preflight, a heavy whitelisted
 * and a blacklisted client, an IPv6 client in two spellings, a client that
 * is no address, blocklisted and missing user agents, and lines just
 * outside either window.
 */
function hour(seed: number): string[] {
  const rng = mulberry32(seed);
  const book = new AddressBook(rng);
  const from = END - 3900;
  const clients: ClientProfile[] = zipfClients(rng, book, { count: 1200, totalRate: 7, exponent: 1.1, from, until: END, ipv6Share: 0.3, noUserAgentShare: 0.05 });
  for (let i = 1; i <= 4; i++) {
    clients.push({ ...clients[0], label: `net-${i}`, address: `2a01:4f8:10:20::${i}`, phases: [{ from, until: END, rate: 0.1 }], apiShare: 0.95, mix: 'api', userAgent: 'Mozilla/5.0', arrivals: 'steady' });
  }
  const lines = generateLog({ seed, from, until: END, maxLatenessSeconds: 30, clients }).lines;
  const at = (offset: number, client: string, request: string, ua = 'Mozilla/5.0', status = 200) =>
    `${client} - - [${formatLogTimestamp(END - offset)}] "${request}" ${status} 512 "-" "${ua}"`;
  const extra: string[] = [];
  for (let i = 0; i < 900; i++) {
    const offset = 10 + ((i * 7) % 3500);
    extra.push(at(offset, '198.51.100.20', i % 2 ? 'GET /%73earch?q=x HTTP/1.1' : 'GET //reverse?lat=1&lon=2 HTTP/1.1'));
    extra.push(at(offset, '198.51.100.21', i % 3 ? 'GET /ui/../details?place_id=1 HTTP/1.1' : 'GET /ui/%2e%2e/search HTTP/1.1', 'python-requests/2.31'));
    extra.push(at(offset, '198.51.100.22', 'OPTIONS /search?q=x HTTP/1.1'));
    extra.push(at(offset, '192.0.2.200', 'GET /search?q=monitor HTTP/1.1', 'monitor/1.0'));
    extra.push(at(offset, '203.0.113.66', 'GET /search?q=banned HTTP/1.1'));
    extra.push(at(offset, i % 2 ? '2001:DB8:0:0::77' : '2001:db8::77', 'GET /search?q=spelled HTTP/1.1', i === 5 ? '-' : 'Mozilla/5.0'));
    extra.push(at(offset, 'not-an-address', 'GET /search HTTP/1.1'));
  }
  // Just outside the long window, and on the short window's edge.
  for (let i = 0; i < 700; i++) extra.push(at(3601 + (i % 200), '198.51.100.30', 'GET /search HTTP/1.1'), at(900 + (i % 2), '198.51.100.31', 'GET /search HTTP/1.1'));
  // Ordered as a server writes them, for the file reader's seek.
  const time = (line: string) => Date.parse(/\[(\S+) /.exec(line)![1].replace(/(\d+)\/(\w+)\/(\d+):/, '$2 $1 $3 ') + ' UTC');
  return [...lines, ...extra.sort((a, b) => time(a) - time(b))].sort((a, b) => time(a) - time(b));
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
WHITELIST = '192.0.2.200'
BLACKLIST = '203.0.113.0/24'
UA_BLOCKLIST = ('python-requests/', 'curl/')
`;

const PREVIOUS = '198.51.100.99 block\n';
let runs = 0;

interface Outcome {
  status: number | null;
  stderr: string;
  map: string;
  changes: string;
}

/** Runs the real binary without blocking this process: the silent server below must keep accepting while the CLI waits on it. */
async function run(settingsText: string, args: string[]): Promise<Outcome> {
  const dir = path.join(work, `run-${runs++}`);
  fs.mkdirSync(dir);
  const settings = path.join(dir, 'ip_blocks.conf');
  fs.writeFileSync(settings, settingsText);
  const map = path.join(dir, 'ip_blocks.map');
  fs.writeFileSync(map, PREVIOUS);
  const changes = path.join(dir, 'changes.log');
  const child = spawn(process.execPath, [CLI, '--settings', settings, '--map', map, '--changelog', changes, '--now', NOW, '--loadavg', '2', ...args], { env: CHILD_ENV });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { status, stderr, map: fs.readFileSync(map, 'utf8'), changes: fs.existsSync(changes) ? fs.readFileSync(changes, 'utf8') : '' };
}

/** Loads the lines into a fresh copy of README's table, named `table`. */
async function load(ch: ClickHouse, table: string, lines: string[]): Promise<void> {
  for (const statement of readmeSql()) await ch.query(statement.replace(/\blogs\.access_log\b/, `logs.${table}`));
  const rows = lines.map(row).filter((r): r is string => r !== undefined);
  assert.ok(rows.length > lines.length * 0.99, 'the loader read the lines');
  await ch.query(`INSERT INTO logs.${table} FORMAT JSONEachRow`, rows.join('\n') + '\n');
}

describe('ClickHouse holding the same lines as a log', () => {
  const lines = hour(7);
  const logFile = path.join(work, 'access.log');
  fs.writeFileSync(logFile, lines.map((line) => `${line}\n`).join(''));

  for (const prefixLength of [128, 64]) {
    test(`IPV6_PREFIX = ${prefixLength}: the same map and change lines as the log`, async (t) => {
      if (typeof server === 'string') return t.skip(`no ClickHouse server: ${server}`);
      const table = `access_log_${prefixLength}`;
      await load(server, table, lines);
      const settings = `${SETTINGS}IPV6_PREFIX = ${prefixLength}\n`;
      const fromLog = await run(settings, [logFile]);
      assert.equal(fromLog.status, 0, fromLog.stderr);
      // Not vacuous: the hour restricts clients, bans the blacklisted one, releases the previous one.
      assert.match(fromLog.map, / bulk$/m);
      assert.match(fromLog.map, / block$/m);
      assert.match(fromLog.map, /^203\.0\.113\.66 ban$/m);
      assert.match(fromLog.map, /^198\.51\.100\.2[01] (bulk|block)$/m, 'the hidden API paths count');
      assert.doesNotMatch(fromLog.map, /198\.51\.100\.22|192\.0\.2\.200/, 'preflights and the whitelisted client do not');
      // Each spelling alone is under the limits; together, with one line without a user agent, blocked.
      assert.match(fromLog.map, prefixLength === 64 ? /^2001:db8::\/64 block$/m : /^2001:db8::77 block$/m, 'two spellings of one address are one client');
      assert.match(fromLog.changes, /198\.51\.100\.99/);
      if (prefixLength === 64) assert.match(fromLog.map, /^2a01:4f8:10:20::\/64 (bulk|block)$/m);

      const url = `${server.url}?database=logs`;
      const fromFlag = await run(`${settings}CLICKHOUSE_TABLE = '${table}'\n`, ['--clickhouse', url]);
      assert.equal(fromFlag.status, 0, fromFlag.stderr);
      assert.equal(fromFlag.map, fromLog.map);
      assert.equal(fromFlag.changes, fromLog.changes);

      // The settings alone, the table named with its database.
      const fromSettings = await run(`${settings}CLICKHOUSE_URL = '${server.url}'\nCLICKHOUSE_TABLE = 'logs.${table}'\n`, []);
      assert.equal(fromSettings.status, 0, fromSettings.stderr);
      assert.equal(fromSettings.map, fromLog.map);
      assert.equal(fromSettings.changes, fromLog.changes);
    });
  }

  test('a table whose newest line is old is stale, as a log would be: exit 69, the map untouched', async (t) => {
    if (typeof server === 'string') return t.skip(`no ClickHouse server: ${server}`);
    const old = lines.filter((line) => JSON.parse(row(line) ?? '{"time":0}').time <= END - 600); // nothing in the last 10 minutes
    await load(server, 'access_log_old', old);
    const outcome = await run(`${SETTINGS}STALE_AFTER = 300\nCLICKHOUSE_TABLE = 'logs.access_log_old'\n`, ['--clickhouse', server.url]);
    assert.equal(outcome.status, 69, outcome.stderr);
    assert.match(outcome.stderr, /newest line of ClickHouse http:\/\/127\.0\.0\.1:\d+\/ table logs\.access_log_old is \d+ minutes old/);
    assert.equal(outcome.map, PREVIOUS);
  });

  test('logs named beside --clickhouse are refused: their lines would count twice', async () => {
    const outcome = await run(SETTINGS, ['--clickhouse', 'http://127.0.0.1:1/', logFile]);
    assert.equal(outcome.status, 64);
    assert.match(outcome.stderr, /give one or the other/);
  });
});

describe('ClickHouse that cannot answer: retry later (75), the map untouched', () => {
  const expectRetryLater = (outcome: Outcome, cause: RegExp) => {
    assert.equal(outcome.status, 75, outcome.stderr);
    const lines = outcome.stderr.trim().split('\n');
    assert.equal(lines.length, 1, outcome.stderr);
    assert.match(lines[0], /ClickHouse http:\/\/127\.0\.0\.1:\d+\/.* table \S+: /);
    assert.match(lines[0], cause);
    assert.match(lines[0], /the map is left as it is/);
    assert.equal(outcome.map, PREVIOUS);
    assert.equal(outcome.changes, '');
  };

  test('down: nothing listens on the port', async () => {
    const port = await freePort();
    expectRetryLater(await run(SETTINGS, ['--clickhouse', `http://127.0.0.1:${port}/?database=logs`]), /cannot reach it: .*ECONNREFUSED/);
  });

  test('slow: no answer within CLICKHOUSE_TIMEOUT', async () => {
    const sockets = new Set<net.Socket>();
    const silent = http.createServer(() => {}); // accepts the query, never answers
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const started = Date.now();
      expectRetryLater(await run(`${SETTINGS}CLICKHOUSE_TIMEOUT = 1\n`, ['--clickhouse', `http://127.0.0.1:${port}/`]), /no answer within CLICKHOUSE_TIMEOUT 1 s/);
      assert.ok(Date.now() - started < 20_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test('the table missing', async (t) => {
    if (typeof server === 'string') return t.skip(`no ClickHouse server: ${server}`);
    expectRetryLater(await run(`${SETTINGS}CLICKHOUSE_TABLE = 'no_such_table'\n`, ['--clickhouse', `${server.url}?database=logs`]), /HTTP 404: .*no_such_table doesn't exist/);
  });
});

