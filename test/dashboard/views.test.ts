/**
 * What a new user ran into on the dashboard (issue 21, item 6), each checked in Chromium on
 * crafted run directories (no training): a killed run shown "in progress" forever, no
 * evaluation progress, entropy ticks all reading "2.84", loss plots flattened by the first
 * spike, a 404 on every page load, one narrow column, no overlay of several runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { chartStates, waitForExpression } from '../report/browser-helpers.js';
import { launchChromium, tempDir } from '../report/fixture.js';

function writeRun(runs: string, name: string, metrics: string[], heartbeat: Record<string, unknown> | null): string {
  const dir = join(runs, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ algo: 'reinformer', env: 'maze2d-umaze-v1', steps: 1000, seed: 0 }));
  writeFileSync(join(dir, 'metrics.jsonl'), `${metrics.join('\n')}\n`);
  if (heartbeat !== null) {
    writeFileSync(join(dir, 'heartbeat.json'), JSON.stringify({
      pid: process.pid, hostname: hostname(), updatedAt: new Date().toISOString(), phase: 'train', step: 100, steps: 1000, evaluation: null, ...heartbeat,
    }));
  }
  return dir;
}

/** metrics with a first-step spike in the loss and an entropy that moves only in the fourth decimal */
function spikyMetrics(scale: number): string[] {
  return Array.from({ length: 40 }, (_, i) => {
    const step = (i + 1) * 10;
    const loss = i === 0 ? 5000 * scale : scale * (1 + 0.5 * Math.exp(-i / 10));
    return JSON.stringify({ step, time_s: step / 100, loss, entropy: 2.84 + 0.001 * (i / 39), lr: 1e-4, grad_norm: 1, steps_per_s: 100 });
  });
}

