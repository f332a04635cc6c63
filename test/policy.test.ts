import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adjustLimits, type Limits } from '../src/decide/limits.js';
import { type ClientState, applySafetyValve, decide, decideAll } from '../src/decide/policy.js';
import { defaultSettings } from '../src/settings/settings.js';
import type { ClientStats } from '../src/read/window-stats.js';

const settings = defaultSettings('/srv/ipanalyse');

describe('adjustLimits: the block limit follows the database load and the bulk pool', () => {
  // dbload = total200 / 900 s; block_limit = max(4000, 19000 - 380 * (dbload - 75)) with 10..85 bulk clients.
  const cases = [
    { name: 'dbload 75/s gives BLOCK_UPPER', total200: 75 * 900, numbulks: 10, blockLimit: 19000 },
    { name: 'an idle database raises the limit', total200: 0, numbulks: 10, blockLimit: 19000 + 380 * 75 },
    { name: 'dbload 114/s is just above BLOCK_LOWER', total200: 114 * 900, numbulks: 50, blockLimit: 19000 - 380 * 39 },
    { name: 'dbload 115/s clamps to BLOCK_LOWER', total200: 115 * 900, numbulks: 50, blockLimit: 4000 },
    { name: 'numbulks 9 (fewer than 10) doubles BLOCK_UPPER', total200: 115 * 900, numbulks: 9, blockLimit: 38000 },
    { name: 'numbulks 10 uses the load', total200: 115 * 900, numbulks: 10, blockLimit: 4000 },
    { name: 'numbulks 85 (MAX_BULK_IPS) still uses the load', total200: 75 * 900, numbulks: 85, blockLimit: 19000 },
    { name: 'numbulks 86 is one over MAX_BULK_IPS', total200: 75 * 900, numbulks: 86, blockLimit: 3990 },
    { name: 'numbulks 125 reaches the floor of 3600', total200: 75 * 900, numbulks: 125, blockLimit: 3600 },
    { name: 'numbulks 300 stays at the floor of 3600', total200: 0, numbulks: 300, blockLimit: 3600 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(adjustLimits(settings, 1, c.total200, c.numbulks).blockLimit, c.blockLimit);
    });
  }
});

describe('adjustLimits: the bulk limit follows the CPU load', () => {
  // bulklong_limit = max(1500, 8000 - 160 * (int(loadavg) - 14))
  const cases = [
    { name: 'load 14.99 counts as 14: the configured limit', loadAverage: 14.99, bulkLongLimit: 8000 },
    { name: 'load 15.0 lowers it by BULK_LOADFAC', loadAverage: 15.0, bulkLongLimit: 7840 },
    { name: 'load 13.99 counts as 13 and raises it', loadAverage: 13.99, bulkLongLimit: 8160 },
    { name: 'an idle machine raises it to 10240', loadAverage: 0.42, bulkLongLimit: 10240 },
    { name: 'load 54 is just above BULK_LOWER', loadAverage: 54, bulkLongLimit: 1600 },
    { name: 'load 55 clamps to BULK_LOWER', loadAverage: 55, bulkLongLimit: 1500 },
    { name: 'load 200 stays at BULK_LOWER', loadAverage: 200, bulkLongLimit: 1500 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const limits = adjustLimits(settings, c.loadAverage, 0, 20);
      assert.equal(limits.bulkLongLimit, c.bulkLongLimit);
      assert.equal(limits.bulkShortLimit, 2000, 'the short bulk limit never adapts');
    });
  }
});

const limits: Limits = { ...adjustLimits(settings, 14, 115 * 900, 50) };
assert.equal(limits.blockLimit, 4000);
assert.equal(limits.bulkLongLimit, 8000);

function stats(overrides: Partial<ClientStats>): ClientStats {
  return { longTotal: 100, longApi: 50, shortTotal: 20, shortApi: 10, badUa: false, ...overrides };
}

