import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURES, REPO_ROOT } from './support/paths.js';
import { runCli } from './support/run-cli.js';

const CASE = path.join(FIXTURES, 'cases/state-machine');
const SETTINGS = path.join(CASE, 'ip_blocks.conf');
const LOG = path.join(CASE, 'access.log');
const CLOCK = ['--now', '2026-11-20 12:00:00', '--loadavg', '14'];

function workDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ipanalyse-${name}-`));
  fs.copyFileSync(path.join(CASE, 'previous.map'), path.join(dir, 'ip_blocks.map'));
  return dir;
}

function paths(dir: string): string[] {
  return ['--settings', SETTINGS, '--map', path.join(dir, 'ip_blocks.map'), '--changelog', path.join(dir, 'restricted_ip.log')];
}

/** The map as address -> state, and each change-log label -> addresses. */
function readRun(dir: string): { states: Map<string, string>; changes: Map<string, string[]> } {
  const states = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(dir, 'ip_blocks.map'), 'utf8').trim().split('\n')) {
    const [address, state] = line.split(' ');
    states.set(address, state);
  }
  const changes = new Map<string, string[]>();
  for (const line of fs.readFileSync(path.join(dir, 'restricted_ip.log'), 'utf8').trim().split('\n')) {
    const match = /^\S+ \S+ +([a-z. ]+?): (.*)$/.exec(line);
    assert.ok(match, `change-log line: ${line}`);
    changes.set(match[1], match[2].split(', '));
  }
  return { states, changes };
}

interface ExplainJson {
  address: string;
  listed: { list: string } | null;
  stats: { longTotal: number; longApi: number; shortTotal: number; shortApi: number; badUa: boolean } | null;
  previous: string | null;
  limits: { cpuload: number; numbulks: number; total200: number; blockLimit: number; blockLimitReason: string } | null;
  verdict: { state: string | null; change: string | null; rule: string };
}

describe('explain: the verdict is what the run then writes', () => {
  let explainDir: string;
  let runDir: string;
  let run: ReturnType<typeof readRun>;
  before(() => {
    explainDir = workDir('explain');
    runDir = workDir('run');
    const result = runCli([...paths(runDir), ...CLOCK, LOG]);
    assert.equal(result.status, 0, result.stderr);
    run = readRun(runDir);
  });
  after(() => {
    fs.rmSync(explainDir, { recursive: true, force: true });
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  const cases = [
    { name: 'a new bulk', address: '198.51.100.5', state: 'bulk', change: 'new bulks', rule: /exceed the bulk limits 20 \/ 10: moved to the bulk pool/ },
    { name: 'a ua block', address: '198.51.100.6', state: 'block', change: 'ua block', rule: /blocklisted user agent: blocked/ },
    { name: 'a stays-blocked', address: '192.0.2.2', state: 'block', change: null, rule: /stays blocked/ },
    { name: 'a released block', address: '192.0.2.1', state: null, change: 'unblocked', rule: /fewer than 5\): released/ },
    { name: 'a block released without a request', address: '192.0.2.99', state: null, change: 'unblocked', rule: /no request in the window; was blocked: released/ },
    { name: 'a whitelisted former bulk', address: '10.0.0.1', state: null, change: 'debulked', rule: /^whitelisted \(WHITELIST, .*ip_blocks\.conf:8\)/ },
    { name: 'a banned address, written in upper case', address: '2001:DB8::66', state: 'ban', change: null, rule: /^blacklisted \(BLACKLIST, .*ip_blocks\.conf:9\): always ban/ },
  ];
  for (const c of cases) {
    test(`${c.name} (${c.address})`, () => {
      const result = runCli(['explain', ...paths(explainDir), ...CLOCK, '--json', c.address, LOG]);
      assert.equal(result.status, 0, result.stderr);
      const explanation = JSON.parse(result.stdout) as ExplainJson;
      const canonical = c.address.toLowerCase();
      assert.equal(explanation.address, canonical);
      assert.match(explanation.verdict.rule, c.rule);
      assert.equal(explanation.verdict.state, c.state);
      assert.equal(explanation.verdict.change, c.change);
      assert.equal(explanation.verdict.state, run.states.get(canonical) ?? null, 'the state the run wrote');
      const logged = [...run.changes].filter(([, addresses]) => addresses.includes(canonical)).map(([label]) => label);
      assert.deepEqual(logged, c.change ? [c.change] : [], 'the change the run logged');
      assert.deepEqual(explanation.limits && { cpuload: explanation.limits.cpuload, numbulks: explanation.limits.numbulks, blockLimit: explanation.limits.blockLimit }, {
        cpuload: 14,
        numbulks: 3,
        blockLimit: 120,
      });
    });
  }

  test('the statistics and limits of a client, in words', () => {
    const result = runCli(['explain', ...paths(explainDir), ...CLOCK, '198.51.100.6', LOG]);
    assert.equal(result.status, 0, result.stderr);
    for (const expected of [
      'requests:  long window 25 (25 API), short window 3 (3 API)',
      '% unreadable, newest line ',
      'bad user agent',
      "previous:  not in ",
      'load:      load average 14 -> cpuload 14',
      '3 bulk clients in the previous map -> numbulks 3',
      'a bulk client blocked above 120 / 40: only 3 bulk clients (fewer than 10): twice BLOCK_UPPER',
      "verdict:   block; change log: 'ua block'",
    ]) {
      assert.ok(result.stdout.includes(expected), `should contain ${JSON.stringify(expected)}:\n${result.stdout}`);
    }
  });

  test('explain writes nothing: map unchanged, no change log, no lock, no temporary file', () => {
    assert.equal(fs.readFileSync(path.join(explainDir, 'ip_blocks.map'), 'utf8'), fs.readFileSync(path.join(CASE, 'previous.map'), 'utf8'));
    assert.deepEqual(fs.readdirSync(explainDir), ['ip_blocks.map']);
  });

  test('an address that is not one is a usage error', () => {
    const result = runCli(['explain', ...paths(explainDir), ...CLOCK, '192.0.2.256', LOG]);
    assert.equal(result.status, 64);
    assert.match(result.stderr, /'192\.0\.2\.256' is not an IPv4 or IPv6 address/);
  });
});

describe('status', () => {
  let dir: string;
  before(() => {
    dir = workDir('status');
    assert.equal(runCli([...paths(dir), ...CLOCK, '--metrics', path.join(dir, 'ipanalyse.prom'), LOG]).status, 0);
    fs.appendFileSync(path.join(dir, 'ip_blocks.map'), 'not a map line\n');
    const changed = new Date('2026-11-20T12:00:00Z');
    fs.utimesSync(path.join(dir, 'ip_blocks.map'), changed, changed);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('counts per state, the clients, the age, malformed lines and the change-log tail', () => {
    const result = runCli(['status', ...paths(dir), '--now', '2026-11-20 12:03:00', '--lines', '2', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.deepEqual(status.map.counts, { bulk: 2, block: 3, ban: 2 });
    assert.deepEqual(status.map.clients, {
      bulk: ['192.0.2.4', '198.51.100.5'],
      block: ['192.0.2.2', '198.51.100.6', '198.51.100.7'],
      ban: ['192.0.2.66', '2001:db8::66'],
    });
    assert.equal(status.map.age, '3 minutes ago');
    assert.equal(status.map.warnings.length, 1);
    assert.match(status.map.warnings[0], /ip_blocks\.map:8: ignoring malformed line 'not a map line'/);
    const expected = fs.readFileSync(path.join(CASE, 'expected-changes.log'), 'utf8').trim().split('\n');
    assert.deepEqual(status.changeLog.lines, expected.slice(-2));
  });

  test('the last run, from its metrics file: what share it could not read, how old the newest line was', () => {
    const result = runCli(['status', ...paths(dir), '--now', '2026-11-20 12:03:00', '--metrics', path.join(dir, 'ipanalyse.prom')]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^last run: \d+\.\d% of the lines unreadable, newest line \d+ s old at the run \(\S*ipanalyse\.prom\)$/m);
  });

  test('in words', () => {
    const result = runCli(['status', ...paths(dir), '--now', '2026-11-20 12:03:00']);
    assert.equal(result.status, 0, result.stderr);
    for (const expected of ['last changed 2026-11-20 12:00:00 (3 minutes ago)', '2 bulk, 3 block, 2 ban', 'block:    192.0.2.2 198.51.100.6 198.51.100.7', 'last 5 lines of']) {
      assert.ok(result.stdout.includes(expected), `should contain ${JSON.stringify(expected)}:\n${result.stdout}`);
    }
  });

  test('no map yet: said, and exit 0', () => {
    const result = runCli(['status', '--settings', SETTINGS, '--map', path.join(dir, 'none.map'), '--changelog', path.join(dir, 'none.log')]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /map: +none at .*none\.map/);
    assert.match(result.stdout, /changes: +none at .*none\.log/);
  });
});

describe('check-config', () => {
  test('a valid file: every value with its origin, aligned', () => {
    const result = runCli(['check-config', '--settings', SETTINGS]);
    assert.equal(result.status, 0, result.stderr);
    const rows = result.stdout.split('\n').filter((line) => /^[A-Z_]+ /.test(line) && !line.startsWith('SETTING '));
    assert.ok(rows.some((row) => /^BULKLONG_LIMIT +20 +\S*ip_blocks\.conf:2$/.test(row)), result.stdout);
    assert.ok(rows.some((row) => /^BLOCK_LOADFAC +380 +default$/.test(row)), result.stdout);
    assert.equal(new Set(rows.map((row) => row.search(/(default|\S+:\d+)$/))).size, 1, `one FROM column:\n${result.stdout}`);
    const json = JSON.parse(runCli(['check-config', '--settings', SETTINGS, '--json']).stdout);
    assert.deepEqual(json.settings.BLACKLIST, { value: ['192.0.2.66', '2001:db8::66'], origin: `${SETTINGS}:9` });
    assert.deepEqual(json.settings.MAX_NEW_BLOCKS, { value: 50, origin: 'default' });
  });

  test('without --settings: the installation\'s settings/ip_blocks.conf, wherever the CLI was built to', () => {
    const result = runCli(['check-config']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^LOADAVG_FILE +'/proc/loadavg' +${escapeRegExp(path.join(REPO_ROOT, 'settings/ip_blocks.conf'))}:\\d+$`, 'm'));
    assert.match(result.stdout, new RegExp(`^BLOCKEDFILE +'${escapeRegExp(path.join(REPO_ROOT, 'settings/ip_blocks.map'))}' +default$`, 'm'));
  });

  test('settings that contradict each other or never take effect: warned, naming both lines, exit 0', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-check-config-'));
    try {
      const file = path.join(dir, 'ip_blocks.conf');
      fs.writeFileSync(file, 'BLOCK_UPPER = 300\nBLOCK_LOWER = 4000\nBULK_LOADFAC = 0\n');
      const result = runCli(['check-config', '--settings', file]);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stderr, /warning: BLOCK_LOWER \(\S*ip_blocks\.conf:2\) and BLOCK_UPPER \(\S*ip_blocks\.conf:1\): BLOCK_LOWER 4000 is above BLOCK_UPPER 300/);
      assert.match(result.stderr, /warning: BULK_LOWER \(default\) and BULK_LOADFAC \(\S*ip_blocks\.conf:3\) and BULKLONG_LIMIT \(default\): with BULK_LOADFAC 0 the bulk limit is always BULKLONG_LIMIT 8000: BULK_LOWER 1500 never takes effect/);
      assert.match(result.stderr, /no client ever becomes bulk/);
      assert.equal(runCli(['check-config', '--settings', path.join(FIXTURES, 'example/ip_blocks.conf')]).stderr, '', 'the bundled example has none');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an invalid file: exit 78 and every problem', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-check-config-'));
    try {
      const file = path.join(dir, 'ip_blocks.conf');
      fs.writeFileSync(file, "BULKLONG_LIMIT = -3\nBULK_LOWR = 5\nWHITELIST = '1.2.3.x'\n");
      const result = runCli(['check-config', '--settings', file]);
      assert.equal(result.status, 78);
      assert.equal(result.stdout, '');
      const problems = result.stderr.trim().split('\n');
      assert.equal(problems.length, 3, result.stderr);
      assert.match(problems[0], /ip_blocks\.conf:1 BULKLONG_LIMIT: /);
      assert.match(problems[1], /ip_blocks\.conf:2 BULK_LOWR: unknown setting; did you mean BULK_LOWER\?/);
      assert.match(problems[2], /ip_blocks\.conf:3 WHITELIST: /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--version', () => {
  test("prints package.json's version and exits 0", () => {
    const result = runCli(['--version']);
    assert.equal(result.status, 0, result.stderr);
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(result.stdout.trim(), version);
  });
});

describe('a reader that goes away', () => {
  test('`ipanalyse --verbose LOG | head -1` ends quietly with the run\'s exit code', () => {
    const dir = workDir('epipe');
    try {
      const script = `'${process.execPath}' '${path.join(REPO_ROOT, 'bin/ipanalyse')}' ${[...paths(dir), ...CLOCK, '--dry-run', '--verbose', LOG].map((a) => `'${a}'`).join(' ')} 2>'${dir}/stderr' | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"`;
      const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' } });
      assert.equal(result.stdout.trim(), '0');
      assert.doesNotMatch(fs.readFileSync(path.join(dir, 'stderr'), 'utf8'), /EPIPE|internal error/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
