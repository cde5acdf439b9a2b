import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadDataset } from '../../src/data/load.js';
import { returnsToGo } from '../../src/data/preprocess.js';
import { samplingRulesFor, WindowSampler } from '../../src/data/sampler.js';
import { Rng } from '../../src/engine/rng.js';
import { checkpointPath, listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.js';
import { resumeRun, startRun } from '../../src/train/trainer.js';
import { captureIO, smallMazeDataset, tempDir, tinyConfig } from './fixture.js';

/** the records with the wall-clock fields removed: everything else must match bit for bit */
function deterministicLines(path: string): unknown[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => {
    const { time_s: _time, steps_per_s: _rate, ...rest } = JSON.parse(line) as Record<string, number>;
    return rest;
  });
}

function checkpointTensors(path: string): Map<string, number[]> {
  return new Map([...readCheckpoint(path).tensors].map(([name, tensor]) => [name, Array.from(tensor.data)]));
}

/** what a run directory looks like when the process died right after the checkpoint at `step` */
function crashAfterCheckpoint(source: string, target: string, step: number): void {
  cpSync(source, target, { recursive: true });
  for (const entry of listCheckpoints(target)) if (entry.step > step) rmSync(entry.path);
  rmSync(join(target, 'eval.json'));
  rmSync(join(target, 'policy.safetensors'));
}

function assertSameRun(expected: string, actual: string): void {
  assert.deepEqual(deterministicLines(join(actual, 'metrics.jsonl')), deterministicLines(join(expected, 'metrics.jsonl')));
  assert.deepEqual(deterministicLines(join(actual, 'evaluations.jsonl')), deterministicLines(join(expected, 'evaluations.jsonl')));
  assert.deepEqual(readFileSync(join(actual, 'policy.safetensors')), readFileSync(join(expected, 'policy.safetensors')));
  const final = listCheckpoints(expected)[0]!;
  assert.deepEqual(checkpointTensors(checkpointPath(actual, final.step)), checkpointTensors(final.path), 'weights and optimiser moments');
  const { last, best } = JSON.parse(readFileSync(join(expected, 'eval.json'), 'utf8')) as Record<string, unknown>;
  const resumed = JSON.parse(readFileSync(join(actual, 'eval.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([resumed.last, resumed.best], [last, best]);
}

describe('resume continues exactly', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
  });

  for (const algo of ['dt', 'reinformer']) {
    it(`${algo}: a run resumed from its step-20 checkpoint ends identical to an uninterrupted 40-step run`, async () => {
      // logs every 3 steps, so the checkpoint falls inside an open metrics interval
      const config = tinyConfig(dataset, algo, { logEvery: 3 });
      const whole = join(dir, `${algo}-whole`);
      await startRun(whole, config, captureIO());
      assert.deepEqual(listCheckpoints(whole).map((entry) => entry.step), [40, 20], 'the newest two checkpoints are kept');

      const resumed = join(dir, `${algo}-resumed`);
      crashAfterCheckpoint(whole, resumed, 20);
      // the logs still hold records past step 20, as after a crash; resume must drop them
      const io = captureIO();
      await resumeRun(resumed, io);
      assert.match(io.text(), /resuming .* at step 20\/40/);
      assertSameRun(whole, resumed);
    });
  }

  it('evaluating more or less often does not change training', async () => {
    const often = join(dir, 'dt-eval-often');
    const rarely = join(dir, 'dt-eval-rarely');
    await startRun(often, tinyConfig(dataset, 'dt', { steps: 20, evalEvery: 5, evalEpisodes: 1, checkpointEvery: 0 }), captureIO());
    await startRun(rarely, tinyConfig(dataset, 'dt', { steps: 20, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 0 }), captureIO());
    assert.equal(deterministicLines(join(often, 'evaluations.jsonl')).length, 4);
    assert.deepEqual(deterministicLines(join(often, 'metrics.jsonl')), deterministicLines(join(rarely, 'metrics.jsonl')));
    assert.deepEqual(readFileSync(join(often, 'policy.safetensors')), readFileSync(join(rarely, 'policy.safetensors')));
  });

  it('a corrupt newest checkpoint falls back to the previous good one', async () => {
    const config = tinyConfig(dataset, 'dt', { steps: 30, checkpointEvery: 10, evalEvery: 0 });
    const whole = join(dir, 'dt-corrupt-whole');
    await startRun(whole, config, captureIO());
    const damaged = join(dir, 'dt-corrupt');
    crashAfterCheckpoint(whole, damaged, 30);
    const newest = checkpointPath(damaged, 30);
    const bytes = readFileSync(newest);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x10;
    writeFileSync(newest, bytes);
    const io = captureIO();
    await resumeRun(damaged, io);
    assert.match(io.text(), /skipping checkpoint: .*step-00000030\.safetensors: checksum mismatch/);
    assert.match(io.text(), /resuming .* at step 20\/30/);
    assertSameRun(whole, damaged);
  });

  it('refuses to resume on a dataset that changed since the checkpoint', async () => {
    const config = tinyConfig(dataset, 'dt', { steps: 10, evalEvery: 0, evalEpisodes: 1 });
    const run = join(dir, 'dt-changed');
    await startRun(run, config, captureIO());
    const smaller = await smallMazeDataset(tempDir(), 5000);
    const saved = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(run, 'config.json'), JSON.stringify({ ...saved, dataset: smaller }));
    await assert.rejects(resumeRun(run, captureIO()), /the dataset .* changed since this checkpoint was written/);
  });
});

describe('sampler state', () => {
  it('restoring the epoch sampler and its Rng continues the same batches', async () => {
    const dir = tempDir();
    const { store } = await loadDataset(await smallMazeDataset(dir, 3000));
    const options = { ...samplingRulesFor('reinformer'), batchSize: 8, contextLength: 4, returnsToGo: returnsToGo(store) };
    const rng = new Rng(3);
    const sampler = new WindowSampler(store, options, rng);
    for (let i = 0; i < 5; i++) sampler.sample();
    const saved = { sampler: sampler.state(), rng: rng.state() };
    const expected = Array.from({ length: 8 }, () => Array.from(sampler.sample().episodes));

    const otherRng = new Rng(99);
    const other = new WindowSampler(store, options, otherRng);
    other.sample();
    other.restore(saved.sampler);
    otherRng.restore(saved.rng);
    assert.deepEqual(Array.from({ length: 8 }, () => Array.from(other.sample().episodes)), expected);
    assert.throws(() => other.restore({ epochPosition: 0, epochOrder: [0, 0, 1] }), /not a permutation/);
  });
});
