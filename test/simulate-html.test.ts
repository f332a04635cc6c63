/** The HTML report of `simulate`, opened in a real headless Chromium: it loads without errors and draws its charts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ARTEFACTS, CHROMIUM, NO_CHROMIUM, chromium, openPage } from './support/chromium.js';
import { FIXTURES } from './support/paths.js';
import { periodLog } from './support/period-log.js';
import { runCli } from './support/run-cli.js';


test('the report opens in Chromium without network or console errors and draws every chart with its series', { skip: CHROMIUM ? false : NO_CHROMIUM }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipanalyse-simulate-html-'));
  const log = path.join(dir, 'access.log');
  fs.writeFileSync(log, periodLog(4));
  const html = path.join(dir, 'report.html');
  const result = runCli(['simulate', '--settings', path.join(FIXTURES, 'example/ip_blocks.conf'), '--from', '2026-11-20 10:00:00', '--to', '2026-11-20 12:50:00', '--html', html, log]);
  assert.equal(result.status, 0, result.stderr);
  const page = fs.readFileSync(html, 'utf8');
  // Self-contained: nothing to fetch.
  assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=|https?:\/\/[^"' ]+\.(js|css)\b/);

  const dom = openPage(html);
  assert.equal(dom.status, 0, dom.stderr);
  assert.deepEqual(dom.consoleErrors, []);
  const { body } = dom;
  assert.doesNotMatch(body, /data-errors/);
  // One chart of clients per state (bulk, block, ban), and one per busiest client: its two windows and three limits.
  assert.match(body, /data-charts="9"/);
  assert.match(body, /data-series="3,5,5,5,5,5,5,5,5"/);
  assert.match(dom.dom, /<canvas/);
  assert.match(dom.dom, /<td>new block<\/td><td>198\.51\.100\.8<\/td>/);

  fs.mkdirSync(ARTEFACTS, { recursive: true });
  const screenshot = path.join(ARTEFACTS, 'simulate-report.png');
  fs.rmSync(screenshot, { force: true });
  const shot = chromium([`--screenshot=${screenshot}`, `file://${html}`]);
  assert.equal(shot.status, 0, shot.stderr);
  const png = fs.readFileSync(screenshot);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.ok(png.length > 20_000, `the screenshot is only ${png.length} bytes: nothing drawn?`);
});
