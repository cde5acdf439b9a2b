/**
 * The run directory under stress (issues 15 and 21): one writer at a time, checkpoints that only
 * continue the run that wrote them, a torn metrics.csv header, runs stopped before their first
 * checkpoint, a raised step budget, a heartbeat and a provenance record.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { CheckpointError } from '../../src/train/checkpoint.js';
import { RunLockedError } from '../../src/train/lock.js';
import { HeartbeatSchema, isHeartbeatStale, readHeartbeat } from '../../src/train/run-files.js';
import { scheduleWarnings } from '../../src/train/schedules.js';
import { resumeRun, startRun } from '../../src/train/trainer.js';
import { assertSameRun } from '../reliability/helpers.js';
import { captureIO, smallMazeDataset, tempDir, TINY_DT, tinyConfig } from './fixture.js';

const CLI = 'dist/src/cli/main.js';
const tinyDtFlags = Object.entries(TINY_DT).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);

function stitch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 120_000 });
}

/** a process that stays alive until killed: a live pid for a lock file */
function sleeper(): { pid: number; stop: () => void } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  return { pid: child.pid as number, stop: () => child.kill('SIGKILL') };
}

describe('the run directory', () => {
  let dir: string;
  let dataset: string;
  /** a finished 20-step run with checkpoints at 10 and 20 */
  let finished: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
    finished = join(dir, 'finished');
    await startRun(finished, tinyConfig(dataset, 'dt', { steps: 20, evalEvery: 10, checkpointEvery: 10, logEvery: 5, evalEpisodes: 1 }), captureIO());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a second writer is refused while the first holds the lock; a lock whose process is gone is taken over', async () => {
    const run = join(dir, 'locked');
    cpSync(finished, run, { recursive: true });
    const live = sleeper();
    try {
      writeFileSync(join(run, '.lock'), JSON.stringify({ pid: live.pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
      const before = readFileSync(join(run, 'metrics.jsonl'), 'utf8');
      const refused = stitch('train', '--resume', run);
      assert.equal(refused.status, 2, refused.stderr);
      assert.equal(refused.stderr.trim(), `stitch: ${run} is being written by process ${live.pid} since 2026-01-01T00:00:00.000Z; wait for it to finish or stop it first`);
      assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), before, 'the refused writer touched nothing');
      await assert.rejects(resumeRun(run, captureIO()), RunLockedError);
    } finally {
      live.stop();
    }
    // the holder is gone (a crash): the next writer takes the lock over and releases it at the end
    await new Promise((resolve) => setTimeout(resolve, 200));
    const io = captureIO();
    await resumeRun(run, io);
    assert.match(io.text(), new RegExp(`took over the lock of process ${live.pid}, which is gone`));
    assert.ok(!existsSync(join(run, '.lock')), 'released when the run ends');
  });

  it('two runs at once in one directory: the second is refused, the first finishes alone', async () => {
    const run = join(dir, 'concurrent');
    const config = tinyConfig(dataset, 'dt', { steps: 300, evalEvery: 100, checkpointEvery: 100, logEvery: 50, evalEpisodes: 1 });
    const first = startRun(run, config, captureIO());
    // config.json is written once the lock is held
    while (!existsSync(join(run, 'config.json'))) await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(resumeRun(run, captureIO()), /is being written by this process/);
    await first;
    // before the lock, both wrote: evaluations at steps 100, 100, 200, 200
    const evaluations = readFileSync(join(run, 'evaluations.jsonl'), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { step: number }).step);
    assert.deepEqual(evaluations, [100, 200, 300]);
    assert.ok(!existsSync(join(run, '.lock')));
  });

  it('a checkpoint from a run with another config is refused, naming the fields that differ', async () => {
    const other = join(dir, 'other-seed');
    await startRun(other, tinyConfig(dataset, 'dt', { steps: 20, evalEvery: 10, checkpointEvery: 10, logEvery: 5, evalEpisodes: 1, seed: 1, overrides: { ...TINY_DT, lr: 3e-4 } }), captureIO());
    const run = join(dir, 'foreign-checkpoint');
    cpSync(finished, run, { recursive: true });
    rmSync(join(run, 'checkpoints'), { recursive: true });
    cpSync(join(other, 'checkpoints'), join(run, 'checkpoints'), { recursive: true });
    await assert.rejects(resumeRun(run, captureIO()), (error: unknown) => error instanceof CheckpointError
      && /written under another config \(algorithm\.lr: 0\.0003 in the checkpoint, 0\.0008 in the run; seed: 1 in the checkpoint, 0 in the run\)/.test(error.message));
    const cli = stitch('train', '--resume', run);
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /^stitch: .*written under another config/m);
  });

  it('a metrics.csv header torn by a crash is rewritten on resume', async () => {
    const run = join(dir, 'torn-header');
    cpSync(finished, run, { recursive: true });
    // power lost during the first write: the header is cut short; later rows followed it
    const csv = readFileSync(join(run, 'metrics.csv'), 'utf8').split('\n');
    writeFileSync(join(run, 'metrics.csv'), ['step,time_s,act', ...csv.slice(1)].join('\n'));
    for (const entry of listCheckpoints(run)) if (entry.step > 10) rmSync(entry.path);
    await resumeRun(run, captureIO());
    assertSameRun(finished, run);
    const rows = readFileSync(join(run, 'metrics.csv'), 'utf8').trim().split('\n');
    assert.equal(rows[0], 'step,time_s,action_loss,grad_norm,lr,steps_per_s');
    for (const row of rows.slice(1)) assert.ok(row.split(',').every((cell) => cell !== '' && Number.isFinite(Number(cell))), row);
  });

  it('a run stopped before its first checkpoint: --resume starts it again from step 0, --overwrite replaces it', () => {
    const run = join(dir, 'no-checkpoint');
    mkdirSync(run);
    cpSync(join(finished, 'config.json'), join(run, 'config.json'));
    // what a kill before the first checkpoint leaves: the config, some log lines, a lock of a dead process
    writeFileSync(join(run, 'metrics.jsonl'), `${readFileSync(join(finished, 'metrics.jsonl'), 'utf8').split('\n')[0]}\n{"step": 1`);
    writeFileSync(join(run, '.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname(), startedAt: 'x' }));
    const out = stitch('train', '--out', run, '--algo', 'dt', '--dataset', dataset);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /already exists and is not empty; continue it with --resume .*, replace it with --overwrite/);
    const resumed = stitch('train', '--resume', run);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /has no checkpoint \(it stopped before its first\); starting it again from step 0 with its saved config/);
    assertSameRun(finished, run);

    const overwritten = stitch('train', '--algo', 'dt', '--dataset', dataset, '--steps', '8', '--eval-episodes', '1', ...tinyDtFlags, '--out', run, '--overwrite');
    assert.equal(overwritten.status, 0, overwritten.stderr);
    assert.equal((JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { steps: number }).steps, 8);
    assert.deepEqual(listCheckpoints(run).map((entry) => entry.step), [8, 7], 'no checkpoint of the previous run (10, 20) is left');

    const notARun = join(dir, 'not-a-run');
    mkdirSync(notARun);
    writeFileSync(join(notARun, 'notes.txt'), 'keep me');
    const refused = stitch('train', '--algo', 'dt', '--dataset', dataset, '--out', notARun, '--overwrite');
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /is not a Stitch run directory \(no config\.json\); --overwrite only replaces runs/);
    assert.equal(readFileSync(join(notARun, 'notes.txt'), 'utf8'), 'keep me');
  });

  it('--resume --steps raises the budget and continues the trajectory of a run started with it', async () => {
    const longer = join(dir, 'longer');
    await startRun(longer, tinyConfig(dataset, 'dt', { steps: 40, evalEvery: 10, checkpointEvery: 10, logEvery: 5, evalEpisodes: 1 }), captureIO());
    const extended = join(dir, 'extended');
    cpSync(finished, extended, { recursive: true });
    const result = stitch('train', '--resume', extended, '--steps', '40');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /steps: 20 -> 40 \(saved in config\.json\)/);
    assert.match(result.stderr, /resuming .* at step 20\/40/);
    assertSameRun(longer, extended);
    const config = JSON.parse(readFileSync(join(extended, 'config.json'), 'utf8')) as { steps: number; algorithm: { steps: number } };
    assert.deepEqual([config.steps, config.algorithm.steps], [40, 40]);
  });

  it('heartbeat.json and provenance.json record where the run stands and what wrote it', () => {
    const heartbeat = readHeartbeat(finished);
    assert.ok(heartbeat !== null);
    assert.ok(HeartbeatSchema.safeParse(JSON.parse(readFileSync(join(finished, 'heartbeat.json'), 'utf8'))).success);
    assert.deepEqual({ phase: heartbeat.phase, step: heartbeat.step, steps: heartbeat.steps, pid: heartbeat.pid, evaluation: heartbeat.evaluation }, { phase: 'finished', step: 20, steps: 20, pid: process.pid, evaluation: null });
    assert.ok(Date.now() - Date.parse(heartbeat.updatedAt) < 600_000);
    assert.equal(isHeartbeatStale(heartbeat), false, 'a finished run is never stale');
    const active = { ...heartbeat, phase: 'train' as const };
    assert.equal(isHeartbeatStale(active), false, 'fresh, and its process (this one) is alive');
    assert.equal(isHeartbeatStale(active, Date.parse(heartbeat.updatedAt) + 31_000), true, 'older than 30 s');
    assert.equal(isHeartbeatStale({ ...active, pid: 2 ** 22 + 12345 }), true, 'its process is gone on this host');

    const run = join(dir, 'provenance');
    const result = stitch('train', '--algo', 'dt', '--dataset', dataset, '--steps', '4', '--eval-episodes', '1', ...tinyDtFlags, '--out', run);
    assert.equal(result.status, 0, result.stderr);
    // the evaluation inside training shows its progress (issue 21 item 2)
    assert.match(result.stderr, /^eval step 4: 2\/2 episodes {2}target 20: mean return -?\d+\.\d\d so far {2}ETA \d+s$/m);
    // the tiny config's 10-step warm-up does not fit 4 steps: said at the start (issue 21 item 4)
    assert.match(result.stderr, /^warning: warmupSteps 10 > steps 4: the learning rate never leaves warm-up \(it reaches 40% of lr\); try --set warmupSteps=1$/m);
    const { sessions } = JSON.parse(readFileSync(join(run, 'provenance.json'), 'utf8')) as { sessions: Array<{ kind: string; stitchVersion: string; gitCommit: string | null; commandLine: string[]; backend: string }> };
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.kind, 'start');
    assert.equal(sessions[0]!.stitchVersion, version);
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' });
    if (head.status === 0) assert.equal(sessions[0]!.gitCommit, head.stdout.trim());
    assert.deepEqual(sessions[0]!.commandLine.slice(0, 4), ['stitch', 'train', '--algo', 'dt']);
    // which backend trained the session (auto: a CPU backend here; a software WebGPU adapter is never chosen)
    assert.match(sessions[0]!.backend, /^(native|wasm|js) backend, \d+ thread\(s\)/);
  });

  it('stitch eval shows its progress on stderr and keeps stdout one JSON object', () => {
    const result = stitch('eval', finished, '--episodes', '3', '--json');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^eval: 6\/6 episodes {2}target 20: mean return -?\d+\.\d\d so far {2}ETA \d+s$/m);
    assert.doesNotThrow(() => JSON.parse(result.stdout));
  });
});

