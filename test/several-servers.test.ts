/**
 * One run for several servers: it reads every server's log and its ON_CHANGE,
 * contrib/distribute/ipanalyse-push-map, puts the map in place on each
 * server by a rename and reloads it. Two real nginx instances on loopback,
 * each with its own copy of the map, restrict the same clients.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from './support/paths.js';
import { runCli } from './support/run-cli.js';
import { askAnswer, findExecutable, readTemplate, settle, SERVERS, startNginx, stopServer, type NginxServer } from './support/web-server.js';

const PUSH = path.join(REPO_ROOT, 'contrib/distribute/ipanalyse-push-map');
const nginx = findExecutable('nginx');

/** What fixtures/servers/access.log earns each client (web-servers.test.ts), and what nginx answers for it. */
const EXPECTED: Record<string, string> = { '198.51.100.5': '200 bulk', '198.51.100.7': '429', '192.0.2.66': '403', '203.0.113.9': '200 www' };
const FIRST_MAP = '192.0.2.66 ban;\n198.51.100.5 bulk;\n198.51.100.7 block;\n2001:db8::5 block;\n';

describe('one run, one map, two nginx servers', { skip: nginx ? false : 'nginx is not installed' }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-servers-'));
  const map = path.join(root, 'ip_blocks.map');
  const settings = path.join(root, 'ip_blocks.conf');
  const logs = [path.join(root, 'www1.log'), path.join(root, 'www2.log')];
  const servers: NginxServer[] = [];
  const serverMaps = ['www1', 'www2'].map((name) => path.join(root, name, 'ip_blocks.map'));

  before(async () => {
    fs.copyFileSync(path.join(SERVERS, 'ip_blocks.conf'), settings);
    // Each server logged every other request of the same traffic.
    const lines = fs.readFileSync(path.join(SERVERS, 'access.log'), 'utf8').split('\n').filter(Boolean);
    logs.forEach((log, i) => fs.writeFileSync(log, lines.filter((_, n) => n % 2 === i).map((line) => `${line}\n`).join('')));
    fs.writeFileSync(map, '');
    for (const serverMap of serverMaps) {
      fs.mkdirSync(path.dirname(serverMap));
      fs.writeFileSync(serverMap, ''); // nginx does not start without it
      servers.push(await startNginx(nginx!, readTemplate('nginx.conf'), path.dirname(serverMap), serverMap));
    }
  });

  after(async () => {
    for (const server of servers) await stopServer(server);
    fs.rmSync(root, { recursive: true, force: true });
  });

  const reloadOf = (server: NginxServer) => [nginx!, ...server.args, '-s', 'reload'].join(' ');
  const quote = (text: string) => `'${text}'`;
  const onChange = (destinations: string[]) => [PUSH, ...servers.flatMap((server, i) => ['--reload', quote(reloadOf(server)), destinations[i]])].join(' ');

  function run(destinations: string[]) {
    return runCli([
      '--settings', settings, '--map', map, '--changelog', path.join(root, 'restricted_ip.log'), '--format', 'nginx',
      '--now', '2026-11-20 12:00:00', '--loadavg', '1', '--on-change', onChange(destinations), ...logs,
    ]);
  }

  const answers = async (server: NginxServer) => {
    const result: Record<string, string> = {};
    for (const address of Object.keys(EXPECTED)) result[address] = await askAnswer(server.port, '/search?q=x', address);
    return result;
  };

  test('before any run both serve everyone from the www pool', async () => {
    for (const server of servers) assert.deepEqual(await answers(server), Object.fromEntries(Object.keys(EXPECTED).map((a) => [a, '200 www'])));
  });

  test('a server that cannot be reached: the other gets the map, the run exits 74 naming it, and the next run pushes again', async () => {
    const unreachable = path.join(root, 'gone', 'ip_blocks.map');
    const result = run([serverMaps[0], unreachable]);
    assert.equal(result.status, 74, result.stderr);
    assert.match(result.stderr, new RegExp(`push to ${unreachable} failed`));
    assert.equal(fs.readFileSync(map, 'utf8'), FIRST_MAP);
    assert.equal(fs.readFileSync(serverMaps[0], 'utf8'), FIRST_MAP);
    assert.deepEqual(await settle(() => answers(servers[0]), EXPECTED), EXPECTED);
    assert.ok(fs.existsSync(`${map}.reload-pending`));
  });

  test('once both are reachable, the pending push reaches both and both restrict the clients', async () => {
    const result = run(serverMaps);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(!fs.existsSync(`${map}.reload-pending`));
    for (const [i, serverMap] of serverMaps.entries()) {
      assert.equal(fs.readFileSync(serverMap, 'utf8'), FIRST_MAP);
      // Renamed into place: nothing half-written is left beside it.
      assert.deepEqual(fs.readdirSync(path.dirname(serverMap)).filter((name) => name.includes('ipanalyse-push')), []);
      assert.deepEqual(await settle(() => answers(servers[i]), EXPECTED), EXPECTED);
    }
  });
});
