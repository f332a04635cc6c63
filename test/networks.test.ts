/**
 * Clients counted per network: one client sends 30,000 API requests in an
 * hour, each from a new address of its /64, among normal clients. Counted per
 * address (the default) it is never throttled; with IPV6_PREFIX = 64 its /64
 * is blocked, and the real nginx and Apache refuse a fresh address of it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mulberry32, formatLogTimestamp } from './support/log-generator.js';
import { installedCopy } from './support/installed-copy.js';
import { runCli } from './support/run-cli.js';
import { askAnswer, controlNginx, findExecutable, readTemplate, settle, startApache, startNginx, stopServer, type NginxServer, type RunningServer } from './support/web-server.js';

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const NOW = ['--now', '2026-11-20 12:00:00', '--loadavg', '1'];
const ROTATING_64 = '2001:db8:1:2';
const FRESH = `${ROTATING_64}:ffff:ffff:ffff:fffe`;

function line(address: string, time: number, request: string): string {
  return `${address} - - [${formatLogTimestamp(time)}] "GET ${request} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n`;
}

/** The hour: the rotating client, 200 normal clients (IPv4 and IPv6, a few requests each), one dual-stack client in two spellings. */
function writeLog(file: string): void {
  const rng = mulberry32(0x64);
  const lines: [number, string][] = [];
  for (let i = 0; i < 30_000; i++) {
    const host = Array.from({ length: 4 }, () => Math.floor(rng() * 0x10000).toString(16)).join(':');
    lines.push([END - 3600 + (i * 3600) / 30_000, line(`${ROTATING_64}:${host}`, Math.floor(END - 3600 + (i * 3600) / 30_000), `/search?q=${i}`)]);
  }
  for (let c = 0; c < 200; c++) {
    const address = c % 3 === 0 ? `2001:db8:${100 + c}::1` : `198.51.${c % 200}.${1 + (c % 250)}`;
    for (let k = 0; k < 20; k++) {
      const time = Math.floor(END - 3600 + rng() * 3599);
      lines.push([time, line(address, time, `/search?q=c${c}k${k}`)]);
    }
  }
  // 9,000 API requests in each spelling: one client over the bulk limit, two under it.
  for (let i = 0; i < 9000; i++) {
    const time = Math.floor(END - 3600 + (i * 3600) / 9000);
    lines.push([time, line(i % 2 === 0 ? '192.0.2.7' : '::ffff:192.0.2.7', time, `/reverse?lat=${i}`)]);
  }
  lines.sort((a, b) => a[0] - b[0]);
  fs.writeFileSync(file, lines.map(([, text]) => text).join(''));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-networks-run-'));
// Apache's children (www-data) read the map and the pools under it.
fs.chmodSync(work, 0o755);
after(() => fs.rmSync(work, { recursive: true, force: true }));
const LOG = path.join(work, 'access.log');
writeLog(LOG);

let runs = 0;
function run(settings: string, extra: string[] = []): { status: number | null; stderr: string; map: string; changes: string; dir: string } {
  const dir = path.join(work, `run-${runs++}`);
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'ip_blocks.conf'), `MIN_LOG_SIZE = 0\n${settings}\n`);
  const args = ['--settings', path.join(dir, 'ip_blocks.conf'), '--map', path.join(dir, 'ip_blocks.map'), '--changelog', path.join(dir, 'changes.log'), ...NOW, ...extra, LOG];
  const result = runCli(args);
  const read = (name: string) => (fs.existsSync(path.join(dir, name)) ? fs.readFileSync(path.join(dir, name), 'utf8') : '');
  return { status: result.status, stderr: result.stderr, map: read('ip_blocks.map'), changes: read('changes.log'), dir };
}