describe('datasets and schedules that do not fit', () => {
  it('warns when warm-up, cosine decay or the EMA start do not fit the step budget', () => {
    assert.deepEqual(scheduleWarnings({ warmupSteps: 100 }, 1000), []);
    assert.match(scheduleWarnings({ warmupSteps: 10_000 }, 2000)[0]!, /^warmupSteps 10000 > steps 2000: the learning rate never leaves warm-up \(it reaches 20% of lr\); try --set warmupSteps=200$/);
    const rvdt = scheduleWarnings({ iterations: 100, stepsPerIteration: 1000, lrDecay: true, emaStart: 1000 }, 500);
    assert.equal(rvdt.length, 2);
    assert.match(rvdt[0]!, /spans iterations 100 × stepsPerIteration 1000 = 100000 steps, but the run has 500: the run stops at 100% of lr; try --set stepsPerIteration=5$/);
    assert.match(rvdt[1]!, /^emaStart 1000 >= steps 500: the EMA copy of the actor is never updated/);
    assert.match(scheduleWarnings({ iterations: 2, stepsPerIteration: 10, lrDecay: true }, 40)[0]!, /beyond step 20 the learning rate rises again/);
    assert.deepEqual(scheduleWarnings({ iterations: 2, stepsPerIteration: 10, lrDecay: false }, 40), []);
  });

  it('a constant observation dimension is said at the start of training', async () => {
    const dir = tempDir();
    try {
      const { writeD4rlHdf5 } = await import('../../src/data/hdf5.js');
      const { generateMazeDataset } = await import('../../src/envs/maze2d/generate.js');
      const { mazeLayout } = await import('../../src/envs/maze2d/layouts.js');
      const data = await generateMazeDataset({ datasetId: 'maze2d-umaze-v1', layout: mazeLayout('umaze'), maxEpisodeSteps: 300, rewardType: 'sparse', steps: 2000, seed: 5 });
      for (let i = 0; i < data.rewards.length; i++) data.observations[i * data.obsDim + 3] = 0.5;
      const path = join(dir, 'constant.hdf5');
      await writeD4rlHdf5(path, data, { compression: 'none' });
      const io = captureIO();
      await startRun(join(dir, 'run'), tinyConfig(path, 'dt', { steps: 2, evalEvery: 0, evalEpisodes: 1, checkpointEvery: 0, logEvery: 1 }), io);
      assert.match(io.text(), /^data: observation dimension\(s\) 3 are constant in the dataset \(std 0, normalized with std 0\.000001\)/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a dataset that loses most of its rows is refused (exit 2, nothing created) unless --allow-data-loss', async () => {
    const dir = tempDir();
    try {
      const { writeD4rlHdf5 } = await import('../../src/data/hdf5.js');
      const { generateMazeDataset } = await import('../../src/envs/maze2d/generate.js');
      const { mazeLayout } = await import('../../src/envs/maze2d/layouts.js');
      const data = await generateMazeDataset({ datasetId: 'maze2d-umaze-v1', layout: mazeLayout('umaze'), maxEpisodeSteps: 300, rewardType: 'sparse', steps: 5000, seed: 5 });
      // every episode boundary after row 1500 removed: the rows after the last boundary are dropped
      let lastKept = 0;
      for (let i = 0; i < data.rewards.length; i++) {
        if (i < 1500) {
          if (data.terminals[i] === 1 || data.timeouts[i] === 1) lastKept = i + 1;
        } else {
          data.terminals[i] = 0;
          data.timeouts[i] = 0;
        }
      }
      const path = join(dir, 'lossy.hdf5');
      await writeD4rlHdf5(path, data, { compression: 'none' });
      const out = join(dir, 'run');
      const refused = stitch('train', '--algo', 'dt', '--dataset', path, '--steps', '4', '--eval-episodes', '1', ...tinyDtFlags, '--out', out);
      assert.equal(refused.status, 2, refused.stderr);
      const last = refused.stderr.trim().split('\n').at(-1)!;
      assert.equal(last, `stitch: ${path}: training would use only ${lastKept} of 5000 rows in ${last.match(/in (\d+) episodes/)![1]} episodes (${((100 * lastKept) / 5000).toFixed(1)}%); the rest is dropped by the findings above. Fix the dataset (stitch data check), or pass --allow-data-loss to train on what is kept`);
      assert.match(refused.stderr, /^data: warning: .*\(trailing-transitions\)$/m, 'the data findings are printed first');
      assert.ok(!existsSync(out), 'nothing created');
      const allowed = stitch('train', '--algo', 'dt', '--dataset', path, '--steps', '4', '--eval-episodes', '1', ...tinyDtFlags, '--out', out, '--allow-data-loss');
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.match(allowed.stderr, /^warning: .*training would use only \d+ of 5000 rows .* \(--allow-data-loss\)$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
