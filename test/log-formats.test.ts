/**
 * The same hour of requests, logged in each format an operator may have
 * (LOG_FORMAT in the settings file, as pasted from the server's own
 * configuration), gives the same map: the format changes how a line is read,
 * never what is decided. Behind proxies the map names the client, never the
 * proxy, and never an address a client wrote into the header itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { formatLogTimestamp } from './support/log-generator.js';
import { runCli } from './support/run-cli.js';

const END = Date.UTC(2026, 10, 20, 12, 0, 0) / 1000;
const PROXY = '10.0.0.1';
const EDGE = '203.0.113.10';

interface Request {
  client: string;
  time: number;
  target: string;
  ua: string;
  /** Sent straight to the server, not through the proxies; with `spoof`, a header the client made up. */
  direct?: boolean;
  /** An address the client put in its own X-Forwarded-For (on the left of the chain). */
  spoof?: string;
}

/** `count` requests of one client, spread evenly over the hour before END. */
function client(address: string, count: number, target: (i: number) => string, extra: Partial<Request> = {}): Request[] {
  return Array.from({ length: count }, (_, i) => ({ client: address, time: END - 3599 + Math.floor((i * 3598) / count), target: target(i), ua: 'Mozilla/5.0 (X11; Linux x86_64)', ...extra }));
}

const REQUESTS: Request[] = [
  ...client('198.51.100.5', 30, (i) => `/search?q=${i}`),
  ...client('198.51.100.7', 70, (i) => `/reverse?lat=${i}&lon=1`, { spoof: '192.0.2.250' }),
  // Percent-encoded: the server routes it to /search, so it counts as an API request.
  ...client('198.51.100.9', 30, (i) => `/%73earch?q=${i}`),
  ...client('2001:db8::5', 30, (i) => `//details?osmtype=N&osmid=${i}`),
  // Connects directly and claims another address: it is the client itself.
  ...client('198.51.100.20', 30, (i) => `/search?q=${i}`, { direct: true, spoof: '192.0.2.251' }),
  ...client('198.51.100.11', 40, () => '/status.php'),
  ...[10, 11, 12, 13].flatMap((n) => client(`192.0.2.${n}`, 4, (i) => `/search?q=${n}-${i}`)),
].sort((a, b) => a.time - b.time);

const EXPECTED_MAP = '198.51.100.5 bulk\n198.51.100.7 block\n198.51.100.9 bulk\n198.51.100.20 bulk\n2001:db8::5 bulk\n';

/** The forwarded-for header a request arrives with, or undefined. */
function forwardedFor(r: Request): string | undefined {
  if (r.direct) return r.spoof;
  return [r.spoof, r.client].filter(Boolean).join(', ');
}

function clf(r: Request): string {
  return formatLogTimestamp(r.time);
}

function iso(r: Request, zoneMinutes: number): string {
  const local = new Date((r.time + zoneMinutes * 60) * 1000).toISOString().slice(0, 19);
  const sign = zoneMinutes < 0 ? '-' : '+';
  const z = Math.abs(zoneMinutes);
  return `${local}${sign}${String(Math.trunc(z / 60)).padStart(2, '0')}:${String(z % 60).padStart(2, '0')}`;
}

interface Case {
  name: string;
  settings: string;
  line: (r: Request) => string;
}

const pyString = (text: string) => JSON.stringify(text);