describe('decide: every limit at, one below and one above', () => {
  // Limits in force: BLOCK_UPPER 19000 (6333.33 short), block limit 4000 (1333.33 short), bulk 8000 / 2000.
  const cases: { name: string; previous?: ClientState; stats: Partial<ClientStats>; state?: ClientState; change?: string }[] = [
    { name: 'a blocked client with 4 requests is released', previous: 'block', stats: { longTotal: 4, shortTotal: 0 }, change: 'unblocked' },
    { name: 'a blocked client with 5 requests stays blocked', previous: 'block', stats: { longTotal: 5 }, state: 'block' },
    { name: 'a blocked client far over every limit stays blocked without a change line', previous: 'block', stats: { longTotal: 40000, longApi: 40000 }, state: 'block' },
    { name: 'long API 19000 is not over BLOCK_UPPER', stats: { longApi: 19000, longTotal: 19000 }, state: 'bulk', change: 'new bulks' },
    { name: 'long API 19001 is blocked outright', stats: { longApi: 19001, longTotal: 19001 }, state: 'block', change: 'new block' },
    { name: 'short API 6333 is not over BLOCK_UPPER/3', stats: { shortApi: 6333 }, state: 'bulk', change: 'new bulks' },
    { name: 'short API 6334 is blocked outright', stats: { shortApi: 6334 }, state: 'block', change: 'new block' },
    { name: 'a bulk client over BLOCK_UPPER is a new block, not dir.block', previous: 'bulk', stats: { longApi: 19001 }, state: 'block', change: 'new block' },
    { name: 'a bulk client with 4 short requests is released', previous: 'bulk', stats: { shortTotal: 4, longApi: 3000 }, change: 'debulked' },
    { name: 'a bulk client with 5 short requests stays bulk', previous: 'bulk', stats: { shortTotal: 5, longApi: 3000 }, state: 'bulk' },
    { name: 'a bulk client at the block limit stays bulk', previous: 'bulk', stats: { longApi: 4000 }, state: 'bulk' },
    { name: 'a bulk client one over the block limit is blocked', previous: 'bulk', stats: { longApi: 4001 }, state: 'block', change: 'dir.block' },
    { name: 'a bulk client at 1333 short API stays bulk', previous: 'bulk', stats: { shortApi: 1333 }, state: 'bulk' },
    { name: 'a bulk client at 1334 short API is blocked', previous: 'bulk', stats: { shortApi: 1334 }, state: 'block', change: 'dir.block' },
    { name: 'a bulk client below the bulk limits stays bulk while active', previous: 'bulk', stats: { longApi: 10, shortTotal: 6 }, state: 'bulk' },
    { name: 'long API 8000 is not bulk', stats: { longApi: 8000 } },
    { name: 'long API 8001 is bulk', stats: { longApi: 8001 }, state: 'bulk', change: 'new bulks' },
    { name: 'short API 2000 is not bulk', stats: { shortApi: 2000 } },
    { name: 'short API 2001 is bulk', stats: { shortApi: 2001 }, state: 'bulk', change: 'new bulks' },
    { name: 'long API 8001 with a bad user agent is a ua block', stats: { longApi: 8001, badUa: true }, state: 'block', change: 'ua block' },
    { name: 'a bad user agent alone restricts nobody', stats: { longApi: 8000, badUa: true } },
    { name: 'a quiet client stays free', stats: { longTotal: 1, longApi: 1, shortTotal: 0, shortApi: 0 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const verdict = decide(c.previous, stats(c.stats), limits);
      assert.equal(verdict.state, c.state);
      assert.equal(verdict.change, c.change);
      assert.ok(verdict.rule.length > 0);
    });
  }
});

describe('decideAll: the whole map', () => {
  const previous = new Map([
    ['192.0.2.1', 'block'],
    ['192.0.2.2', 'bulk'],
    ['192.0.2.3', 'bulk'],
    ['192.0.2.4', 'block'],
    ['192.0.2.5', 'bulk'],
    ['192.0.2.9', 'ban'],
  ] as const);
  const decision = decideAll({
    previous,
    clients: [
      ['192.0.2.3', stats({ shortTotal: 30 })],
      ['198.51.100.1', stats({ longApi: 9000 })],
    ],
    limits,
    blacklist: new Set(['203.0.113.66', '192.0.2.5']),
  });

  test('clients that made no request are released and logged', () => {
    assert.deepEqual(decision.changes.unblocked, ['192.0.2.1', '192.0.2.4']);
    assert.deepEqual(decision.changes.debulked, ['192.0.2.2']);
  });
  test('a blacklisted address is banned, not released, even when it was bulk', () => {
    assert.equal(decision.states.get('192.0.2.5'), 'ban');
    assert.equal(decision.states.get('203.0.113.66'), 'ban');
    assert.ok(!decision.changes.debulked.includes('192.0.2.5'));
  });
  test('a ban that left the blacklist is dropped', () => {
    assert.equal(decision.states.has('192.0.2.9'), false);
  });
  test('active clients get their verdicts', () => {
    assert.equal(decision.states.get('192.0.2.3'), 'bulk');
    assert.equal(decision.states.get('198.51.100.1'), 'bulk');
    assert.deepEqual(decision.changes['new bulks'], ['198.51.100.1']);
    assert.equal(decision.states.size, 4);
  });
});

