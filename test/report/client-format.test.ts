import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alignSeries, chartWidth, positiveOnly, smoothSeries, tickLabel, tickLabels } from '../../src/report/client/format.js';

describe('axis tick labels', () => {
  it('tell close ticks apart: an entropy between 2.8400 and 2.8410 no longer reads 2.84 on every tick', () => {
    const ticks = [2.84, 2.8402, 2.8404, 2.8406, 2.8408, 2.841];
    assert.deepEqual(ticks.map(tickLabel), ['2.84', '2.84', '2.84', '2.84', '2.84', '2.84'], 'the old labels');
    assert.deepEqual(tickLabels(ticks, 0.0002), ['2.8400', '2.8402', '2.8404', '2.8406', '2.8408', '2.8410']);
    assert.deepEqual(tickLabels(ticks), ['2.8400', '2.8402', '2.8404', '2.8406', '2.8408', '2.8410'], 'spacing found from the ticks');
  });

  it('keep the three-significant-digit labels when they already differ', () => {
    assert.deepEqual(tickLabels([0, 0.5, 1, 1.5], 0.5), ['0', '0.5', '1', '1.5']);
    assert.deepEqual(tickLabels([0.0001, 0.0002, 0.0003], 0.0001), ['1.0e-4', '2.0e-4', '3.0e-4']);
    assert.deepEqual(tickLabels([1000, 2000], 1000), ['1000', '2000']);
  });

  it('leave the unlabelled ticks of a log axis empty', () => {
    assert.deepEqual(tickLabels([1, null, 100, null, 10000]), ['1', '', '100', '', '10000']);
  });

  it('use exponent form with more digits for close tiny or huge ticks', () => {
    const labels = tickLabels([1.001e-4, 1.002e-4, 1.003e-4], 1e-7);
    assert.equal(new Set(labels).size, 3, labels.join(' '));
    assert.ok(labels.every((label) => /e-4$/.test(label)), labels.join(' '));
  });
});

describe('series transforms for the training terms', () => {
  it('smooths with a debiased moving average and keeps gaps', () => {
    assert.deepEqual(smoothSeries([1, 2, 3], 0), [1, 2, 3]);
    const smoothed = smoothSeries([10, null, 10, 10], 0.9);
    assert.equal(smoothed[1], null);
    for (const value of [smoothed[0], smoothed[2], smoothed[3]]) assert.ok(Math.abs((value as number) - 10) < 1e-9, 'a constant stays itself (debiased)');
    const spike = smoothSeries([1000, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0.6);
    assert.ok((spike[9] as number) < 10, `the spike fades: ${spike[9]}`);
  });

  it('drops values a log axis cannot draw', () => {
    assert.deepEqual(positiveOnly([1, 0, -2, null, 3, Number.NaN]), [1, null, null, null, 3, null]);
  });

  it('aligns runs logged at different steps on one x axis', () => {
    const { x, ys } = alignSeries([{ x: [0, 10, 20], y: [1, 2, 3] }, { x: [5, 10], y: [7, null] }]);
    assert.deepEqual(x, [0, 5, 10, 20]);
    assert.deepEqual(ys, [[1, null, 2, 3], [null, 7, null, null]]);
  });

  it('sizes charts to fill the width in columns', () => {
    assert.equal(chartWidth(1232), 590, 'two columns in the report');
    assert.equal(chartWidth(1800), 421, 'four columns on a wide screen');
    assert.equal(chartWidth(300), 280, 'one narrow column on a phone');
  });
});
