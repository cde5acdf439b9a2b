/**
 * One HTML page for the report, the comparison, the dashboard and its sweep view: uPlot (script and styles) and
 * the bundled browser code (src/report/client/) inlined, the data as JSON in the page. Nothing is fetched from the network,
 * so report.html opens from disk anywhere.
 *
 * Every page carries a strict Content-Security-Policy in a <meta> element (it works for a file
 * opened from disk): only these exact inline scripts and styles run, by their SHA-256 hashes,
 * and nothing is fetched, so even a string in the data that slipped into the markup could not
 * run. The dashboard server sends the same policy as a header (on `/` and `/sweeps`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { contentSecurityPolicy, cspHash, type PagePolicy } from '../util/local-server.js';
import type { Comparison } from './compare.js';
import type { RunSnapshot } from './run-data.js';

export type PagePayload =
  | { mode: 'report'; run: RunSnapshot }
  | { mode: 'compare'; comparison: Comparison }
  | { mode: 'dashboard' }
  | { mode: 'sweeps' };

const require = createRequire(import.meta.url);
let uplotAssets: { script: string; styles: string } | null = null;
let clientBundle: string | null = null;

/**
 * The pages' browser code: src/report/client/*.ts, bundled by `npm run build`
 * (scripts/bundle-client.mjs) next to this module.
 */
function clientScript(): string {
  if (clientBundle === null) {
    const path = new URL('./client.bundle.js', import.meta.url);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new Error(`${path.pathname} is missing: run \`npm run build\`, which bundles the report's browser code`);
    }
    // inlined in a <script> element, which this sequence would close early
    if (/<\/script/i.test(text)) throw new Error(`${path.pathname} contains "</script": it cannot be inlined`);
    clientBundle = text;
  }
  return clientBundle;
}

function uplot(): { script: string; styles: string } {
  uplotAssets ??= {
    script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    styles: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
  return uplotAssets;
}

const STYLES = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; background: #f4f5f7; }
main { padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; margin: 4px 0; word-break: break-all; }
h2 { font-size: 16px; margin: 24px 0 8px; border-bottom: 1px solid #d8dbe0; padding-bottom: 4px; }
h3 { font-size: 13px; margin: 0 0 6px; }
.meta { color: #555; margin: 0 0 12px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e3e6ea; }
.status-in-progress { background: #fff1c2; } .status-finished { background: #d5f0d9; }
.status-stale { background: #f6c4c4; } .status-interrupted, .status-halted { background: #f3dcb4; }
.progress-line { margin: 8px 0; font-size: 13px; } .progress-line progress { width: 220px; vertical-align: middle; }
.view-controls { margin: 0 0 8px; font-size: 12px; color: #444; gap: 16px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #fff; border-radius: 8px; padding: 10px 14px; min-width: 180px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.card .label { color: #666; font-size: 12px; } .card .value { font-size: 20px; font-weight: 600; } .card .detail { color: #777; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure.chart, .panel { background: #fff; margin: 0; padding: 8px 10px; border-radius: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.panel.wide { width: 100%; overflow-x: auto; }
figcaption { font-weight: 600; font-size: 13px; margin-bottom: 4px; }
.note { color: #666; font-size: 12px; max-width: 560px; } .warning { color: #9a4a00; } .empty { color: #999; padding: 40px; }
table { border-collapse: collapse; font-size: 12px; } td, th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td { font-variant-numeric: tabular-nums; max-width: 420px; word-break: break-all; }
.controls { display: flex; gap: 8px; align-items: center; margin-top: 6px; } .controls input[type=range] { flex: 1; }
.layout { display: flex; min-height: 100vh; }
.layout main { flex: 1; min-width: 0; max-width: none; }
nav { width: 280px; flex: none; background: #1f2430; color: #e6e6e6; padding: 12px; }
nav h1 { font-size: 16px; color: #fff; } nav ul { list-style: none; padding: 0; margin: 0; }
nav a { display: block; padding: 6px 8px; border-radius: 6px; color: inherit; text-decoration: none; margin-bottom: 2px; }
nav a.active, nav a:hover { background: #333b4d; } nav .name { display: block; font-size: 12px; word-break: break-all; }
nav .status { font-size: 11px; color: #1d1d1f; }
.sweep table { background: #fff; margin: 6px 0 14px; } .sweep h2 small { font-weight: normal; color: #666; word-break: break-all; }
.sweep .done { color: #1a7f37; } .sweep .failed { color: #c62828; } .sweep .running { color: #b26a00; } .sweep .queued { color: #666; }
nav .nav-links { margin: 0 0 8px; font-size: 12px; } nav .nav-links a { display: inline; padding: 0; text-decoration: underline; }
nav li { display: flex; align-items: flex-start; gap: 4px; } nav li a { flex: 1; min-width: 0; } nav input.overlay-pick { margin-top: 9px; }
`;

/** JSON inside <script>: `<` escaped so no string in the data can close the element */
function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}

/** the dashboard's pages, which talk to their server; the others are files opened from disk */
const servedModes: ReadonlyArray<PagePayload['mode']> = ['dashboard', 'sweeps'];

/** the policy of a page: its scripts and styles by hash; the dashboard's pages also talk to their server */
export function pagePolicy(mode: PagePayload['mode']): PagePolicy {
  const { script, styles } = uplot();
  return { scripts: [cspHash(script), cspHash(clientScript())], styles: [cspHash(styles), cspHash(STYLES)], connectToSelf: servedModes.includes(mode) };
}

function pageBody(mode: PagePayload['mode']): string {
  if (mode === 'dashboard') {
    return '<div class="layout"><nav><h1>Stitch runs</h1><p class="nav-links"><a href="/sweeps" id="sweeps-link">sweeps</a></p><ul id="run-list"></ul></nav><main id="app"></main></div>';
  }
  if (mode === 'sweeps') return '<main id="app"><h1>Sweeps</h1><p class="meta"><a href="/" id="runs-link">runs</a></p><div id="sweeps">loading…</div></main>';
  return '<main id="app"></main>';
}

export function renderPage(title: string, payload: PagePayload): string {
  const { script, styles } = uplot();
  const body = pageBody(payload.mode);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(pagePolicy(payload.mode)))}">
<title>${escapeHtml(title)}</title>
<style>${styles}</style>
<style>${STYLES}</style>
</head>
<body>
${body}
<script type="application/json" id="stitch-data">${embedJson(payload)}</script>
<script>${script}</script>
<script>${clientScript()}</script>
</body>
</html>
`;
}
