/** The sweep reads eval.json and metrics.jsonl in both spellings: snake_case (older runs) and camelCase. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readFinalScores, readMetricsSummary } from '../../src/sweep/run-reading.js';
import { tempDir } from '../train/fixture.js';

describe('reading a run for the sweep', () => {
  it('takes snake_case and camelCase keys, the normalized score before the mean return', () => {
    const snake = tempDir();
    writeFileSync(join(snake, 'eval.json'), JSON.stringify({ last: { normalized_score: 12, mean_return: 3 }, best: { normalized_score: 20, mean_return: 5 } }));
    writeFileSync(join(snake, 'metrics.jsonl'), `${JSON.stringify({ step: 5, time_s: 1, steps_per_s: 10 })}\n${JSON.stringify({ step: 10, time_s: 2, steps_per_s: 20 })}\n{"step": 1`);
    assert.deepEqual(readFinalScores(snake), { last: 12, best: 20, normalized: true });
    assert.deepEqual(readMetricsSummary(snake), { step: 10, seconds: 2, stepsPerSecond: 15 });

    const camel = tempDir();
    writeFileSync(join(camel, 'eval.json'), JSON.stringify({ last: { normalizedScore: null, meanReturn: 3 }, best: { normalizedScore: null, meanReturn: 5 } }));
    writeFileSync(join(camel, 'metrics.jsonl'), `${JSON.stringify({ step: 4, timeS: 7, stepsPerS: 8 })}\n`);
    assert.deepEqual(readFinalScores(camel), { last: 3, best: 5, normalized: false });
    assert.deepEqual(readMetricsSummary(camel), { step: 4, seconds: 7, stepsPerSecond: 8 });
    assert.equal(readMetricsSummary(tempDir()), null);
  });
});