describe('applySafetyValve: new blocks that look like broken input are withheld', () => {
  const previous = new Map([['192.0.2.50', 'bulk']] as const);
  const base = (blocked: string[]) =>
    decideAll({
      previous,
      clients: [
        ...blocked.map((address): [string, ClientStats] => [address, stats({ longApi: 30000, longTotal: 30000 })]),
        ['198.51.100.1', stats({ longApi: 9000 })],
      ],
      limits,
      blacklist: new Set(),
    });
  const valve = (blocked: string[], overrides: { maxNewBlocks?: number; maxBlockedShare?: number; totalRequests?: number; clientCount?: number } = {}) =>
    applySafetyValve({
      decision: base(blocked),
      previous,
      longTotalOf: (address) => (blocked.includes(address) ? 30000 : 100),
      totalRequests: overrides.totalRequests ?? 1_000_000,
      clientCount: overrides.clientCount ?? blocked.length + 1,
      maxNewBlocks: overrides.maxNewBlocks ?? 3,
      maxBlockedShare: overrides.maxBlockedShare ?? 0.8,
    });

  test('at MAX_NEW_BLOCKS the blocks stand', () => {
    const result = valve(['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    assert.equal(result.tripped, undefined);
    assert.equal(result.decision.states.get('192.0.2.3'), 'block');
  });
  test('one over MAX_NEW_BLOCKS withholds them all, throttled instead: new ones become bulk, a bulk client stays bulk; other changes stand', () => {
    const result = valve(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.50']);
    assert.match(result.tripped ?? '', /4 clients would newly be blocked, more than MAX_NEW_BLOCKS 3/);
    assert.equal(result.decision.states.get('192.0.2.1'), 'bulk');
    assert.equal(result.decision.states.get('192.0.2.50'), 'bulk');
    assert.deepEqual(result.decision.changes['new block'], []);
    assert.deepEqual(result.decision.changes['dir.block'], []);
    assert.deepEqual(result.decision.changes['new bulks'], ['192.0.2.1', '192.0.2.2', '192.0.2.3', '198.51.100.1']);
    assert.equal(result.withheld.length, 4);
  });
  test('one address making nearly all the traffic beside almost no other client (a load balancer) is throttled, not blocked', () => {
    const result = valve(['192.0.2.1'], { totalRequests: 31000, clientCount: 5 });
    assert.match(result.tripped ?? '', /192\.0\.2\.1 made 97% of all requests in the window, more than MAX_BLOCKED_SHARE 0\.8, beside only 4 other clients/);
    assert.equal(result.decision.states.get('192.0.2.1'), 'bulk');
  });
  test('a lone abuser making nearly all the traffic of a small site, among its normal clients, is blocked', () => {
    const result = valve(['192.0.2.1'], { totalRequests: 31000, clientCount: 6 });
    assert.equal(result.tripped, undefined);
    assert.equal(result.decision.states.get('192.0.2.1'), 'block');
  });
  test('a share of exactly MAX_BLOCKED_SHARE does not trip', () => {
    assert.equal(valve(['192.0.2.1'], { totalRequests: 37500 }).tripped, undefined);
  });
  test('MAX_BLOCKED_SHARE 1 turns the share check off', () => {
    assert.equal(valve(['192.0.2.1'], { totalRequests: 30000, maxBlockedShare: 1 }).tripped, undefined);
  });
});

describe('decideAll agrees with decide for every client, at every boundary', () => {
  test('a grid of statistics around each limit, with and without a previous state', () => {
    const values = [0, 4, 5, 1333, 1334, 2000, 2001, 4000, 4001, 6333, 6334, 8000, 8001, 19000, 19001];
    for (const previous of [undefined, 'bulk', 'block'] as const) {
      const clients: [string, ClientStats][] = [];
      let n = 0;
      for (const longApi of values)
        for (const shortApi of values.filter((v) => v <= longApi))
          for (const badUa of [false, true]) clients.push([`10.${previous?.length ?? 0}.${n >> 8}.${n++ & 255}`, stats({ longApi, shortApi, longTotal: longApi, shortTotal: shortApi, badUa })]);
      const previousMap = new Map(previous ? clients.map(([address]) => [address, previous] as [string, ClientState]) : []);
      const decision = decideAll({ previous: previousMap, clients, limits, blacklist: new Set() });
      for (const [address, clientStats] of clients) {
        const verdict = decide(previous, clientStats, limits);
        assert.equal(decision.states.get(address), verdict.state, `${address} ${JSON.stringify(clientStats)} was ${previous}`);
        if (verdict.change) assert.ok(decision.changes[verdict.change].includes(address));
      }
    }
  });
});
