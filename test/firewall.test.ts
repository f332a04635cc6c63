/**
 * Bans enforced by the firewall, with the real nft and ipset, in two network
 * namespaces of the test's own joined by a veth pair: a server on the inner
 * addresses, clients on the other side. The operator's rules are
 * contrib/nftables/ipanalyse.nft as shipped; ON_CHANGE loads the file
 * ipanalyse writes, as the README says (with ipset, the README's iptables
 * rules). A banned client's connection is dropped, another's accepted, IPv4
 * and IPv6, until a run releases it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { installedCopy } from './support/installed-copy.js';
import { CLI, REPO_ROOT } from './support/paths.js';
import { CHILD_ENV, runCli } from './support/run-cli.js';
import { findExecutable } from './support/web-server.js';

const ip = findExecutable('ip');
const nft = findExecutable('nft');
const ipset = findExecutable('ipset');
const setpriv = findExecutable('setpriv');
const iptables = findExecutable('iptables');
const ip6tables = findExecutable('ip6tables');

const TAG = String(process.pid);
const SERVER_NS = `ipa-srv-${TAG}`;
const CLIENT_NS = `ipa-cli-${TAG}`;
const PORT = 8080;
const SERVER = { ipv4: '10.213.0.1', ipv6: 'fd00:213::1' };
/** Banned: one address by itself, one inside a blacklisted network. */
const BANNED = { ipv4: '10.213.0.66', ipv6: 'fd00:213::b:1' };
const ALLOWED = { ipv4: '10.213.0.7', ipv6: 'fd00:213::a:1' };
const BLACKLIST = `${BANNED.ipv4} fd00:213::b:0/112 198.51.100.0/24`;
const RELEASED_BLACKLIST = '198.51.100.0/24';

