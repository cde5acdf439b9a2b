import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chartStates } from './browser-helpers.js';
import { writeComparison, writeRunReport } from '../../src/report/report.js';
import { stitchBuild } from '../../src/train/provenance.js';
import { launchChromium, smallMazeDataset, tempDir, trainTiny } from './fixture.js';

/** distinct colours among sampled pixels of a PNG, decoded by the browser itself */
async function distinctColours(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    await page.setContent(`<img id="shot" src="data:image/png;base64,${png.toString('base64')}">`);
    // a script string: the test build has no DOM types, and this runs in the page
    return await page.evaluate<number>(`(async () => {
      const img = document.getElementById('shot');
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const context = canvas.getContext('2d');
      context.drawImage(img, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      const colours = new Set();
      for (let i = 0; i < pixels.length; i += 4 * 97) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
      return colours.size;
    })()`);
  } finally {
    await page.close();
  }
}

describe('report.html in headless Chromium', () => {
  let browser: Browser;
  let dir: string;
  const reports: Record<string, string> = {};
  before(async () => {
    dir = tempDir();
    const dataset = await smallMazeDataset(dir);
    for (const algo of ['dt', 'reinformer'] as const) {
      const run = join(dir, algo);
      trainTiny(algo, dataset, run);
      reports[algo] = await writeRunReport(run);
    }
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  async function openReport(path: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(path).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 10_000 });
    return { page, errors, requests };
  }

  it('the DT report draws every chart with data, without errors or network, and is not blank', { timeout: 60_000 }, async () => {
    const { page, errors, requests } = await openReport(reports.dt as string);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((url) => !url.startsWith('file:') && !url.startsWith('data:')), [], 'self-contained');
    const charts = await chartStates(page);
    const names = charts.map((chart) => chart.chart);
    for (const expected of ['eval-score', 'eval-conditions', 'return-calibration', 'maze-rollouts', 'rollout-player', 'term-action_loss', 'lr', 'grad-norm', 'steps-per-s', 'wall-time']) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
    for (const chart of charts) {
      assert.ok(chart.points > 0, `${chart.chart} has data`);
      assert.ok(chart.inkedPixels > 0, `${chart.chart} drew something`);
    }
    assert.equal(await page.locator('figure[data-chart="eval-score"] canvas').count() > 0, true);
    assert.match(await page.locator('figure[data-chart="eval-score"] .note').innerText(), /^last: .* at step 40 · best: .* at step (20|40)$/);
    // issue 21, item 7: the run's provenance, as `stitch train` recorded it
    const provenance = (await page.locator('#run-provenance tbody tr').allInnerTexts()).map((row) => row.split('\t'));
    assert.equal(provenance.length, 1);
    assert.equal(provenance[0]?.[0], 'start');
    assert.equal(provenance[0]?.[3], stitchBuild().stitchVersion);
    // the backend that trained the session, then its command line
    assert.match(provenance[0]?.[5] ?? '', /^(native|wasm|js) backend, \d+ thread\(s\)/);
    assert.match(provenance[0]?.[6] ?? '', /^stitch train --algo dt --dataset .* --out .*dt$/);
    const screenshot = await page.screenshot({ fullPage: true });
    assert.ok(await distinctColours(browser, screenshot) > 20, 'the screenshot is not blank');
    await page.close();
  });

  it('the Reinformer report shows every loss term and the predicted max return against the dataset', { timeout: 60_000 }, async () => {
    const { page, errors } = await openReport(reports.reinformer as string);
    assert.deepEqual(errors, []);
    const charts = await chartStates(page);
    const names = charts.map((chart) => chart.chart);
    for (const term of ['loss', 'return_loss', 'action_nll', 'entropy', 'action_loss', 'temperature', 'temperature_loss']) assert.ok(names.includes(`term-${term}`), term);
    assert.ok(names.includes('predicted-return'));
    assert.ok(!names.includes('return-calibration'), 'no requested returns to calibrate');
    for (const chart of charts) assert.ok(chart.points > 0 && chart.inkedPixels > 0, `${chart.chart} drew its data`);
    await page.close();
  });

  it('the comparison page draws the final scores and one curve per algorithm', { timeout: 60_000 }, async () => {
    const out = join(dir, 'compare.html');
    writeComparison([join(dir, 'dt'), join(dir, 'reinformer')], out);
    const { page, errors } = await openReport(out);
    assert.deepEqual(errors, []);
    const charts = await chartStates(page);
    assert.deepEqual(charts.map((chart) => chart.chart), ['final-scores', 'curve-0', 'curve-1']);
    for (const chart of charts) assert.ok(chart.points > 0 && chart.inkedPixels > 0, `${chart.chart} drew its data`);
    // issue 21: the IQM interval is an error bar per group, and a group of one run says so
    assert.equal(await page.locator('figure[data-chart="final-scores"]').getAttribute('data-error-bars'), '2');
    assert.equal(await page.locator('td', { hasText: '1 (single run)' }).count(), 2);
    assert.match(await page.locator('#differing-fields').innerText(), /differ in .*algo/);
    await page.close();
  });
});
