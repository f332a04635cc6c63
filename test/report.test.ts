import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { buildDigest } from '../src/report/digest.js';
import { parseChangeLine, renderChangeLines } from '../src/write/change-log.js';
import { ARTEFACTS, CHROMIUM, NO_CHROMIUM, chromium, openPage } from './support/chromium.js';
import { runCli } from './support/run-cli.js';

const LOG = [
  '2026-11-19 10:00 new bulks: 192.0.2.1',
  '2026-11-19 13:00 new bulks: 192.0.2.2, 192.0.2.3',
  '2026-11-19 14:00 dir.block: 192.0.2.2',
  '2026-11-19 15:00  debulked: 192.0.2.3',
  '2026-11-19 16:00 new bulks: 192.0.2.3',
  '2026-11-20 09:00 unblocked: 192.0.2.2',
  '2026-11-20 09:30 new block: 198.51.100.7',
  '2026-11-20 12:30 unblocked: 198.51.100.7',
];
const entries = () => LOG.map((line) => parseChangeLine(line)).filter((entry) => entry !== undefined);
const DAY = { from: '2026-11-19 12:00', until: '2026-11-20 12:00' };

describe('the change log read back', () => {
  test('every line renderChangeLines writes is read back as written', () => {
    const changes = { unblocked: ['192.0.2.9'], debulked: ['2001:db8::1', '192.0.2.8'], 'new bulks': [], 'dir.block': ['192.0.2.7'], 'ua block': ['192.0.2.6'], 'new block': ['192.0.2.5'] };
    const text = renderChangeLines(new Date(2026, 10, 20, 12, 0), changes);
    const read = text.trimEnd().split('\n').map((line) => parseChangeLine(line));
    assert.deepEqual(read.map((entry) => [entry?.minute, entry?.kind, entry?.addresses]), [
      ['2026-11-20 12:00', 'unblocked', ['192.0.2.9']],
      ['2026-11-20 12:00', 'debulked', ['2001:db8::1', '192.0.2.8']],
      ['2026-11-20 12:00', 'dir.block', ['192.0.2.7']],
      ['2026-11-20 12:00', 'ua block', ['192.0.2.6']],
      ['2026-11-20 12:00', 'new block', ['192.0.2.5']],
    ]);
    assert.equal(parseChangeLine('2026-11-20 12:00 reloaded: 192.0.2.1'), undefined);
  });
});

describe('the digest of a day', async () => {
  const digest = await buildDigest(entries(), DAY, '2026-11-18 12:00');
  test('counts per kind in the day, and the day before', () => {
    assert.deepEqual(digest.counts['new bulks'], { entries: 3, clients: 2 });
    assert.deepEqual(digest.before['new bulks'], { entries: 1, clients: 1 });
    assert.equal(digest.counts.unblocked.entries, 1, 'the release after the period is not counted');
  });
  test('time restricted within the period, longest first, including a client restricted before it began', () => {
    assert.deepEqual(
      digest.restricted.map((c) => [c.address, c.minutes, c.blockedMinutes, c.stateAtEnd]),
      [
        ['192.0.2.1', 24 * 60, 0, 'bulk'],
        ['192.0.2.3', 22 * 60, 0, 'bulk'],
        ['192.0.2.2', 20 * 60, 19 * 60, null],
        ['198.51.100.7', 150, 150, 'block'],
      ],
    );
    assert.deepEqual(digest.atEnd, { bulk: 2, block: 1 });
  });
  test('a client restricted again after a release came back', () => {
    assert.deepEqual(digest.restricted.filter((c) => c.returns > 0).map((c) => [c.address, c.returns]), [['192.0.2.3', 1]]);
  });
});

describe('ipanalyse report', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-report-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'restricted_ip.log');
  fs.writeFileSync(file, `${LOG.slice(0, 3).join('\n')}\nnot a change\n${LOG.slice(3).join('\n')}\n`);

  test('in words: the counts with the change to the day before, the longest restricted, who came back', () => {
    const result = runCli(['report', '--changelog', file, '--now', '2026-11-20 12:00:00']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^changes: +unblocked 1 \(\+1\), debulked 1 \(\+1\), new bulks 3 \(\+2\), dir\.block 1 \(\+1\), ua block 0, new block 1 \(\+1\)$/m);
    assert.match(result.stdout, /^at the end: 2 bulk, 1 block$/m);
    assert.match(result.stdout, /^ {2}192\.0\.2\.2 +20 h, blocked 19 h; released$/m);
    assert.match(result.stdout, /^came back: +1 client restricted again after a release$/m);
    assert.match(result.stdout, /1 line of the change log is not a change-log line \(skipped\)/);
  });
  test('--since a week, --json', () => {
    const result = runCli(['report', '--changelog', file, '--now', '2026-11-20 12:00:00', '--since', '1 week', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const digest = JSON.parse(result.stdout) as { period: { from: string }; counts: Record<string, { entries: number }> };
    assert.equal(digest.period.from, '2026-11-13 12:00');
    assert.equal(digest.counts['new bulks'].entries, 4);
  });
  test('--html: one self-contained page that Chromium opens without errors, with the chart of changes per hour', { skip: CHROMIUM ? false : NO_CHROMIUM }, () => {
    const html = path.join(dir, 'report.html');
    const result = runCli(['report', '--changelog', file, '--now', '2026-11-20 12:00:00', '--html', html]);
    assert.equal(result.status, 0, result.stderr);
    const page = fs.readFileSync(html, 'utf8');
    assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=/, 'nothing to fetch');
    const opened = openPage(html);
    assert.equal(opened.status, 0, opened.stderr);
    assert.deepEqual(opened.consoleErrors, []);
    assert.doesNotMatch(opened.body, /data-errors/);
    assert.match(opened.body, /data-charts="1"/);
    assert.match(opened.body, /data-series="6"/, 'one series per kind of change');
    assert.match(opened.dom, /<canvas/);
    assert.match(opened.dom, /<td>192\.0\.2\.2<\/td><td>20 h<\/td><td>19 h<\/td><td>released<\/td>/);
    fs.mkdirSync(ARTEFACTS, { recursive: true });
    assert.equal(chromium([`--screenshot=${path.join(ARTEFACTS, 'report-digest.png')}`, `file://${html}`]).status, 0);
  });
  test('a bad period is a usage error; a missing change log an input error naming it', () => {
    assert.equal(runCli(['report', '--changelog', file, '--since', 'a fortnight']).status, 64);
    const missing = runCli(['report', '--changelog', path.join(dir, 'none.log')]);
    assert.equal(missing.status, 66);
    assert.match(missing.stderr, /cannot read the change log \S*none\.log: no such file or directory/);
  });
});
