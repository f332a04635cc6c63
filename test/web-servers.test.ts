/**
 * The map ipanalyse writes, read by the real Apache and nginx configured as
 * in fixtures/servers/ (the snippets the README gives operators): clients get
 * the answer of their state, and are served normally again once released.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from './support/run-cli.js';
import {
  askAnswer, controlNginx, findExecutable, readTemplate, settle, SERVERS, startApache, startNginx, stopServer, type NginxServer, type RunningServer,
} from './support/web-server.js';

type State = 'www' | 'bulk' | 'block' | 'ban';
/** What a client in each state gets: www and bulk are served (by different pools), block and ban are not. */
const ANSWER: Record<State, string> = { www: '200 www', bulk: '200 bulk', block: '429', ban: '403' };

/** One client per state of the first run, each on another endpoint and URL form the rewrite must catch. */
const CLIENTS: { address: string; path: string; state: State }[] = [
  { address: '198.51.100.5', path: '/search?q=paris', state: 'bulk' },
  { address: '198.51.100.7', path: '/reverse.php?lat=48.8&lon=2.3', state: 'block' },
  { address: '2001:db8::5', path: '/details?osmtype=N&osmid=1', state: 'block' },
  // How a proxy might spell it; the servers canonicalize it to the map's form.
  { address: '2001:DB8:0:0::5', path: '/search?q=x', state: 'block' },
  { address: '192.0.2.66', path: '/search/rome', state: 'ban' },
  { address: '203.0.113.9', path: '/search?q=berlin', state: 'www' },
];
const FIRST_MAP = '192.0.2.66 ban\n198.51.100.5 bulk\n198.51.100.7 block\n2001:db8::5 block\n';

async function answers(port: number): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const client of CLIENTS) result[client.address] = await askAnswer(port, client.path, client.address);
  return result;
}

function expectedAnswers(released: boolean): Record<string, string> {
  return Object.fromEntries(CLIENTS.map((client) => [client.address, ANSWER[released ? 'www' : client.state]]));
}

const settledAnswers = (port: number, expected: Record<string, string>) => settle(() => answers(port), expected);

/**
 * The operator's side: a temp installation with the log, the settings and an
 * empty map (both servers refuse to start without the map file), and the two
 * cron runs: one at 12:00 that restricts, one at 14:00, after the clients went
 * quiet and the operator emptied BLACKLIST, that releases everyone.
 */
class Installation {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-web-'));
  readonly map = path.join(this.root, 'ip_blocks.map');
  readonly log = path.join(this.root, 'access.log');
  readonly settings = path.join(this.root, 'ip_blocks.conf');

  constructor(readonly format: 'apache' | 'nginx') {
    // Apache's children (www-data) read the map and the pool files.
    fs.chmodSync(this.root, 0o755);
    fs.writeFileSync(this.map, '');
    fs.chmodSync(this.map, 0o644);
    fs.copyFileSync(path.join(SERVERS, 'access.log'), this.log);
    fs.copyFileSync(path.join(SERVERS, 'ip_blocks.conf'), this.settings);
  }

  run(now: string, extra: string[] = []): void {
    const result = runCli([
      '--settings', this.settings, '--map', this.map, '--changelog', path.join(this.root, 'restricted_ip.log'),
      '--format', this.format, '--now', now, '--loadavg', '1', ...extra, this.log,
    ]);
    assert.equal(result.status, 0, `ipanalyse failed: ${result.stderr}`);
    assert.equal(result.stderr + result.stdout, '', 'a normal run is silent');
  }

  releaseRun(extra: string[] = []): void {
    fs.appendFileSync(this.log, fs.readFileSync(path.join(SERVERS, 'access-later.log')));
    const settings = fs.readFileSync(this.settings, 'utf8');
    fs.writeFileSync(this.settings, settings.replace(/^BLACKLIST = .*$/m, "BLACKLIST = ''"));
    this.run('2026-11-20 14:00:00', extra);
  }

  mapLines(text: string): string {
    return this.format === 'nginx' ? text.replace(/\n/g, ';\n') : text;
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

const apache2 = findExecutable('apache2');
describe('Apache with RewriteMap txt: reads the map without a restart', { skip: apache2 ? false : 'apache2 is not installed' }, () => {
  let site: Installation;
  let server: RunningServer | undefined;

  before(async () => {
    site = new Installation('apache');
    server = await startApache(apache2!, readTemplate('apache.conf'), site.root, site.map);
  });

  after(async () => {
    await stopServer(server);
    site?.remove();
  });

  test('before any run, everyone is served by the www pool', async () => {
    assert.deepEqual(await answers(server!.port), expectedAnswers(true));
  });

  test('after a run: bulk goes to the bulk pool, block gets 429, ban 403, others www', async () => {
    site.run('2026-11-20 12:00:00');
    assert.equal(fs.readFileSync(site.map, 'utf8'), FIRST_MAP);
    assert.deepEqual(await answers(server!.port), expectedAnswers(false));
  });

  // Nothing signals Apache between the runs: each lookup stats the map and rereads it when its mtime changed.
  test('after the releasing run everyone is served normally again', async () => {
    site.releaseRun();
    assert.equal(fs.readFileSync(site.map, 'utf8'), '');
    assert.deepEqual(await answers(server!.port), expectedAnswers(true));
  });
});

const nginx = findExecutable('nginx');
// The template's geo, and the map directive that nginx.conf had before maps could hold networks: a per-address map works with both.
for (const [lookup, template] of [
  ['geo', readTemplate('nginx.conf')],
  ['map (before networks)', readTemplate('nginx.conf').replace('geo $ipstate {', 'map $remote_addr $ipstate {')],
] as const) {
  describe(`nginx with the map included by ${lookup}: reads it on reload`, { skip: nginx ? false : 'nginx is not installed' }, () => {
    let site: Installation;
    let server: NginxServer | undefined;

    before(async () => {
      site = new Installation('nginx');
      assert.match(template, lookup === 'geo' ? /geo \$ipstate \{/ : /map \$remote_addr \$ipstate \{/);
      server = await startNginx(nginx!, template, site.root, site.map);
    });

    after(async () => {
      await stopServer(server);
      site?.remove();
    });

    test('before any run, everyone is served by the www pool', async () => {
      assert.deepEqual(await answers(server!.port), expectedAnswers(true));
    });

    /** The operator's ON_CHANGE: check the new map, then reload. */
    const onChange = () => ['--on-change', [`${nginx} -t -q`, `${nginx} -s reload`].map((command) => `${command} ${server!.args.join(' ')}`).join(' && ')];

    test('after a run whose ON_CHANGE reloads nginx: bulk goes to the bulk pool, block gets 429, ban 403, others www', async () => {
      site.run('2026-11-20 12:00:00', onChange());
      assert.equal(fs.readFileSync(site.map, 'utf8'), site.mapLines(FIRST_MAP));
      controlNginx(nginx!, server!, '-t', '-q');
      assert.deepEqual(await settledAnswers(server!.port, expectedAnswers(false)), expectedAnswers(false));
    });

    test('after the releasing run (ON_CHANGE reloads again) everyone is served normally', async () => {
      site.releaseRun(onChange());
      assert.equal(fs.readFileSync(site.map, 'utf8'), '');
      controlNginx(nginx!, server!, '-t', '-q');
      assert.deepEqual(await settledAnswers(server!.port, expectedAnswers(true)), expectedAnswers(true));
    });
  });
}
