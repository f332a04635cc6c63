/**
 * The simulation as one self-contained HTML page: uPlot's script and style
 * are in it (uplot-assets.ts, generated at build time), so it opens without
 * network. Clients per state over time; for the busiest clients their API
 * requests against the limits, their state as bands; the transitions. Pure.
 */
import { CHANGE_KINDS } from '../decide/policy.js';
import { formatLocalTime } from '../local-time.js';
import type { Simulation } from './simulation.js';
import type { SimulationSummary } from './summary.js';
import { PAGE_PROLOGUE, PAGE_STYLE, escapeHtml, htmlPage } from '../report/html-page.js';

export interface HtmlRun {
  name: string;
  simulation: Simulation;
  summary: SimulationSummary;
}

const MAX_TABLE_ROWS = 2000;

function chartData(sim: Simulation) {
  const times = sim.steps.map((step) => step.time);
  const limit = (key: 'bulkLongLimit' | 'bulkShortLimit' | 'blockLimit') => sim.steps.map((step) => step.limits?.[key] ?? null);
  return {
    times,
    states: { bulk: sim.steps.map((s) => s.counts.bulk), block: sim.steps.map((s) => s.counts.block), ban: sim.steps.map((s) => s.counts.ban) },
    limits: { bulkLong: limit('bulkLongLimit'), bulkShort: limit('bulkShortLimit'), block: limit('blockLimit') },
    clients: sim.busiest.map((client) => ({ address: client.address, longApi: client.longApi, shortApi: client.shortApi, states: client.states })),
  };
}

function transitionsTable(sim: Simulation): string {
  const rows: string[] = [];
  for (const step of sim.steps) {
    for (const kind of CHANGE_KINDS) {
      for (const address of step.changes[kind] ?? []) {
        if (rows.length < MAX_TABLE_ROWS) rows.push(`<tr><td>${formatLocalTime(step.time)}</td><td>${kind}</td><td>${escapeHtml(address)}</td></tr>`);
      }
    }
  }
  const total = sim.steps.reduce((sum, step) => sum + Object.values(step.changes).reduce((n, list) => n + (list?.length ?? 0), 0), 0);
  const more = total > rows.length ? `<p>${total - rows.length} more transitions not shown.</p>` : '';
  return `<table class="transitions"><thead><tr><th>time</th><th>change</th><th>client</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more}`;
}

function summaryList(summary: SimulationSummary): string {
  const r = summary.restrictedRequests;
  const kinds = CHANGE_KINDS.map((kind) => `${kind} ${summary.transitions[kind]}`).join(', ');
  return `<ul><li>${summary.steps} steps, ${summary.decidedSteps} decided</li><li>transitions: ${kinds}</li><li>API requests throttled ${r.bulk}, refused ${r.block}, banned ${r.ban}</li><li>${summary.flappers.length} clients flapped within ${summary.flapSteps} steps</li></ul>`;
}

export function renderHtmlReport(runs: readonly HtmlRun[], logFile: string): string {
  const first = runs[0].simulation;
  const title = `ipanalyse simulate: ${logFile}, ${formatLocalTime(first.from)} to ${formatLocalTime(first.to)}`;
  const sections = runs
    .map(
      (run, i) =>
        `<section><h2>${escapeHtml(run.name)}</h2>${summaryList(run.summary)}<h3>Clients per state</h3><div class="chart" id="states-${i}"></div>` +
        `<h3>Busiest clients: API requests per window against the limits (bands: bulk, block, ban)</h3><div id="clients-${i}"></div>` +
        `<h3>Transitions</h3>${transitionsTable(run.simulation)}</section>`,
    )
    .join('\n');
  return htmlPage({
    title,
    style: `${PAGE_STYLE}.legend-bands span{display:inline-block;padding:0 6px;margin-right:6px}`,
    body: `<p class="legend-bands">States: <span style="background:#fde2a8">bulk</span><span style="background:#f6b3b3">block</span><span style="background:#c9b3f6">ban</span></p>\n${sections}`,
    data: runs.map((run) => chartData(run.simulation)),
    pageScript: PAGE_SCRIPT,
  });
}

/** Runs in the page: draws the charts and says on <body> how many it drew, with how many series, for the test and for a person debugging. */
const PAGE_SCRIPT = `
(function () {${PAGE_PROLOGUE}
  var runs = data;
  var drawn = [];
  var BAND = { bulk: 'rgba(250,190,60,0.35)', block: 'rgba(230,80,80,0.35)', ban: 'rgba(140,90,230,0.35)' };
  function bands(states) {
    return { draw: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, xs = u.data[0];
      ctx.save();
      for (var i = 0; i < xs.length; i++) {
        var state = states[i];
        if (!state) continue;
        var x0 = u.valToPos(xs[i], 'x', true);
        var x1 = u.valToPos(i + 1 < xs.length ? xs[i + 1] : xs[i] + (xs[1] - xs[0] || 60), 'x', true);
        ctx.fillStyle = BAND[state];
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
      ctx.restore();
    }] };
  }
  runs.forEach(function (run, r) {
    var states = new uPlot({ title: 'Clients per state', width: width, height: 260, series: [{}, { label: 'bulk', stroke: '#d99a00' }, { label: 'block', stroke: '#d33' }, { label: 'ban', stroke: '#74c' }] },
      [run.times, run.states.bulk, run.states.block, run.states.ban], document.getElementById('states-' + r));
    drawn.push(states.series.length - 1);
    run.clients.forEach(function (client) {
      var box = document.createElement('div');
      box.className = 'chart';
      document.getElementById('clients-' + r).appendChild(box);
      var chart = new uPlot({
        title: client.address, width: width, height: 220, hooks: bands(client.states),
        series: [{}, { label: 'API, long window', stroke: '#1f77b4', width: 2 }, { label: 'API, short window', stroke: '#17becf' },
          { label: 'bulk limit (long)', stroke: '#d99a00', dash: [6, 4] }, { label: 'bulk limit (short)', stroke: '#e8c060', dash: [2, 3] }, { label: 'block limit', stroke: '#d33', dash: [6, 4] }]
      }, [run.times, client.longApi, client.shortApi, run.limits.bulkLong, run.limits.bulkShort, run.limits.block], box);
      drawn.push(chart.series.length - 1);
    });
  });
  document.body.dataset.charts = String(drawn.length);
  document.body.dataset.series = drawn.join(',');
})();
`;
