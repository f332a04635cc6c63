/**
 * Maps that hold networks (clients counted per /64 or /24), read by the real
 * nginx (geo, fixtures/servers/nginx.conf) and the real Apache (the prg:
 * helper bin/ipanalyse-lookup, fixtures/servers/apache-networks.conf): a
 * client is restricted from any address of a restricted network, including
 * ones the log never saw, except a whitelisted one, and is served again once
 * a new map releases the network.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MapState } from '../src/decide/policy.js';
import { renderMap, whitelistExceptions, type MapFormat } from '../src/write/map-file.js';
import { installedCopy } from './support/installed-copy.js';
import { askAnswer, controlNginx, findExecutable, readTemplate, settle, startApache, startNginx, stopServer, type NginxServer, type RunningServer } from './support/web-server.js';

const WHITELIST = ['2001:db8:1:2::7', '::ffff:198.51.100.20'];
/** What a run counting per /64 and per /24 restricts. */
const RESTRICTED = new Map<string, MapState>([
  ['2001:db8:1:2::/64', 'block'],
  ['2001:db8:1:3::/64', 'ban'],
  ['198.51.100.0/24', 'bulk'],
]);
const RESTRICTED_MAP =
  '198.51.100.0/24 bulk\n198.51.100.20 www\n2001:db8:1:2::/64 block\n2001:db8:1:2::7 www\n2001:db8:1:3::/64 ban\n';
/** The next run: the blocked /64 and the bulk /24 went quiet, the banned /64 stays. */
const RELEASED = new Map<string, MapState>([['2001:db8:1:3::/64', 'ban']]);

/** None of these addresses is in any map: each is a fresh address of its network, or of none. */
const CLIENTS: { address: string; restricted: string; released: string }[] = [
  { address: '2001:db8:1:2:a5:ff:fe00:1', restricted: '429', released: '200 www' },
  { address: '2001:DB8:1:2:FFFF::', restricted: '429', released: '200 www' },
  { address: '2001:db8:1:3:1234:5678:9abc:def0', restricted: '403', released: '403' },
  { address: '198.51.100.200', restricted: '200 bulk', released: '200 www' },
  // An IPv4-mapped client is its IPv4 form, in its /24 as in the whitelist.
  { address: '::ffff:198.51.100.201', restricted: '200 bulk', released: '200 www' },
  { address: '2001:db8:1:4::1', restricted: '200 www', released: '200 www' },
  { address: '203.0.113.9', restricted: '200 www', released: '200 www' },
];
/** Whitelisted inside a restricted network: let through by their `www` exception. */
const WHITELISTED = [
  { address: '2001:db8:1:2::7', restricted: '200 www', released: '200 www' },
  { address: '::ffff:198.51.100.20', restricted: '200 www', released: '200 www' },
  { address: '198.51.100.20', restricted: '200 www', released: '200 www' },
];

async function answers(port: number): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const { address } of [...CLIENTS, ...WHITELISTED]) result[address] = await askAnswer(port, '/search?q=paris', address);
  return result;
}

function expected(phase: 'restricted' | 'released' | 'unrestricted'): Record<string, string> {
  return Object.fromEntries([...CLIENTS, ...WHITELISTED].map((client) => [client.address, phase === 'unrestricted' ? '200 www' : client[phase]]));
}

/** The processes whose parent is `parent` and whose command line names `name`, from /proc. */
function childrenNamed(parent: number, name: string): number[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === parent && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name) ? [Number(pid)] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

/** A temp installation whose map is replaced as a run replaces it: a new file renamed over the old one. */
class Site {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-networks-'));
  readonly map = path.join(this.root, 'ip_blocks.map');

  constructor(readonly format: MapFormat) {
    // Apache's children (www-data) read the map and the pool files.
    fs.chmodSync(this.root, 0o755);
    this.write(new Map());
  }

