/**
 * What the HTML reports share: escaping, data for the page's script, and a
 * page with uPlot's script and style inside it (uplot-assets.ts, generated
 * at build time), so that it opens without network. Pure.
 */
import { UPLOT_CSS, UPLOT_JS } from '../simulate/uplot-assets.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside a script element: `<` escaped, so no string in it can end the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * A whole page: `data` goes to a JSON script element with the id `data`,
 * which `pageScript` reads once uPlot is loaded. A page script says on
 * <body> how many charts it drew, with how many series (data-charts,
 * data-series), for the tests and for a person debugging.
 */
export function htmlPage(options: { title: string; style: string; body: string; data: unknown; pageScript: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(options.title)}</title>
<style>${UPLOT_CSS}</style>
<style>${options.style}</style>
</head><body><h1>${escapeHtml(options.title)}</h1>
${options.body}
<script type="application/json" id="data">${scriptJson(options.data)}</script>
<script>${UPLOT_JS.replace(/<\/(script)/gi, '<\\/$1')}</script>
<script>${options.pageScript}</script>
</body></html>
`;
}

export const PAGE_STYLE = 'body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}';

/** The page script's prologue: errors recorded on <body>, the data parsed, the chart width. */
export const PAGE_PROLOGUE = `
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); document.body.dataset.errors = errors.join('\\n'); });
  var data = JSON.parse(document.getElementById('data').textContent);
  var width = Math.min(1100, document.body.clientWidth - 40);
`;
