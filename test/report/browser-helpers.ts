/** What the browser tests read from a rendered report or dashboard page. */
import type { Page } from 'playwright-core';

export interface ChartState { chart: string; points: number; inkedPixels: number }

/** every figure.chart: the values it drew and how many pixels of its canvas (or SVG) are not blank */
export async function chartStates(page: Page): Promise<ChartState[]> {
  return page.$$eval('figure.chart', (figures) => figures.map((figure) => {
    const canvas = figure.querySelector('canvas');
    let inkedPixels = 0;
    if (canvas !== null) {
      const context = canvas.getContext('2d');
      const pixels = context?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
      for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] as number) > 0) inkedPixels += 1;
    } else {
      inkedPixels = figure.querySelectorAll('svg polyline, svg rect').length;
    }
    return { chart: figure.getAttribute('data-chart') ?? '', points: Number(figure.getAttribute('data-points')), inkedPixels };
  }));
}


/**
 * Waits until a page expression is true. Not `page.waitForFunction`: it compiles its predicate
 * inside the page, which the pages' Content-Security-Policy (no eval) refuses.
 */
export async function waitForExpression(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await page.evaluate<boolean>(`Boolean(${expression})`)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
