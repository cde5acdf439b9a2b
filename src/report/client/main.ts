/**
 * The browser side of the report, the comparison and the dashboard, bundled by esbuild
 * (scripts/bundle-client.mjs) into one script that page.ts inlines: it draws every chart with
 * uPlot from the JSON payload in the page, or, in the dashboard, from snapshots the server pushes
 * (and its sweep view, polled).
 */
import type { PagePayload } from '../page.js';
import { renderComparison } from './compare-view.js';
import { renderDashboard } from './dashboard-view.js';
import { renderRun } from './run-view.js';
import { renderSweeps } from './sweeps-view.js';

const payload = JSON.parse(document.getElementById('stitch-data')?.textContent ?? '{}') as PagePayload;
const app = document.getElementById('app') as HTMLElement;
if (payload.mode === 'report') renderRun(app, payload.run);
else if (payload.mode === 'compare') renderComparison(app, payload.comparison);
else if (payload.mode === 'sweeps') renderSweeps();
else renderDashboard(app);
document.body.setAttribute('data-rendered', 'true');
