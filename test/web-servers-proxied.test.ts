/**
 * Behind proxies, with the servers' own log formats: real nginx and Apache
 * (configured as fixtures/servers/*-proxied.conf, the lines the README gives
 * operators) write their logs in the formats configured there; ipanalyse
 * reads them with LOG_FORMAT pasted from the same configuration, and the map
 * it writes is looked up by the server with the same client: the clients
 * that overdid it are refused, the proxy never is, and an address a client
 * wrote into its own X-Forwarded-For is never blocked in its place.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FIXTURES } from './support/paths.js';
import { runCli } from './support/run-cli.js';
import { askVia, fillTemplate, findExecutable, freePort, startApache, startServer, stopServer, type RunningServer } from './support/web-server.js';

const SERVERS = path.join(FIXTURES, 'servers');

interface Sender {
  name?: string;
  /** The request's X-Forwarded-For, and the loopback address it connects from (127.0.0.1: the trusted proxy). */
  forwardedFor?: string;
  from?: string;
}

/** Who sends what: each heavy sender 25 API requests, above BLOCK_UPPER = 20. */
const HEAVY: Sender[] = [
  { name: 'a client behind the proxy', forwardedFor: '198.51.100.5' },
  // A client that prepends a made-up address; 10.0.0.2 is a trusted proxy of ours after the client.
  { name: 'a client behind two proxies, with a spoofed address in front', forwardedFor: '6.6.6.6, 198.51.100.7, 10.0.0.2' },
  { name: 'a client connecting directly, claiming another address', forwardedFor: '192.0.2.77', from: '127.0.0.2' },
];
const EXPECTED_MAP = ['127.0.0.2 block', '198.51.100.5 block', '198.51.100.7 block', '198.51.100.9 block'];

async function sendTraffic(port: number): Promise<void> {
  for (let i = 0; i < 25; i++) {
    for (const sender of HEAVY) await askVia(port, `/search?q=${i}`, sender);
    // The endpoint percent-encoded: the server routes it to /search, and ipanalyse counts it so.
    await askVia(port, `/%73earch?q=${i}`, { forwardedFor: '198.51.100.9' });
  }
  for (let i = 0; i < 3; i++) await askVia(port, `/search?q=light${i}`, { forwardedFor: '203.0.113.9' });
}

/** The answers that show who the map refuses, once it is in force. */
async function answers(port: number): Promise<Record<string, number>> {
  const asks: [string, Sender][] = [
    ['198.51.100.5 via the proxy', { forwardedFor: '198.51.100.5' }],
    ['198.51.100.7 behind two proxies', { forwardedFor: '198.51.100.7, 10.0.0.2' }],
    ['127.0.0.2 directly', { from: '127.0.0.2' }],
    ['198.51.100.9 via the proxy', { forwardedFor: '198.51.100.9' }],
    ['the spoofed 6.6.6.6 itself', { forwardedFor: '6.6.6.6' }],
    ['the spoofed 192.0.2.77 itself', { forwardedFor: '192.0.2.77' }],
    ['a light client', { forwardedFor: '203.0.113.9' }],
    ['the proxy itself', {}],
  ];
  const result: Record<string, number> = {};
  for (const [name, sender] of asks) result[name] = (await askVia(port, '/search?q=check', sender)).status;
  return result;
}

const EXPECTED_ANSWERS = {
  '198.51.100.5 via the proxy': 429,
  '198.51.100.7 behind two proxies': 429,
  '127.0.0.2 directly': 429,
  '198.51.100.9 via the proxy': 429,
  'the spoofed 6.6.6.6 itself': 200,
  'the spoofed 192.0.2.77 itself': 200,
  'a light client': 200,
  'the proxy itself': 200,
};

const LIMITS = ['BULKLONG_LIMIT = 20', 'BULKSHORT_LIMIT = 10', 'BLOCK_UPPER = 20', 'BLOCK_LOWER = 10', 'BULK_LOWER = 5', 'MIN_LOG_SIZE = 0', 'MAX_BLOCKED_SHARE = 1'];

class Site {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-proxied-'));
  readonly map = path.join(this.root, 'ip_blocks.map');

  constructor() {
    fs.chmodSync(this.root, 0o755);
    fs.writeFileSync(this.map, '');
    fs.chmodSync(this.map, 0o644);
  }

