/**
 * Evaluation on a worker thread beside training (`--eval-worker`, the embedded default's setting):
 * the same records, kept weights and trained weights as evaluating inline, since an evaluation
 * depends only on the weights and the evaluation seed, and the training runs on one thread fewer
 * from its first step (`--threads T --eval-worker` trains as `--threads T-1`). An interruption
 * while an evaluation is in flight keeps that evaluation's weights with the checkpoint, and the
 * resumed run ends exactly as an uninterrupted one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend } from '../../src/engine/index.js';
import { listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.js';
import { RunLogs } from '../../src/train/metrics.js';
import { RunInterruptedError, resumeRun, startRun, type TrainOutcome } from '../../src/train/trainer.js';
import { assertSameRun, deterministicLines } from '../reliability/helpers.js';
import { captureIO, smallMazeDataset, tempDir, TINY_QT, tinyConfig } from './fixture.js';

const CLI = 'dist/src/cli/main.js';

/** a run with the process's backend on `threads` threads (restored after) */
async function onThreads(threads: number, work: () => Promise<TrainOutcome>): Promise<TrainOutcome> {
  const before = backend().threads();
  backend().setThreads(threads);
  try {
    return await work();
  } finally {
    backend().setThreads(before);
  }
}

describe('evaluation on a worker thread', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stitch --threads 2 train --eval-worker records, keeps and trains exactly what --threads 1 without it does', () => {
    // QT (candidates, a critic) on dense rewards, so every evaluation scores the weights and the best is kept
    const flags = ['train', '--algo', 'qt', '--dataset', dataset, '--env', 'maze2d-umaze-dense-v1', '--seed', '1', '--steps', '40',
      '--eval-every', '10', '--eval-episodes', '3', '--log-every', '10', '--keep-best',
      ...Object.entries(TINY_QT).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`])];
    const inline = join(dir, 'cli-inline');
    const worker = join(dir, 'cli-worker');
    for (const [threads, out, extra] of [['1', inline, []], ['2', worker, ['--eval-worker']]] as const) {
      const result = spawnSync(process.execPath, [CLI, '--threads', threads, ...flags, '--out', out, ...extra], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
      assert.equal(result.status, 0, result.stderr);
    }
    assertSameRun(inline, worker);
    assert.equal(deterministicLines(join(worker, 'evaluations.jsonl')).length, 4);
    assert.deepEqual(readFileSync(join(worker, 'policy-best.safetensors')), readFileSync(join(inline, 'policy-best.safetensors')));
    const provenance = JSON.parse(readFileSync(join(worker, 'provenance.json'), 'utf8')) as { sessions: { backend: string }[] };
    assert.match(provenance.sessions[0]!.backend, / 1 thread\(s\)/, 'the training ran on one thread of the two');
    assert.equal((JSON.parse(readFileSync(join(worker, 'config.json'), 'utf8')) as { evalWorker: boolean }).evalWorker, true);
  });

  it('interrupted while an evaluation is in flight: the checkpoint keeps its weights; --resume evaluates them first and ends as an uninterrupted run', async () => {
    // several sequential episodes: the evaluation of step 10 takes far longer than the training steps after it
    const config = tinyConfig(dataset, 'qt', { env: 'maze2d-umaze-dense-v1', seed: 1, steps: 30, evalEvery: 10, checkpointEvery: 10, evalEpisodes: 6, evalEnvs: 1, keepBest: true });
    const reference = join(dir, 'reference');
    await onThreads(1, () => startRun(reference, config, captureIO()));

    const workerConfig = { ...config, evalWorker: true };
    const interruptAfterStep10 = (run: string): AbortSignal => {
      // the run reads `aborted` before every step: three reads after the checkpoint at step 10, step 10's evaluation still runs
      const signal = new AbortController().signal;
      let reads = 0;
      Object.defineProperty(signal, 'aborted', {
        get: () => {
          if (existsSync(join(run, 'checkpoints', 'step-00000010.safetensors'))) reads += 1;
          return reads > 3;
        },
      });
      return signal;
    };
    const run = join(dir, 'interrupted');
    const io = captureIO();
    await assert.rejects(onThreads(2, () => startRun(run, workerConfig, io, undefined, { signal: interruptAfterStep10(run) })), (error: unknown) => error instanceof RunInterruptedError);
    assert.match(io.text(), /^interrupted at step 13\/30; checkpoint checkpoints\/step-00000013\.safetensors written/m);
    assert.ok(!existsSync(join(run, 'evaluations.jsonl')), 'the evaluation in flight was not recorded');
    const interruptedAt = listCheckpoints(run)[0]!;
    assert.equal(readCheckpoint(interruptedAt.path).state.evaluation.pending, 10);
    assert.ok(existsSync(join(run, 'checkpoints', 'pending-evaluation-00000010.safetensors')));

    const resumed = await onThreads(2, () => resumeRun(run, captureIO()));
    assert.equal(resumed.bestPolicyPath, join(run, 'policy-best.safetensors'));
    assertSameRun(reference, run);
    assert.deepEqual(readFileSync(join(run, 'policy-best.safetensors')), readFileSync(join(reference, 'policy-best.safetensors')));
    assert.ok(!existsSync(join(run, 'checkpoints', 'pending-evaluation-00000010.safetensors')), 'removed when the run ends');

    // the same interruption with the kept weights lost: the resume says so and skips that evaluation
    const lost = join(dir, 'lost');
    await assert.rejects(onThreads(2, () => startRun(lost, workerConfig, captureIO(), undefined, { signal: interruptAfterStep10(lost) })), (error: unknown) => error instanceof RunInterruptedError);
    unlinkSync(join(lost, 'checkpoints', 'pending-evaluation-00000010.safetensors'));
    const lostIO = captureIO();
    await onThreads(2, () => resumeRun(lost, lostIO));
    assert.match(lostIO.text(), /the evaluation of step 10 was in flight at the checkpoint, but its weights \(checkpoints\/pending-evaluation-00000010\.safetensors\) are missing or damaged: that evaluation is skipped/);
    assert.deepEqual(deterministicLines(join(lost, 'evaluations.jsonl')).map((record) => (record as { step: number }).step), [20, 30]);
  });

  it('a resume drops an evaluation record at or after the checkpoint\'s pending step (it is evaluated again)', () => {
    const run = join(dir, 'logs');
    mkdirSync(run);
    const logs = new RunLogs(run);
    for (const step of [10, 20, 30]) logs.appendEvaluation({ step, env: 'e', episodes: 1, seed: 0, headline: 'h', normalized_score: step, normalized_std: 0, mean_return: 0, std_return: 0, conditions: [] });
    new RunLogs(run).truncateAfter(30, 20);
    assert.deepEqual(readFileSync(join(run, 'evaluations.jsonl'), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { step: number }).step), [10]);
  });
});
