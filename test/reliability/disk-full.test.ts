/**
 * A disk that fills during a write: the checkpoint, a metrics append or the policy file. The run
 * stops with one message naming the file and the last good checkpoint, every earlier checkpoint
 * still verifies, no temporary file is left, and --resume ends identical to an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.js';
import { resumeRun, RunStoppedError, startRun } from '../../src/train/trainer.js';
import { captureIO, smallMazeDataset, tempDir, tinyConfig } from '../train/fixture.js';
import { assertSameRun, simulateFullDisk } from './helpers.js';

describe('a full disk loses nothing but the steps since the last checkpoint', () => {
  let dir: string;
  let dataset: string;
  let reference: string;
  const config = (): ReturnType<typeof tinyConfig> => tinyConfig(dataset, 'dt', { steps: 30, evalEvery: 15, evalEpisodes: 1, checkpointEvery: 10, logEvery: 4 });
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
    reference = join(dir, 'reference');
    await startRun(reference, config(), captureIO());
  });

  const cases: Array<{ name: string; file: RegExp; stoppedAt: number; lastGood: number }> = [
    { name: 'while writing the step-20 checkpoint', file: /step-00000020\.safetensors/, stoppedAt: 20, lastGood: 10 },
    { name: 'while appending a metrics record', file: /metrics\.jsonl$/, stoppedAt: 4, lastGood: 0 },
    { name: 'while writing the policy file', file: /policy\.safetensors/, stoppedAt: 30, lastGood: 30 },
  ];
  for (const { name, file, stoppedAt, lastGood } of cases) {
    it(name, async () => {
      const run = join(dir, name.replace(/\W+/g, '-'));
      const restore = simulateFullDisk((path) => path.startsWith(run) && file.test(path));
      let failure: unknown;
      try {
        await startRun(run, config(), captureIO());
      } catch (error) {
        failure = error;
      } finally {
        restore();
      }
      assert.ok(failure instanceof RunStoppedError && failure.reason === 'write-failed', `expected a stopped run, got ${String(failure)}`);
      assert.ok(!failure.message.includes('\n'), 'one line');
      assert.match(failure.message, /could not write \(the disk is full: ENOSPC/);
      assert.match(failure.message, new RegExp(`the run stopped at step ${stoppedAt}/30`));
      if (lastGood === 0) {
        assert.match(failure.message, /no checkpoint was written yet/);
        return;
      }
      assert.match(failure.message, new RegExp(`the last good checkpoint is checkpoints/step-${String(lastGood).padStart(8, '0')}\\.safetensors \\(continue with stitch train --resume`));
      for (const entry of listCheckpoints(run)) assert.doesNotThrow(() => readCheckpoint(entry.path), `${entry.path} verifies`);
      assert.equal(listCheckpoints(run)[0]!.step, lastGood, 'the previous checkpoint is the newest');
      for (const folder of [run, join(run, 'checkpoints')]) assert.deepEqual(readdirSync(folder).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');

      const io = captureIO();
      await resumeRun(run, io);
      assert.match(io.text(), new RegExp(`resuming .* at step ${lastGood}/30`));
      assertSameRun(reference, run);
    });
  }

  it('a metrics record torn by a full disk is dropped on resume', async () => {
    const run = join(dir, 'torn-metrics');
    // the first records and the step-10 checkpoint are written; the disk fills at the record of step 12
    let appends = 0;
    const restore = simulateFullDisk((path, flags) => path === join(run, 'metrics.jsonl') && flags === 'a' && ++appends === 3);
    await assert.rejects(startRun(run, config(), captureIO()), /metrics\.jsonl: could not write .*the run stopped at step 12\/30; the last good checkpoint is checkpoints\/step-00000010/);
    restore();
    await resumeRun(run, captureIO());
    assertSameRun(reference, run);
  });
});