describe('counting per network', () => {
  test('per address (the default), a client rotating through its /64 is never restricted; dual-stack spellings are two clients', () => {
    const result = run('');
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.map, /2001:db8:1:2/);
    assert.doesNotMatch(result.map, /192\.0\.2\.7/);
  });
  test('with IPV6_PREFIX = 64 the /64 is blocked, named as a network in the map and the change log', () => {
    const result = run('IPV6_PREFIX = 64');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.map, /^2001:db8:1:2::\/64 block$/m);
    assert.match(result.changes, /new block: 2001:db8:1:2::\/64$/m);
    // IPv4-mapped and plain IPv4 are one client once networks count: 9,000 API requests, over the bulk limit.
    assert.match(result.map, /^192\.0\.2\.7 bulk$/m);
    assert.doesNotMatch(result.map, /::ffff:/);
    // The normal IPv6 clients are one address each in their own /64: counted, far below every limit.
    assert.doesNotMatch(result.map, /2001:db8:1\d\d::/);
  });
  test('a whitelisted address inside the blocked /64 is written as an exception, and never counted', () => {
    const result = run(`IPV6_PREFIX = 64\nWHITELIST = '${ROTATING_64}::7'`);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.map, /^2001:db8:1:2::\/64 block\n2001:db8:1:2::7 www$/m);
  });
  test('explain takes an address or the network, and shows the network totals and its busiest addresses', () => {
    const dir = run('IPV6_PREFIX = 64', ['--dry-run']).dir;
    const explain = (subject: string) =>
      runCli(['explain', '--settings', path.join(dir, 'ip_blocks.conf'), '--map', path.join(dir, 'ip_blocks.map'), ...NOW, '--json', subject, LOG]);
    for (const subject of [FRESH, `${ROTATING_64}::/64`]) {
      const result = explain(subject);
      assert.equal(result.status, 0, result.stderr);
      const e = JSON.parse(result.stdout) as { network: { key: string; busiest: { address: string }[] } | null; stats: { longApi: number }; verdict: { state: string } };
      assert.equal(e.network?.key ?? subject, `${ROTATING_64}::/64`);
      assert.equal(e.stats.longApi, 30_000);
      assert.equal(e.verdict.state, 'block');
    }
    const words = runCli(['explain', '--settings', path.join(dir, 'ip_blocks.conf'), '--map', path.join(dir, 'ip_blocks.map'), ...NOW, FRESH, LOG]);
    assert.match(words.stdout, /^counted: +as the network 2001:db8:1:2::\/64/m);
    assert.match(words.stdout, /^busiest: +2001:db8:1:2:\S+ 1 \(1 API\)/m);
    assert.equal(explain('2001:db8:1::/48').status, 64, 'a network clients are not counted under here is a usage error');
  });
});

const nginx = findExecutable('nginx');
describe('the real nginx (geo) refuses a fresh address of the blocked /64', { skip: nginx ? false : 'nginx is not installed' }, () => {
  let server: NginxServer | undefined;
  let map: string;
  before(async () => {
    const result = run('IPV6_PREFIX = 64', ['--format', 'nginx']);
    assert.equal(result.status, 0, result.stderr);
    map = path.join(result.dir, 'ip_blocks.map');
    server = await startNginx(nginx!, readTemplate('nginx.conf'), result.dir, map);
  });
  after(() => stopServer(server));
  test(`${FRESH}, never in the log, gets 429; an address of another /64 is served`, async () => {
    controlNginx(nginx!, server!, '-s', 'reload');
    const expected = { fresh: '429', other: '200 www' };
    const got = () => Promise.all([askAnswer(server!.port, '/search?q=x', FRESH), askAnswer(server!.port, '/search?q=x', '2001:db8:1:3::1')]).then(([fresh, other]) => ({ fresh, other }));
    assert.deepEqual(await settle(got, expected), expected);
  });
});

const apache2 = findExecutable('apache2');
describe('the real Apache (bin/ipanalyse-lookup) refuses a fresh address of the blocked /64', { skip: apache2 ? false : 'apache2 is not installed' }, () => {
  let server: RunningServer | undefined;
  before(async () => {
    const result = run('IPV6_PREFIX = 64');
    assert.equal(result.status, 0, result.stderr);
    server = await startApache(apache2!, readTemplate('apache-networks.conf'), result.dir, path.join(result.dir, 'ip_blocks.map'), { LOOKUP: installedCopy().lookup });
  });
  after(() => stopServer(server));
  test(`${FRESH}, never in the log, gets 429; an address of another /64 is served`, async () => {
    assert.equal(await askAnswer(server!.port, '/search?q=x', FRESH), '429');
    assert.equal(await askAnswer(server!.port, '/search?q=x', '2001:db8:1:3::1'), '200 www');
  });
});
