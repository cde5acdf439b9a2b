#!/usr/bin/env node
// A PNG of a Stitch page (a report or comparison) for the docs, in headless Chromium:
//   node scripts/screenshot.mjs compare.html docs/img/budget-umaze.png ['figure selector']
// The page is opened from its file; with a selector, only that element is captured.
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [page, out, selector] = process.argv.slice(2);
if (page === undefined || out === undefined) {
  console.error('usage: node scripts/screenshot.mjs PAGE.html OUT.png [selector]');
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
try {
  const tab = await browser.newPage({ viewport: { width: 1100, height: 800 }, deviceScaleFactor: 1 });
  await tab.goto(pathToFileURL(resolve(page)).href);
  await tab.waitForTimeout(1500);
  if (selector === undefined) await tab.screenshot({ path: out, fullPage: true });
  else await tab.locator(selector).first().screenshot({ path: out });
  console.log(out);
} finally {
  await browser.close();
}
