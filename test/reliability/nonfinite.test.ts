/**
 * Numerical faults: a NaN or infinite loss stops the update before it touches the weights and
 * names the term and the batch; 'halt' stops the run (exit code 3 from the CLI) keeping its last
 * checkpoint, 'skip' drops the batch, counts it in metrics and eval.json, and resumes exactly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { add, mean, Parameter, Tensor } from '../../src/engine/index.js';
import { AdamW } from '../../src/nn/optim.js';
import { listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.js';
import { assertFiniteGradient, NonFiniteError } from '../../src/train/nonfinite.js';
import { gradientStep } from '../../src/nn/step.js';
import { resumeRun, RunStoppedError, startRun } from '../../src/train/trainer.js';
import { captureIO, ENV, tempDir, TINY_DT, TINY_QT, tinyConfig } from '../train/fixture.js';
import { assertSameRun, overflowingMazeDataset } from './helpers.js';
import { hostArray } from '../../src/engine/tensor.js';

const CLI = 'dist/src/cli/main.js';
const tinyDtFlags = Object.entries(TINY_DT).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);

describe('the shared non-finite checks', () => {
  it('a NaN loss throws before the optimiser step: weights, moments and step count are untouched', () => {
    const weight = new Parameter(Float32Array.from([0.5, -0.25]), [2]);
    const optimizer = new AdamW([weight], { lr: 0.1 });
    gradientStep({ optimizer, clipNorm: 1, term: 'action_loss', loss: () => mean(weight) });
    const before = { data: weight.data.slice(), moment: hostArray(optimizer.state[0]!.exp_avg).slice(), steps: optimizer.stepCount };
    const poison = Tensor.borrow(Float32Array.from([Number.NaN, 1]), [2]);
    assert.throws(
      () => gradientStep({ optimizer, clipNorm: 1, term: 'action_loss', loss: () => mean(add(weight, poison)), parts: () => ({ return_loss: 0.5, action_nll: Number.NaN }) }),
      (error: unknown) => error instanceof NonFiniteError && error.term === 'action_loss' && error.message === 'action_loss is NaN (action_nll = NaN)',
    );
    assert.deepEqual({ data: weight.data, moment: optimizer.state[0]!.exp_avg, steps: optimizer.stepCount }, before);
  });

  it('a non-finite gradient norm is refused, naming the loss', () => {
    assert.doesNotThrow(() => assertFiniteGradient('critic_loss', 3.5));
    assert.throws(() => assertFiniteGradient('critic_loss', Number.POSITIVE_INFINITY), /the gradient of critic_loss is not finite \(global norm Infinity\)/);
  });
});

describe('a dataset whose returns overflow', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = (await overflowingMazeDataset(dir)).path;
  });

  it('halt (the default): exit code 3, one line naming the term, the batch and the last good checkpoint, which stays intact', () => {
    const run = join(dir, 'halt');
    const result = spawnSync(process.execPath, [CLI, 'train', '--algo', 'dt', '--dataset', dataset, '--env', ENV, '--steps', '40', '--eval-every', '0',
      '--eval-episodes', '1', '--checkpoint-every', '5', '--log-every', '5', ...tinyDtFlags, '--out', run], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    assert.equal(result.status, 3, result.stderr);
    const message = result.stderr.trim().split('\n').at(-1)!;
    assert.match(message, /^stitch: step (\d+): action_loss is NaN; batch \1 \(1 of its 8 windows have non-finite or huge inputs: episode (3|40|90) from step \d+ \(non-finite returnsToGo\)\); the update was stopped before it changed the weights; the run stopped at step \d+\/40; the last good checkpoint is checkpoints\/step-00000005\.safetensors \(continue with stitch train --resume .*, adding --on-nonfinite skip/);
    assert.deepEqual(listCheckpoints(run).map((entry) => entry.step), [5]);
    assert.doesNotThrow(() => readCheckpoint(listCheckpoints(run)[0]!.path));

    // the documented way on: resume with skip, which is saved in config.json
    const resumed = spawnSync(process.execPath, [CLI, 'train', '--resume', run, '--on-nonfinite', 'skip'], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /onNonFinite: halt -> skip/);
    assert.match(resumed.stdout, /skipped batches: \d+/);
    assert.equal((JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { onNonFinite: string }).onNonFinite, 'skip');
  });

  it('skip: faulty batches are dropped and counted, every logged value stays finite, and resume is exact', async () => {
    const config = tinyConfig(dataset, 'dt', { steps: 40, evalEvery: 20, evalEpisodes: 1, checkpointEvery: 10, logEvery: 5, onNonFinite: 'skip' });
    const whole = join(dir, 'skip-whole');
    const io = captureIO();
    const outcome = await startRun(whole, config, io);
    assert.ok(outcome.skippedBatches > 0 && outcome.skippedBatches < 40, `${outcome.skippedBatches} skipped`);
    // a NaN loss, or (since issue 15) a finite loss computed from targets that overflow float32
    assert.equal((io.text().match(/^skipped batch: step \d+: (action_loss is NaN|the loss stayed finite, but the batch's training targets .*); batch \d+ \(/gm) ?? []).length, outcome.skippedBatches);
    const records = readFileSync(join(whole, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    for (const record of records) for (const [name, value] of Object.entries(record)) assert.ok(Number.isFinite(value), `${name} at step ${record.step}`);
    assert.equal(records.at(-1)!.skipped_batches, outcome.skippedBatches);
    assert.equal((JSON.parse(readFileSync(join(whole, 'eval.json'), 'utf8')) as { skippedBatches: number }).skippedBatches, outcome.skippedBatches);

    const resumed = join(dir, 'skip-resumed');
    cpSync(whole, resumed, { recursive: true });
    for (const entry of listCheckpoints(resumed)) if (entry.step > 30) rmSync(entry.path);
    rmSync(join(resumed, 'policy.safetensors'));
    await resumeRun(resumed, captureIO());
    assertSameRun(whole, resumed);
  });

  it('Reinformer halts too, though its return loss divides by the batch mean |G| and stays finite (issue 15)', async () => {
    const run = join(dir, 'reinformer-halt');
    const io = captureIO();
    // maze2d's Reinformer preset scales returns by 100: 6e38 / 100 is finite in float32, and its loss hid it
    const config = tinyConfig(dataset, 'reinformer', { steps: 200, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 5 });
    await assert.rejects(startRun(run, config, io), (error: unknown) => error instanceof RunStoppedError && error.reason === 'non-finite'
      && /^step \d+: the loss stayed finite, but the batch's training targets \(returns-to-go or rewards after scaling\) are non-finite or beyond ±1e19; batch \d+ \(\d+ of its 8 windows have non-finite or huge inputs: episode (2|3|40|90) from step/.test(error.message)
      && /the changed weights were not saved; the run stopped at step \d+\/200; /.test(error.message));
    // and before training, the raw targets are checked and the episodes named
    assert.match(io.text(), /^warning: \d+ returns-to-go and \d+ rewards are non-finite or beyond ±1e19 after scaling \(episodes (2, )?3, 40, 90\); they overflow float32 in any loss/m);
  });

  it('QT names its critic or actor loss and the windows with huge rewards', async () => {
    const run = join(dir, 'qt-halt');
    const config = tinyConfig(dataset, 'qt', { steps: 60, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 5, overrides: { ...TINY_QT, iterations: 6 } });
    await assert.rejects(startRun(run, config, captureIO()), (error: unknown) => error instanceof RunStoppedError
      // since issue 15 a batch whose scaled targets overflow float32 halts even when QT's losses stay finite on it
      && /^step \d+: ((critic_loss|actor_loss) is (NaN|Infinity)|the loss stayed finite, but the batch's training targets)/.test(error.message)
      && /episode (3|40|90) from step \d+ \((rewards|returnsToGo) beyond/.test(error.message));
  });
});