  /** A cron run over `log` with the settings lines; returns the map's lines. */
  run(log: string, settings: string[], extra: string[], map = this.map): string[] {
    const settingsFile = path.join(this.root, 'ip_blocks.conf');
    fs.writeFileSync(settingsFile, [...LIMITS, ...settings, ''].join('\n'));
    const result = runCli(['--settings', settingsFile, '--map', map, '--changelog', path.join(this.root, 'changes.log'), '--loadavg', '1', ...extra, log]);
    assert.equal(result.status, 0, `ipanalyse failed: ${result.stderr}`);
    return fs.readFileSync(map, 'utf8').split('\n').filter(Boolean).map((line) => line.replace(/;$/, ''));
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The arguments of `log_format NAME ...;` in an nginx configuration, as an operator copies them. */
function nginxLogFormat(conf: string, name: string): string {
  const start = conf.indexOf(`log_format ${name} `);
  return conf.slice(start + `log_format ${name} `.length, conf.indexOf(';', start) + 1).replace(/\s+/g, ' ');
}

const nginx = findExecutable('nginx');
describe('nginx behind a proxy: geo with proxy_recursive looks up the client TRUSTED_PROXIES finds', { skip: nginx ? false : 'nginx is not installed' }, () => {
  let site: Site;
  let server: RunningServer | undefined;
  let nginxArgs: string[];
  const template = fs.readFileSync(path.join(SERVERS, 'nginx-proxied.conf'), 'utf8');

  before(async () => {
    site = new Site();
    const port = await freePort();
    const conf = path.join(site.root, 'nginx.conf');
    fs.writeFileSync(conf, fillTemplate(template, { ROOT: site.root, PORT: port, MAP: site.map }));
    nginxArgs = ['-c', conf, '-p', site.root, '-e', path.join(site.root, 'nginx-error.log')];
    server = await startServer(nginx!, [...nginxArgs, '-g', 'daemon off;'], port, path.join(site.root, 'nginx-error.log'));
    await sendTraffic(port);
  });

  after(async () => {
    await stopServer(server);
    site?.remove();
  });

  const proxied = ["CLIENT_ADDRESS = '$http_x_forwarded_for'", "TRUSTED_PROXIES = '127.0.0.1 10.0.0.0/8'"];

  test('its JSON log (escape=json) gives the clients, not the proxy', () => {
    const settings = [`LOG_FORMAT = ${JSON.stringify(nginxLogFormat(template, 'json'))}`, ...proxied];
    assert.deepEqual(site.run(path.join(site.root, 'access.json'), settings, ['--format', 'nginx'], path.join(site.root, 'json.map')), EXPECTED_MAP);
  });

  test('after a run over its combined + forwarded-for log and a reload, nginx refuses those clients and only those', async () => {
    const settings = [`LOG_FORMAT = ${JSON.stringify(nginxLogFormat(template, 'cdn'))}`, ...proxied];
    const reload = `${nginx} -t -q ${nginxArgs.join(' ')} && ${nginx} -s reload ${nginxArgs.join(' ')}`;
    assert.deepEqual(site.run(path.join(site.root, 'access.log'), settings, ['--format', 'nginx', '--on-change', reload]), EXPECTED_MAP);
    let got = await answers(server!.port);
    // nginx swaps its workers some time after the reload: until then an old one may answer any request.
    for (let round = 0; round < 50 && !isDeepStrictEqual(got, EXPECTED_ANSWERS); round++) {
      await sleep(100);
      got = await answers(server!.port);
    }
    assert.deepEqual(got, EXPECTED_ANSWERS);
  });
});

const apache2 = findExecutable('apache2');
describe('Apache behind a proxy: mod_remoteip, and %a in its own LogFormat', { skip: apache2 ? false : 'apache2 is not installed' }, () => {
  let site: Site;
  let server: RunningServer | undefined;
  const template = fs.readFileSync(path.join(SERVERS, 'apache-proxied.conf'), 'utf8');

  before(async () => {
    site = new Site();
    // Apache's children (www-data) write the log in the site's directory.
    fs.writeFileSync(path.join(site.root, 'access.log'), '');
    fs.chmodSync(path.join(site.root, 'access.log'), 0o666);
    server = await startApache(apache2!, template, site.root, site.map);
    await sendTraffic(server.port);
  });

  after(async () => {
    await stopServer(server);
    site?.remove();
  });

  test('after a run over its log, Apache refuses those clients and only those, without a restart', async () => {
    const line = template.split('\n').find((l) => l.startsWith('LogFormat '))!;
    const quoted = line.slice('LogFormat '.length, line.lastIndexOf('"') + 1);
    assert.deepEqual(site.run(path.join(site.root, 'access.log'), [`LOG_FORMAT = r'${quoted}'`], []), EXPECTED_MAP);
    assert.deepEqual(await answers(server!.port), EXPECTED_ANSWERS);
  });
});
