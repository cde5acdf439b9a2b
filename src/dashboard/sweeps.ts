/**
 * The dashboard's sweep view: the sweeps under the runs directory (RUNS/sweeps/NAME, where
 * `stitch sweep` puts them by default, or RUNS/NAME) with their done / running / failed / queued
 * jobs, ETA and, once runs have finished, the results table. `/sweeps` is a small page that polls
 * `/api/sweeps` every two seconds; mounted by one line in server.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { INDEX_FILE, readJobIndex } from '../sweep/prepare.js';
import { computeResults, type SweepResults } from '../sweep/results.js';
import { sweepStatus, type SweepStatus } from '../sweep/status.js';

export interface SweepView {
  /** the sweep directory, relative to the runs directory */
  path: string;
  status: SweepStatus;
  results: SweepResults | null;
}

function sweepDirectories(runsRoot: string): string[] {
  const found: string[] = [];
  for (const parent of ['sweeps', '.']) {
    const dir = join(runsRoot, parent);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) if (existsSync(join(dir, name, INDEX_FILE))) found.push(parent === '.' ? name : `${parent}/${name}`);
  }
  return found;
}

export function listSweeps(runsRoot: string): SweepView[] {
  const views: SweepView[] = [];
  for (const path of sweepDirectories(runsRoot)) {
    const dir = join(runsRoot, path);
    try {
      // the dashboard never spawns held-out scoring: that is `stitch sweep report`'s job
      const index = { ...readJobIndex(dir), heldOut: null };
      const results = computeResults(index);
      views.push({ path, status: sweepStatus(dir), results: results.rows.length === 0 ? null : results });
    } catch {
      // a sweep directory being written, or a run's files half-written: shown on the next poll
    }
  }
  return views;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stitch sweeps</title>
<style>
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #1d1d1f; background: #f4f5f7; }
main { padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; } h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; }
td, th { padding: 3px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; font-variant-numeric: tabular-nums; }
.done { color: #1a7f37; } .failed { color: #c62828; } .running { color: #b26a00; } .queued { color: #666; }
</style></head>
<body><main><h1>Sweeps</h1><p><a href="/">runs</a></p><div id="sweeps">loading…</div></main>
<script>
const text = (value) => String(value).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fixed = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const duration = (s) => (s === null ? 'unknown' : s < 90 ? Math.round(s) + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h');
function render(sweeps) {
  if (sweeps.length === 0) return '<p>No sweeps in this runs directory (stitch sweep writes them to runs/sweeps/NAME).</p>';
  return sweeps.map(({ path, status, results }) => {
    const c = status.counts;
    const jobs = status.jobs.map((j) => '<tr class="' + j.status + '"><td>' + text(j.name) + '</td><td>' + j.status + '</td><td>' + (j.step ?? '') + '</td><td>' + text(j.host ?? '') + '</td><td>' + text(j.error ?? '') + '</td></tr>').join('');
    const rows = results === null ? '' : '<table><tr><th>dataset</th><th>algorithm</th><th>seeds</th><th>last mean ± std</th><th>last IQM [95% CI]</th><th>best mean ± std</th></tr>'
      + results.rows.map((r) => '<tr><td>' + text(r.dataset) + '</td><td>' + text(r.algorithm) + '</td><td>' + r.seeds.length + '</td><td>' + fixed(r.last.mean) + ' ± ' + fixed(r.last.std) + '</td><td>' + fixed(r.last.iqm) + ' [' + fixed(r.last.iqmLow) + ', ' + fixed(r.last.iqmHigh) + ']</td><td>' + fixed(r.best.mean) + ' ± ' + fixed(r.best.std) + '</td></tr>').join('') + '</table>';
    return '<section class="sweep"><h2>' + text(status.name) + ' <small>(' + text(path) + ')</small></h2>'
      + '<p class="counts">' + c.done + '/' + status.total + ' done, ' + c.running + ' running, ' + c.failed + ' failed, ' + c.queued + ' queued; ETA ' + duration(status.etaSeconds) + '</p>'
      + rows + '<table><tr><th>job</th><th>status</th><th>step</th><th>host</th><th>error</th></tr>' + jobs + '</table></section>';
  }).join('');
}
async function refresh() {
  try {
    const response = await fetch('/api/sweeps');
    document.getElementById('sweeps').innerHTML = render(await response.json());
  } catch (error) {
    document.getElementById('sweeps').textContent = 'the dashboard is not reachable: ' + error;
  }
}
refresh();
setInterval(refresh, 2000);
</script></body></html>`;

export function mountSweepRoutes(app: Hono, runsRoot: string): void {
  app.get('/sweeps', (c) => c.html(PAGE));
  app.get('/api/sweeps', (c) => c.json(listSweeps(runsRoot)));
}