  /** Writes the map a run would write for these states and WHITELIST; returns its text. */
  write(states: ReadonlyMap<string, MapState>): string {
    const text = renderMap(states, this.format, whitelistExceptions(states, WHITELIST));
    const temporary = `${this.map}.tmp`;
    fs.writeFileSync(temporary, text, { mode: 0o644 });
    fs.renameSync(temporary, this.map);
    return text;
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

const nginx = findExecutable('nginx');
describe('nginx with geo restricts whole networks, whitelisted addresses excepted', { skip: nginx ? false : 'nginx is not installed' }, () => {
  let site: Site;
  let server: NginxServer | undefined;

  before(async () => {
    site = new Site('nginx');
    server = await startNginx(nginx!, readTemplate('nginx.conf'), site.root, site.map);
  });

  after(async () => {
    await stopServer(server);
    site?.remove();
  });

  test('a fresh address of a blocked /64 gets 429, of a banned /64 403, of a bulk /24 the bulk pool; whitelisted ones www', async () => {
    assert.equal(site.write(RESTRICTED), RESTRICTED_MAP.replace(/\n/g, ';\n'));
    controlNginx(nginx!, server!, '-t', '-q');
    controlNginx(nginx!, server!, '-s', 'reload');
    assert.deepEqual(await settle(() => answers(server!.port), expected('restricted')), expected('restricted'));
  });

  test('after the map releases the /64 and the /24 and nginx reloads, their clients are served again; the ban stays', async () => {
    assert.equal(site.write(RELEASED), '2001:db8:1:3::/64 ban;\n');
    controlNginx(nginx!, server!, '-s', 'reload');
    assert.deepEqual(await settle(() => answers(server!.port), expected('released')), expected('released'));
  });
});

const apache2 = findExecutable('apache2');
describe('Apache with bin/ipanalyse-lookup restricts whole networks, without a restart', { skip: apache2 ? false : 'apache2 is not installed' }, () => {
  let site: Site;
  let server: RunningServer | undefined;

  before(async () => {
    site = new Site('apache');
    server = await startApache(apache2!, readTemplate('apache-networks.conf'), site.root, site.map, { LOOKUP: installedCopy().lookup });
  });

  after(async () => {
    await stopServer(server);
    site?.remove();
  });

  test('with the empty map everyone is served by the www pool', async () => {
    assert.deepEqual(await answers(server!.port), expected('unrestricted'));
  });

  // Nothing signals Apache: the helper sees the renamed map on the next lookup.
  test('a fresh address of a blocked /64 gets 429, of a banned /64 403, of a bulk /24 the bulk pool; whitelisted ones www', async () => {
    assert.equal(site.write(RESTRICTED), RESTRICTED_MAP);
    assert.deepEqual(await answers(server!.port), expected('restricted'));
  });

  test('after the map releases the /64 and the /24, their clients are served again; the ban stays', async () => {
    assert.equal(site.write(RELEASED), '2001:db8:1:3::/64 ban\n');
    assert.deepEqual(await answers(server!.port), expected('released'));
  });

  const helpers = () => childrenNamed(server!.child.pid!, 'ipanalyse-lookup');

  test("one helper, running as RewriteMap's user:group: started by a root Apache, it does not keep root", () => {
    assert.equal(helpers().length, 1);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${helpers()[0]}/status`, 'utf8'))![1]);
    const wwwData = () => Number(/^www-data:[^:]*:(\d+):/m.exec(fs.readFileSync('/etc/passwd', 'utf8'))![1]);
    assert.equal(uid, process.getuid?.() === 0 ? wwwData() : process.getuid?.());
  });

  // The trade-off the README states: Apache never restarts a dead helper by itself, and the configuration then fails open.
  test('when the helper dies, everyone is served by the www pool, until a graceful reload restarts it', async () => {
    process.kill(helpers()[0], 'SIGKILL');
    assert.deepEqual(await answers(server!.port), expected('unrestricted'));
    process.kill(server!.child.pid!, 'SIGUSR1'); // apache2 -k graceful, for a server in the foreground
    assert.deepEqual(await settle(() => answers(server!.port), expected('released')), expected('released'));
    assert.equal(helpers().length, 1, 'the reload started a new helper, and only one');
  });
});