const CASES: Case[] = [
  {
    name: 'combined (the default)',
    settings: '',
    line: (r) => `${r.client} - - [${clf(r)}] "GET ${r.target} HTTP/1.1" 200 512 "-" "${r.ua}"`,
  },
  {
    name: 'common',
    settings: "LOG_FORMAT = 'common'",
    line: (r) => `${r.client} - - [${clf(r)}] "GET ${r.target} HTTP/1.1" 200 512`,
  },
  {
    name: 'vhost_combined',
    settings: "LOG_FORMAT = 'vhost_combined'",
    line: (r) => `nominatim.example.org:443 ${r.client} - - [${clf(r)}] "GET ${r.target} HTTP/1.1" 200 512 "-" "${r.ua}"`,
  },
  {
    name: 'an Apache format with %{X-Forwarded-For}i and %D, behind a trusted proxy',
    settings: [
      `LOG_FORMAT = r'"%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\" \\"%{X-Forwarded-For}i\\" %D"'`,
      "CLIENT_ADDRESS = '%{X-Forwarded-For}i'",
      "TRUSTED_PROXIES = '10.0.0.0/24'",
    ].join('\n'),
    line: (r) => `${r.direct ? r.client : PROXY} - - [${clf(r)}] "GET ${r.target} HTTP/1.1" 200 512 "-" "${r.ua}" "${forwardedFor(r) ?? '-'}" 1834`,
  },
  {
    name: 'an nginx escape=json format',
    settings: `LOG_FORMAT = ${pyString(`escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request",' '"status":$status,"bytes":$body_bytes_sent,"ua":"$http_user_agent","rt":$request_time}';`)}`,
    line: (r) => JSON.stringify({ time: iso(r, 60), remote_addr: r.client, request: `GET ${r.target} HTTP/1.1`, status: 200, bytes: 512, ua: r.ua, rt: 0.004 }),
  },
  {
    name: "Caddy's JSON log (request.client_ip from its trusted_proxies)",
    settings: "LOG_FORMAT = 'caddy'",
    line: (r) =>
      JSON.stringify({
        level: 'info',
        ts: r.time + 0.25,
        logger: 'http.log.access',
        msg: 'handled request',
        request: {
          remote_ip: r.direct ? r.client : PROXY,
          remote_port: '40000',
          client_ip: r.client,
          proto: 'HTTP/1.1',
          method: 'GET',
          host: 'nominatim.example.org',
          uri: r.target,
          headers: { Accept: ['*/*'], 'User-Agent': [r.ua], ...(forwardedFor(r) ? { 'X-Forwarded-For': [forwardedFor(r)] } : {}) },
        },
        duration: 0.001,
        size: 512,
        status: 200,
      }),
  },
  {
    name: "nginx's combined plus $http_x_forwarded_for behind a CDN",
    settings: [
      `LOG_FORMAT = ${pyString(`'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"'`)}`,
      "CLIENT_ADDRESS = '$http_x_forwarded_for'",
      "TRUSTED_PROXIES = ('203.0.113.0/24',)",
    ].join('\n'),
    line: (r) => `${r.direct ? r.client : EDGE} - - [${clf(r)}] "GET ${r.target} HTTP/1.1" 200 512 "-" "${r.ua}" "${forwardedFor(r) ?? '-'}"`,
  },
];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-formats-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const LIMITS = ['BULKLONG_LIMIT = 20', 'BULKSHORT_LIMIT = 1000', 'BULK_LOADFAC = 0', 'BULK_LOWER = 5', 'BLOCK_UPPER = 60', 'BLOCK_LOWER = 30', 'MIN_LOG_SIZE = 0'].join('\n');

let runs = 0;
/** One cron run over `log` with the settings lines; returns the map it writes. */
function runOn(log: string, settings: string, extra: string[] = []) {
  const dir = path.join(work, `run-${runs++}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'access.log'), log);
  fs.writeFileSync(path.join(dir, 'ip_blocks.conf'), `${LIMITS}\n${settings}\n`);
  const result = runCli([
    '--settings', path.join(dir, 'ip_blocks.conf'), '--map', path.join(dir, 'ip_blocks.map'), '--changelog', path.join(dir, 'changes.log'),
    '--now', '2026-11-20 12:00:00', '--loadavg', '1', ...extra, path.join(dir, 'access.log'),
  ]);
  return { result, map: () => fs.readFileSync(path.join(dir, 'ip_blocks.map'), 'utf8') };
}

function mapFor(log: string, settings: string): string {
  const { result, map } = runOn(log, settings);
  assert.equal(result.status, 0, `ipanalyse failed: ${result.stderr}`);
  return map();
}

describe('the same requests give the same map in every log format', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const log = REQUESTS.map((r) => `${c.line(r)}\n`).join('');
      assert.equal(mapFor(log, c.settings), EXPECTED_MAP);
    });
  }

  test('a log that changed format at a reload, with both formats given', () => {
    const [first, second] = [CASES[0], CASES[4]];
    const half = END - 1800;
    const log = REQUESTS.map((r) => `${(r.time < half ? first : second).line(r)}\n`).join('');
    assert.equal(mapFor(log, `LOG_FORMAT = ('combined', ${second.settings.slice('LOG_FORMAT = '.length)})`), EXPECTED_MAP);
  });

  test('read with the wrong format, the lines are garbage: nothing is decided, exit 69 naming the format', () => {
    const log = REQUESTS.map((r) => `${CASES[4].line(r)}\n`).join('');
    const { result, map } = runOn(log, '');
    assert.equal(result.status, 69, result.stderr);
    assert.match(result.stderr, /access\.log: \d+ of \d+ lines read \(100%\) cannot be read as LOG_FORMAT 'combined'/);
    assert.equal(map(), '');
  });
  test('read with the wrong format, when a preset reads the lines, the message names the setting to use', () => {
    const vhost = CASES.find((c) => c.settings.includes('vhost_combined'));
    assert.ok(vhost, 'a vhost_combined case');
    const log = REQUESTS.map((r) => `${vhost.line(r)}\n`).join('');
    const { result } = runOn(log, '');
    assert.equal(result.status, 69, result.stderr);
    assert.match(result.stderr, /LOG_FORMAT = 'vhost_combined' reads them/);
    assert.equal(runOn(log, '', ['--log-format', 'vhost_combined']).result.status, 0, 'and --log-format vhost_combined reads the log');
  });

});
