/**
 * Stored script injection (issue 15, item 1): a run directory copied in with a crafted
 * report-data.json put `maze.rolloutsSvg` into the dashboard with innerHTML, which ran its
 * script in the dashboard's origin. The drawings are now rebuilt from an inert parse, and every
 * page carries a hash-based Content-Security-Policy; both the dashboard and a report.html made
 * from the same run are checked in Chromium.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { renderRunReport } from '../../src/report/report.js';
import { readRunSnapshot } from '../../src/report/run-data.js';
import { launchChromium, tempDir } from '../report/fixture.js';

const HOSTILE_SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="120" onload="window.__pwned=\'svg-onload\'">'
  + '<script>window.__pwned=\'svg-script\'</script>'
  + '<rect x="0" y="0" width="60" height="60" fill="#3b3b3b"/>'
  + '<rect x="60" y="0" width="60" height="60" fill="url(javascript:window.__pwned=1)" onclick="window.__pwned=\'click\'"/>'
  + '<foreignObject width="100" height="100"><img xmlns="http://www.w3.org/1999/xhtml" src="x" onerror="window.__pwned=\'foreign-img\'"/></foreignObject>'
  + '<a xlink:href="javascript:window.__pwned=\'link\'"><circle cx="5" cy="5" r="5"/></a>'
  + '<animate attributeName="href" to="javascript:window.__pwned=\'animate\'"/>'
  + '<polyline points="10,10 20,20 30,10" fill="none" stroke="#1f77b4"/>'
  + '</svg>';
const HOSTILE_HTML = '<img src="x" onerror="window.__pwned=\'html-img\'"><script>window.__pwned=\'html-script\'</script>';

/** what an injected script would have left behind, and what the drawing kept */
const INSPECT = `(() => {
  const app = document.getElementById('app');
  const all = Array.from(app.querySelectorAll('*'));
  return {
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    scripts: document.querySelectorAll('script').length,
    handlers: all.filter((node) => Array.from(node.attributes).some((a) => /^on/i.test(a.name) || /javascript:/i.test(a.value))).length,
    foreign: app.querySelectorAll('.svg *:not(svg):not(rect):not(circle):not(polyline):not(line):not(text):not(g), img, iframe, object, embed').length,
    drawn: app.querySelectorAll('figure[data-chart="maze-rollouts"] svg rect, figure[data-chart="maze-rollouts"] svg polyline').length,
  };
})()`;

interface Inspection { pwned: string | null; scripts: number; handlers: number; foreign: number; drawn: number }

describe('a crafted report-data.json in headless Chromium', () => {
  let browser: Browser;
  let dashboard: Dashboard;
  let reportPath: string;
  before(async () => {
    const runs = join(tempDir(), 'runs');
    const run = join(runs, 'crafted');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'config.json'), JSON.stringify({ algo: 'dt', env: 'maze2d-umaze-v1', steps: 10, seed: 0 }));
    writeFileSync(join(run, 'metrics.jsonl'), '{"step":5,"time_s":1,"action_loss":0.5}\n{"step":10,"time_s":2,"action_loss":0.4}\n');
    writeFileSync(join(run, 'report-data.json'), JSON.stringify({
      format: 'stitch-report-data', formatVersion: 1, policyStep: 10, dataset: null, notes: [],
      rollouts: { condition: 'target 60', seed: 0, episodes: [{ episode: 0, return: 1, length: 2, points: [1, 1, 1.5, 1.5, 2, 2] }] },
      maze: { backgroundSvg: HOSTILE_HTML, rolloutsSvg: HOSTILE_SVG, cellSize: 60, offset: 0.7 },
    }));
    reportPath = join(run, 'report.html');
    writeFileSync(reportPath, renderRunReport(readRunSnapshot(run)));
    dashboard = await startDashboard({ runsDir: runs, port: 0, pollMs: 100 });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
  });

  async function inspect(page: Page): Promise<Inspection> {
    await page.locator('figure[data-chart="maze-rollouts"]').waitFor({ timeout: 20_000 });
    // give anything injected (an onload, an image error) time to fire
    await page.waitForTimeout(300);
    await page.locator('figure[data-chart="maze-rollouts"] svg rect').first().click({ force: true }).catch(() => undefined);
    return page.evaluate<Inspection>(INSPECT);
  }

  for (const where of ['dashboard', 'report.html'] as const) {
    it(`the ${where} draws the maze without running anything from the file`, { timeout: 60_000 }, async () => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(where === 'dashboard' ? `${dashboard.url}/#crafted` : pathToFileURL(reportPath).href);
      const seen = await inspect(page);
      assert.equal(seen.pwned, null, 'no injected script ran');
      assert.equal(seen.scripts, 3, 'only the page\'s own script elements (data, uPlot, client)');
      assert.equal(seen.handlers, 0, 'no event handler or javascript: URL survived');
      assert.equal(seen.foreign, 0, 'no foreign content, links or animations');
      assert.ok(seen.drawn >= 2, 'the plain drawing is kept');
      assert.deepEqual(errors, []);
      await page.close();
    });
  }
});