function sh(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

function must(command: string, args: string[]): string {
  const result = sh(command, args);
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.output}`);
  return result.output;
}

/** Why the namespaces cannot be made here, or false when they can (made by probing, not guessed). */
function whyNoNamespaces(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  if (!ip) return 'iproute2 (ip) is not installed';
  if (!nft) return 'nftables (nft) is not installed';
  const probe = sh(ip, ['netns', 'add', `ipa-probe-${TAG}`]);
  if (probe.status !== 0) return `cannot create a network namespace: ${probe.output.trim()}`;
  sh(ip, ['netns', 'del', `ipa-probe-${TAG}`]);
  return false;
}

const skip = whyNoNamespaces();

const inServer = (...args: string[]) => ['netns', 'exec', SERVER_NS, ...args];

/** The two namespaces, the veth pair between them, and the addresses on each side (DAD off: nothing else is on the link). */
function createNetwork(): void {
  must(ip!, ['netns', 'add', SERVER_NS]);
  must(ip!, ['netns', 'add', CLIENT_NS]);
  must(ip!, ['link', 'add', `ipas${TAG}`, 'netns', SERVER_NS, 'type', 'veth', 'peer', 'name', `ipac${TAG}`, 'netns', CLIENT_NS]);
  for (const [ns, link, addresses] of [
    [SERVER_NS, `ipas${TAG}`, [`${SERVER.ipv4}/24`, `${SERVER.ipv6}/64`]],
    [CLIENT_NS, `ipac${TAG}`, [`${BANNED.ipv4}/24`, `${ALLOWED.ipv4}/24`, `${BANNED.ipv6}/64`, `${ALLOWED.ipv6}/64`]],
  ] as const) {
    for (const address of addresses) must(ip!, ['-n', ns, 'addr', 'add', address, 'dev', link, ...(address.includes(':') ? ['nodad'] : [])]);
    must(ip!, ['-n', ns, 'link', 'set', link, 'up']);
    must(ip!, ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
}

/** A TCP server on both server addresses that greets and hangs up; it ends itself after a minute whatever happens to the test. */
const SERVER_SCRIPT = `
const server = require('node:net').createServer((socket) => socket.end('hello\\n'));
server.listen({ host: '::', port: ${PORT}, ipv6Only: false });
setTimeout(() => process.exit(0), 60000).unref();
setTimeout(() => server.close(), 60000);
`;

/**
 * From the client side, one connection per pair of source and server address,
 * each given 1.5 s: 'connected', or 'timeout' when the SYN was dropped.
 */
const PROBE_SCRIPT = `
const net = require('node:net');
const pairs = JSON.parse(process.argv[1]);
Promise.all(pairs.map(([localAddress, host]) => new Promise((resolve) => {
  const socket = net.connect({ host, port: ${PORT}, localAddress });
  const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, 1500);
  socket.once('data', () => { clearTimeout(timer); socket.destroy(); resolve('connected'); });
  socket.once('error', (error) => { clearTimeout(timer); resolve(error.code); });
}))).then((results) => console.log(JSON.stringify(results)));
`;

type Answers = Record<'banned ipv4' | 'allowed ipv4' | 'banned ipv6' | 'allowed ipv6', string>;

function probe(): Answers {
  const pairs = [
    [BANNED.ipv4, SERVER.ipv4],
    [ALLOWED.ipv4, SERVER.ipv4],
    [BANNED.ipv6, SERVER.ipv6],
    [ALLOWED.ipv6, SERVER.ipv6],
  ];
  const output = must(ip!, ['netns', 'exec', CLIENT_NS, process.execPath, '-e', PROBE_SCRIPT, JSON.stringify(pairs)]);
  const [bannedIpv4, allowedIpv4, bannedIpv6, allowedIpv6] = JSON.parse(output) as string[];
  return { 'banned ipv4': bannedIpv4, 'allowed ipv4': allowedIpv4, 'banned ipv6': bannedIpv6, 'allowed ipv6': allowedIpv6 };
}

const EVERYONE_CONNECTS: Answers = { 'banned ipv4': 'connected', 'allowed ipv4': 'connected', 'banned ipv6': 'connected', 'allowed ipv6': 'connected' };
const BANNED_DROPPED: Answers = { 'banned ipv4': 'timeout', 'allowed ipv4': 'connected', 'banned ipv6': 'timeout', 'allowed ipv6': 'connected' };

/**
 * The operator's side: settings with the blacklist, a log in which the
 * banned clients and the allowed ones made a request (so that the run
 * decides), and the runs cron would make, each with ON_CHANGE.
 */
class Installation {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-firewall-'));
  readonly settings = path.join(this.root, 'ip_blocks.conf');
  readonly log = path.join(this.root, 'access.log');
  readonly reloads = path.join(this.root, 'reloads');
  readonly file: string;
  private readonly load: string;

  /** `load` makes the command that applies the file, as the operator's ON_CHANGE would. */
  constructor(readonly output: 'nft' | 'ipset', load: (file: string) => string) {
    this.file = path.join(this.root, `banned.${output}`);
    this.load = load(this.file);
    const lines = [BANNED.ipv4, ALLOWED.ipv4, BANNED.ipv6, ALLOWED.ipv6].map(
      (address) => `${address} - - [20/Nov/2026:11:30:00 +0000] "GET /search?q=x HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n`,
    );
    fs.writeFileSync(this.log, lines.join(''));
    this.writeSettings(BLACKLIST);
  }

  writeSettings(blacklist: string): void {
    fs.writeFileSync(this.settings, `MIN_LOG_SIZE = 0\nBLACKLIST = '${blacklist}'\n`);
  }

  /** A cron run's arguments; ON_CHANGE counts its calls, then loads the file as the README says. */
  runArguments(now: string, load = this.load): string[] {
    return [
      '--settings', this.settings, '--map', path.join(this.root, 'ip_blocks.map'), '--changelog', path.join(this.root, 'restricted_ip.log'),
      `--${this.output}`, this.file, '--on-change', `echo >> ${this.reloads} && ${load}`, '--now', now, '--loadavg', '1', this.log,
    ];
  }

  run(now: string): void {
    const result = runCli(this.runArguments(now));
    assert.equal(result.status, 0, `ipanalyse failed: ${result.stderr}`);
    assert.equal(result.stderr + result.stdout, '', 'a normal run is silent');
  }

  reloadCount(): number {
    return fs.existsSync(this.reloads) ? fs.readFileSync(this.reloads, 'utf8').length : 0;
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The elements of an nft set as nft lists them. */
function nftElements(set: string): string[] {
  const listing = must(ip!, inServer(nft!, '--json', 'list', 'set', 'inet', 'ipanalyse', set));
  const found = (JSON.parse(listing).nftables as { set?: { elem?: unknown[] } }[]).find((item) => item.set)?.set?.elem ?? [];
  return found.map((element) => {
    const prefix = (element as { prefix?: { addr: string; len: number } }).prefix;
    return prefix ? `${prefix.addr}/${prefix.len}` : String(element);
  });
}

describe('bans enforced by the firewall, in network namespaces of our own', { skip }, () => {
  let serverChild: ChildProcess | undefined;

  before(async () => {
    createNetwork();
    serverChild = spawn(ip!, inServer(process.execPath, '-e', SERVER_SCRIPT), { stdio: 'ignore' });
    // Bounded: the server listens within a few seconds or the first test fails on what the probe says.
    for (let attempt = 0; attempt < 50 && probe()['allowed ipv4'] !== 'connected'; attempt++) await sleep(100);
  });

  after(() => {
    serverChild?.kill();
    for (const ns of [SERVER_NS, CLIENT_NS]) if (ip) sh(ip, ['netns', 'del', ns]);
  });

  describe('NFT_FILE, loaded with nft -f, dropped by contrib/nftables/ipanalyse.nft', () => {
    let site: Installation;
    before(() => {
      must(ip!, inServer(nft!, '-f', path.join(REPO_ROOT, 'contrib/nftables/ipanalyse.nft')));
      site = new Installation('nft', (file) => `${ip} netns exec ${SERVER_NS} ${nft} -f ${file}`);
    });
    after(() => {
      site?.remove();
      if (ip && nft) sh(ip, inServer(nft, 'delete', 'table', 'inet', 'ipanalyse'));
    });

    test('before any run, the rules are loaded and everyone connects', () => {
      assert.deepEqual(probe(), EVERYONE_CONNECTS);
    });

    test('after a run, the banned clients are dropped, IPv4 and IPv6, and the others still connect', () => {
      site.run('2026-11-20 12:00:00');
      assert.equal(site.reloadCount(), 1);
      assert.deepEqual(nftElements('banned4'), [BANNED.ipv4, '198.51.100.0/24']);
      // The banned IPv6 client lies in the blacklisted network: the network alone is in the set.
      assert.deepEqual(nftElements('banned6'), ['fd00:213::b:0/112']);
      assert.deepEqual(probe(), BANNED_DROPPED);
    });

    test('a run that bans nobody new leaves the file alone and does not reload', () => {
      const before = fs.statSync(site.file).mtimeMs;
      site.run('2026-11-20 12:01:00');
      assert.equal(site.reloadCount(), 1);
      assert.equal(fs.statSync(site.file).mtimeMs, before);
      assert.deepEqual(probe(), BANNED_DROPPED);
    });

    test('after the run that releases them, the set is refilled without them and they connect again', () => {
      site.writeSettings(RELEASED_BLACKLIST);
      site.run('2026-11-20 12:02:00');
      assert.equal(site.reloadCount(), 2);
      assert.deepEqual(nftElements('banned4'), ['198.51.100.0/24']);
      assert.deepEqual(nftElements('banned6'), []);
      assert.deepEqual(probe(), EVERYONE_CONNECTS);
    });

    // ipanalyse.service runs as a user of its own with CAP_NET_ADMIN alone; here, nobody with the same, in the server's namespace.
    test('run as an unprivileged user with only CAP_NET_ADMIN, as ipanalyse.service does, ON_CHANGE still loads the bans', { skip: setpriv ? false : 'setpriv (util-linux) is not installed' }, () => {
      site.writeSettings(BLACKLIST);
      fs.chownSync(site.root, 65534, 65534);
      for (const file of fs.readdirSync(site.root)) fs.chownSync(path.join(site.root, file), 65534, 65534);
      const asServiceUser = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all,+net_admin', '--ambient-caps=-all,+net_admin', '--bounding-set=-all,+net_admin', '--no-new-privs'];
      const result = spawnSync(ip!, inServer(setpriv!, ...asServiceUser, process.execPath, installedCopy().cli, ...site.runArguments('2026-11-20 12:03:00', `${nft} -f ${site.file}`)), {
        encoding: 'utf8',
        env: CHILD_ENV,
        timeout: 20_000,
      });
      assert.equal(result.status, 0, `ipanalyse as nobody failed: ${result.stderr}`);
      assert.equal(site.reloadCount(), 3);
      assert.deepEqual(nftElements('banned4'), [BANNED.ipv4, '198.51.100.0/24']);
      assert.deepEqual(probe(), BANNED_DROPPED);
    });
  });

  describe('IPSET_FILE, loaded with ipset restore', { skip: ipset ? false : 'ipset is not installed' }, () => {
    let site: Installation;
    const members = (set: string) => {
      const listing = must(ip!, inServer(ipset!, 'list', set));
      return listing.slice(listing.indexOf('Members:\n') + 'Members:\n'.length).split('\n').filter(Boolean).sort();
    };
    const sets = () => must(ip!, inServer(ipset!, 'list', '-name')).split('\n').filter(Boolean).sort();

    before(() => {
      site = new Installation('ipset', (file) => `${ip} netns exec ${SERVER_NS} ${ipset} restore -file ${file}`);
    });
    after(() => {
      site?.remove();
      // The rules hold the sets: they go first.
      if (ip && iptables && ip6tables) for (const tool of [iptables, ip6tables]) sh(ip, inServer(tool, '-F', 'INPUT'));
      if (ip && ipset) for (const set of ['ipanalyse4', 'ipanalyse6']) sh(ip, inServer(ipset, 'destroy', set));
    });

    test('after a run, the two sets hold the banned clients and networks, and nothing else is left behind', () => {
      site.run('2026-11-20 12:00:00');
      assert.equal(site.reloadCount(), 1);
      assert.deepEqual(sets(), ['ipanalyse4', 'ipanalyse6']);
      assert.deepEqual(members('ipanalyse4'), [BANNED.ipv4, '198.51.100.0/24'].sort());
      assert.deepEqual(members('ipanalyse6'), ['fd00:213::b:0/112']);
    });

    const noIptables = iptables && ip6tables ? false : 'iptables is not installed';
    test('with the README\'s iptables rules, the banned clients are dropped and the others connect', { skip: noIptables }, () => {
      must(ip!, inServer(iptables!, '-I', 'INPUT', '-m', 'set', '--match-set', 'ipanalyse4', 'src', '-j', 'DROP'));
      must(ip!, inServer(ip6tables!, '-I', 'INPUT', '-m', 'set', '--match-set', 'ipanalyse6', 'src', '-j', 'DROP'));
      assert.deepEqual(probe(), BANNED_DROPPED);
    });

    test('after the run that releases them, the sets were swapped for ones without them', () => {
      site.writeSettings(RELEASED_BLACKLIST);
      site.run('2026-11-20 12:02:00');
      assert.equal(site.reloadCount(), 2, 'the second restore of the same sets must succeed too');
      assert.deepEqual(sets(), ['ipanalyse4', 'ipanalyse6']);
      assert.deepEqual(members('ipanalyse4'), ['198.51.100.0/24']);
      assert.deepEqual(members('ipanalyse6'), []);
      // Swapped under the iptables rules that reference the sets: they now match the new members.
      if (!noIptables) assert.deepEqual(probe(), EVERYONE_CONNECTS);
    });
  });
});
