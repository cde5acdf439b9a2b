/**
 * Exact resume after a crash: `stitch train` is killed with SIGKILL at seeded random moments
 * (each after at least one new checkpoint), `--resume`d each time, and must end with the same
 * policy file, checkpoint tensors, metrics (bar the wall-clock fields), evaluations and eval.json
 * as an uninterrupted run of the same config. Every registered algorithm, with its tiny config.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { algorithmNames } from '../../src/algos/registry.js';
import { Rng } from '../../src/engine/rng.js';
import { listCheckpoints, readCheckpoint } from '../../src/train/checkpoint.js';
import { startRun } from '../../src/train/trainer.js';
import { captureIO, ENV, smallMazeDataset, tempDir, TINY_CONFIGS, tinyConfig } from './fixture.js';

const CLI = 'dist/src/cli/main.js';
const KILLS = 3;
const STEPS = 40;
/**
 * a run's flags (the reference's tinyConfig fields, as CLI flags): frequent checkpoints, so kills
 * land between them; an evaluation inside the run, so last/best go through a checkpoint
 */
function runFlags(algo: string, dataset: string): string[] {
  const tiny = Object.entries(TINY_CONFIGS[algo] ?? {}).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);
  return ['--algo', algo, '--dataset', dataset, '--env', ENV, '--steps', String(STEPS), '--seed', '7', '--eval-every', '20',
    '--eval-episodes', '1', '--eval-envs', '1', '--log-every', '4', '--checkpoint-every', '5', ...tiny];
}

const env = { ...process.env, CI: '1' };

function withoutClock(path: string): unknown[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => {
    const { time_s: _time, steps_per_s: _rate, ...rest } = JSON.parse(line) as Record<string, number>;
    return rest;
  });
}

const newestStep = (runDir: string): number => listCheckpoints(runDir)[0]?.step ?? 0;

/**
 * Starts `stitch train ARGS`, waits until a checkpoint newer than `afterStep` exists, then a
 * random few milliseconds more, and sends SIGKILL. Resolves with how the process ended (it may
 * have finished first, which the caller counts).
 */
async function killAfterCheckpoint(args: string[], runDir: string, afterStep: number, delayMs: number): Promise<'killed' | 'finished'> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let running = true;
  void exited.then(() => { running = false; });
  while (running && newestStep(runDir) <= afterStep) await sleep(5);
  if (running) {
    await sleep(delayMs);
    child.kill('SIGKILL');
  }
  const { code, signal } = await exited;
  if (signal === 'SIGKILL') return 'killed';
  assert.equal(code, 0, `the run failed: ${stderr}`);
  return 'finished';
}

describe('SIGKILL at random moments, then --resume, ends bit-identical to an uninterrupted run', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
  });

  for (const [index, algo] of algorithmNames().entries()) {
    it(algo, async () => {
      // the reference runs in this process (same code, backend and thread count as the CLI), saving a process start
      const reference = join(dir, `${algo}-reference`);
      await startRun(reference, tinyConfig(dataset, algo, { steps: STEPS, seed: 7, evalEvery: 20, evalEpisodes: 1, evalEnvs: 1, logEvery: 4, checkpointEvery: 5 }), captureIO());

      const crashed = join(dir, `${algo}-crashed`);
      const rng = new Rng(1000 + index);
      let kills = 0;
      let outcome = await killAfterCheckpoint(['train', ...runFlags(algo, dataset), '--out', crashed], crashed, 0, rng.int(40));
      while (outcome === 'killed') {
        kills += 1;
        assert.ok(kills <= 20, 'the run never finishes');
        // a later kill always waits for a checkpoint beyond the one this resume starts from
        const from = newestStep(crashed);
        outcome = kills < KILLS
          ? await killAfterCheckpoint(['train', '--resume', crashed], crashed, from, rng.int(40))
          : (spawnSync(process.execPath, [CLI, 'train', '--resume', crashed], { env }).status === 0 ? 'finished' : 'killed');
      }
      assert.ok(kills >= 1, 'no kill landed inside the run');

      for (const name of ['metrics.jsonl', 'evaluations.jsonl']) {
        assert.deepEqual(withoutClock(join(crashed, name)), withoutClock(join(reference, name)), `${name} after ${kills} kills`);
      }
      assert.deepEqual(readFileSync(join(crashed, 'policy.safetensors')), readFileSync(join(reference, 'policy.safetensors')), 'policy file bytes');
      const final = readCheckpoint(join(reference, 'checkpoints', `step-${String(STEPS).padStart(8, '0')}.safetensors`));
      const resumedFinal = readCheckpoint(join(crashed, 'checkpoints', `step-${String(STEPS).padStart(8, '0')}.safetensors`));
      assert.deepEqual(resumedFinal.tensors, final.tensors, 'weights, target networks, EMA actor and optimiser moments');
      const { elapsedSeconds: _a, ...resumedState } = resumedFinal.state;
      const { elapsedSeconds: _b, ...referenceState } = final.state;
      assert.deepEqual(resumedState, referenceState, 'RNG, sampler, optimiser counters, extra state (temperature), evaluations');
      const report = (runDir: string): unknown => JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8'));
      assert.deepEqual(report(crashed), report(reference));
      assert.ok(!existsSync(join(crashed, 'checkpoints', `step-${String(STEPS - 15).padStart(8, '0')}.safetensors`)), 'only the newest two checkpoints are kept');
    });
  }
});