describe('dashboard views in headless Chromium', () => {
  let browser: Browser;
  let dashboard: Dashboard;
  let runs: string;
  before(async () => {
    runs = join(tempDir(), 'runs');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeRun(runs, 'a-killed', spikyMetrics(1), { pid: Number(dead.stdout) });
    writeRun(runs, 'b-evaluating', spikyMetrics(2), { phase: 'eval', evaluation: { episodesDone: 12, episodesTotal: 50, meanReturnSoFar: 3.25, etaSeconds: 95 } });
    writeFileSync(join(runs, 'b-evaluating', 'provenance.json'), JSON.stringify({ format: 'stitch-provenance', formatVersion: 1, sessions: [
      { kind: 'start', startedAt: '2026-01-02T03:04:05.000Z', fromStep: 0, stitchVersion: '9.8.7', gitCommit: 'c0ffee'.padEnd(40, '0'), commandLine: ['stitch', 'train', '--algo', 'reinformer', '--out', 'runs/my run'], backend: 'webgpu backend, 1 thread(s), nvidia' },
      { kind: 'resume', startedAt: '2026-01-02T04:00:00.000Z', fromStep: 100, stitchVersion: '9.8.8', gitCommit: null, commandLine: null },
    ] }));
    dashboard = await startDashboard({ runsDir: runs, port: 0, pollMs: 100 });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
  });

  async function open(hash: string, width = 1600): Promise<{ page: Page; failed: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const failed: string[] = [];
    const errors: string[] = [];
    page.on('response', (response) => { if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`); });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    await page.goto(`${dashboard.url}/${hash}`);
    await page.locator('figure[data-chart="term-loss"] canvas').waitFor({ timeout: 20_000 });
    return { page, failed, errors };
  }

  it('shows a killed run as stale, in the list and on its page, and loads without a 404', { timeout: 60_000 }, async () => {
    const { page, failed, errors } = await open('#a-killed');
    await page.locator('#run-stale').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#run-stale').innerText(), /^stale at step 100 of 1000: its process \d+ is gone/);
    await waitForExpression(page, 'document.querySelector(\'nav a[data-run="a-killed"] .status\')?.textContent.startsWith("stale")', 10_000);
    assert.match(await page.locator('nav a[data-run="b-evaluating"] .status').innerText(), /^in progress/);
    await page.waitForTimeout(500); // the icon request comes after the page's own
    assert.deepEqual(failed, [], 'no failed request (the favicon included)');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('shows an evaluation\'s progress from the heartbeat', { timeout: 60_000 }, async () => {
    const { page } = await open('#b-evaluating');
    await page.locator('#eval-progress').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#eval-progress').getAttribute('data-done'), '12');
    assert.equal(await page.locator('#eval-progress progress').getAttribute('max'), '50');
    assert.match(await page.locator('#eval-progress').innerText(), /12 \/ 50 episodes · mean return so far 3\.25 · about 1 min 35 s left/);
    await page.close();
  });

  it('shows who wrote the run: the Stitch version, git commit, backend and command line of each session (issue 21, item 7)', { timeout: 60_000 }, async () => {
    const { page } = await open('#b-evaluating');
    const rows = await page.locator('#run-provenance tbody tr').allInnerTexts();
    assert.equal(rows.length, 2, rows.join('\n'));
    assert.deepEqual(rows[0]?.split('\t'), ['start', '2026-01-02T03:04:05.000Z', '0', '9.8.7', 'c0ffee'.padEnd(40, '0'), 'webgpu backend, 1 thread(s), nvidia', 'stitch train --algo reinformer --out "runs/my run"']);
    // a file written before the backend was recorded
    assert.deepEqual(rows[1]?.split('\t'), ['resume', '2026-01-02T04:00:00.000Z', '100', '9.8.8', 'not a git checkout', 'not recorded', 'from the API']);
    await page.close();
  });

  it('labels close ticks apart: the entropy axis does not read 2.84 on every tick', { timeout: 60_000 }, async () => {
    const { page } = await open('#a-killed');
    const ticks = (await page.locator('figure[data-chart="term-entropy"]').getAttribute('data-y-ticks') ?? '').split('|');
    assert.ok(ticks.length >= 3, ticks.join(' '));
    assert.equal(new Set(ticks).size, ticks.length, `distinct: ${ticks.join(' ')}`);
    await page.close();
  });

  it('draws a spiky loss on a log scale and smoothed on request, and keeps the choice as the run updates', { timeout: 60_000 }, async () => {
    const { page } = await open('#a-killed');
    const loss = page.locator('figure[data-chart="term-loss"]');
    assert.equal(await loss.getAttribute('data-scale'), 'linear');
    assert.ok(Number(await loss.getAttribute('data-y-max')) >= 5000, 'the spike sets the linear range');
    await page.locator('#log-scale').check();
    await waitForExpression(page, 'document.querySelector(\'figure[data-chart="term-loss"]\').dataset.scale === "log"', 10_000);
    const min = Number(await page.locator('figure[data-chart="term-loss"]').getAttribute('data-y-min'));
    assert.ok(min > 0 && min <= 1, `a log axis reaches down to the values after the spike: ${min}`);
    await page.locator('#smoothing').selectOption('0.9');
    await waitForExpression(page, 'document.querySelector(\'figure[data-chart="term-loss"]\').dataset.series === "2"', 10_000);
    // a new record arrives: the run is drawn again with the same toggles
    appendFileSync(join(runs, 'a-killed', 'metrics.jsonl'), `${JSON.stringify({ step: 410, time_s: 4.1, loss: 1, entropy: 2.841, lr: 1e-4, grad_norm: 1, steps_per_s: 100 })}\n`);
    await waitForExpression(page, 'document.getElementById("run-step").dataset.step === "410"', 10_000);
    const redrawn = page.locator('figure[data-chart="term-loss"]');
    assert.equal(await redrawn.getAttribute('data-scale'), 'log');
    assert.equal(await redrawn.getAttribute('data-series'), '2');
    assert.equal(await page.locator('#log-scale').isChecked(), true);
    const charts = await chartStates(page);
    assert.ok((charts.find((chart) => chart.chart === 'term-loss')?.inkedPixels ?? 0) > 0);
    await page.close();
  });

  it('fills a wide window with columns of charts', { timeout: 60_000 }, async () => {
    const { page } = await open('#a-killed', 1600);
    const mainWidth = await page.evaluate<number>('document.getElementById("app").clientWidth');
    assert.ok(mainWidth > 1200, `main is ${mainWidth} px wide`);
    const tops = await page.evaluate<number[]>('["term-loss", "term-entropy"].map((id) => document.querySelector(`figure[data-chart="${id}"]`).getBoundingClientRect().top)');
    assert.equal(tops[0], tops[1], 'two training terms side by side');
    await page.close();
  });

  it('overlays the runs ticked in the list on the same plots', { timeout: 60_000 }, async () => {
    const { page, errors } = await open('#a-killed');
    await page.locator('input.overlay-pick[data-run="a-killed"]').check();
    await page.locator('input.overlay-pick[data-run="b-evaluating"]').check();
    await page.locator('figure[data-chart="overlay-term-loss"] canvas').waitFor({ timeout: 10_000 });
    const overlay = page.locator('figure[data-chart="overlay-term-loss"]');
    assert.equal(await overlay.getAttribute('data-series'), '2', 'one line per run');
    assert.match(await page.locator('#app h1').innerText(), /^Overlay of 2 runs$/);
    const charts = await chartStates(page);
    const drawn = charts.find((chart) => chart.chart === 'overlay-term-loss');
    assert.ok(drawn !== undefined && drawn.points >= 80 && drawn.inkedPixels > 0, JSON.stringify(charts));
    // unticking one goes back to a single run
    await page.locator('input.overlay-pick[data-run="b-evaluating"]').uncheck();
    await page.locator('figure[data-chart="term-loss"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
