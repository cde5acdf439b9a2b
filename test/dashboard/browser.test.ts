import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { writeRunReport } from '../../src/report/report.js';
import { chartStates, waitForExpression } from '../report/browser-helpers.js';
import { launchChromium, smallMazeDataset, tempDir, trainInBackground, trainTiny } from '../report/fixture.js';

async function currentStep(page: Page): Promise<number> {
  return Number(await page.locator('#run-step').getAttribute('data-step'));
}

describe('the dashboard in headless Chromium', () => {
  let browser: Browser;
  let dashboard: Dashboard;
  let training: ChildProcess;
  before(async () => {
    const dir = tempDir();
    const dataset = await smallMazeDataset(dir);
    const runs = join(dir, 'runs');
    mkdirSync(runs);
    const finished = join(runs, 'a-finished');
    trainTiny('dt', dataset, finished);
    await writeRunReport(finished);
    training = trainInBackground(dataset, join(runs, 'b-training'));
    dashboard = await startDashboard({ runsDir: runs, port: 0, pollMs: 200 });
    browser = await launchChromium();
  });
  after(async () => {
    training?.kill();
    await browser?.close();
    await dashboard?.close();
  });

  it('follows a run while it trains: the step count advances and the charts have data', { timeout: 60_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${dashboard.url}/#b-training`);
    await waitForExpression(page, 'Number(document.getElementById("run-step")?.dataset.step) > 0', 30_000);
    const first = await currentStep(page);
    await waitForExpression(page, `Number(document.getElementById("run-step")?.dataset.step) > ${first}`, 30_000);
    assert.ok(await currentStep(page) > first);
    assert.match(await page.locator('nav a.active').innerText(), /b-training[\s\S]*in progress/);
    // live updates redraw the charts, and a canvas just rebuilt is blank until uPlot draws it:
    // look again for a few seconds before calling the chart empty
    let charts = await chartStates(page);
    const drawn = (states: typeof charts): boolean => states.some((chart) => chart.chart === 'term-action_loss' && chart.points > 1 && chart.inkedPixels > 0);
    for (const deadline = Date.now() + 10_000; !drawn(charts) && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      charts = await chartStates(page);
    }
    const loss = charts.find((chart) => chart.chart === 'term-action_loss');
    assert.ok(loss !== undefined && loss.points > 1 && loss.inkedPixels > 0, JSON.stringify(charts));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('plays a finished run\'s Maze2D rollouts and links its report', { timeout: 60_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${dashboard.url}/#a-finished`);
    const player = page.locator('figure[data-chart="rollout-player"]');
    await player.waitFor({ timeout: 20_000 });
    await player.locator('button').click();
    await waitForExpression(page, 'Number(document.querySelector(\'figure[data-chart="rollout-player"] input[type=range]\').value) > 5', 10_000);
    const trail = await player.locator('svg polyline').last().getAttribute('points');
    assert.ok((trail ?? '').split(' ').length > 5, 'the trail grows as the episode plays');
    const report = await page.locator('a[href$="/report.html"]').getAttribute('href');
    assert.equal(report, '/files/a-finished/report.html');
    const served = await fetch(`${dashboard.url}${report}`);
    assert.equal(served.status, 200);
    assert.match(served.headers.get('content-type') ?? '', /^text\/html/);
    await page.close();
  });
});
