/**
 * Ctrl-C during training (issue 21): the first SIGINT writes a checkpoint at the current step and
 * says how to continue; --resume then ends exactly where an uninterrupted run ends. A second
 * signal ends the process at once (the listeners are gone, so the default action applies).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { handleInterrupts } from '../../src/cli/interrupt.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
// through the package entry point, as a user catches the interruption and reads the heartbeat
import { readHeartbeat, RunInterruptedError, resumeRun, startRun } from '../../src/index.js';
import { assertSameRun } from '../reliability/helpers.js';
import { captureIO, smallMazeDataset, tempDir, TINY_DT, tinyConfig } from './fixture.js';

const CLI = 'dist/src/cli/main.js';
const STEPS = 400;
const runFlags = (dataset: string): string[] => ['--algo', 'dt', '--dataset', dataset, '--env', 'maze2d-umaze-v1', '--steps', String(STEPS),
  '--eval-every', '200', '--eval-episodes', '1', '--log-every', '10', '--checkpoint-every', '0',
  ...Object.entries(TINY_DT).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`])];

/** starts `stitch train`, sends SIGINT once its stderr matches `when`; resolves with how it ended (killed after 60 s at most) */
function interruptWhen(args: string[], when: RegExp): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    });
  });
}

describe('interrupting a run', () => {
  let dir: string;
  let dataset: string;
  before(async () => {
    dir = tempDir();
    dataset = await smallMazeDataset(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('SIGINT writes a checkpoint at the current step, prints how to continue, exits 130; --resume ends as an uninterrupted run', async () => {
    const run = join(dir, 'interrupted');
    // the first progress line comes at step 1; with --checkpoint-every 0 no checkpoint exists before the signal
    const ended = await interruptWhen(['train', ...runFlags(dataset), '--out', run], /^step +1\//m);
    assert.equal(ended.code, 130, ended.stderr);
    const checkpoints = listCheckpoints(run);
    assert.equal(checkpoints.length, 1, ended.stderr);
    const at = checkpoints[0]!.step;
    assert.ok(at >= 1 && at < STEPS, `interrupted at step ${at}`);
    assert.match(ended.stderr, /SIGINT: stopping at the current step to write a checkpoint; press Ctrl-C again to stop at once/);
    assert.match(ended.stderr, new RegExp(`^interrupted at step ${at}/${STEPS}; checkpoint checkpoints/step-0*${at}\\.safetensors written; continue with stitch train --resume ${run}$`, 'm'));
    assert.equal(ended.stderr.trim().split('\n').at(-1), `stitch: interrupted at step ${at}/${STEPS}; continue with stitch train --resume ${run}`);
    assert.equal(readHeartbeat(run)?.phase, 'interrupted');

    const resumed = spawn(process.execPath, [CLI, 'train', '--resume', run], { env: { ...process.env, CI: '1' }, stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => resumed.on('exit', (c) => resolve(c)));
    assert.equal(code, 0);
    const reference = join(dir, 'reference');
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Parameters<typeof startRun>[1];
    await startRun(reference, config, captureIO());
    assertSameRun(reference, run);
  });

  it('an interruption during an evaluation checkpoints before it; --resume evaluates that step again', async () => {
    // one environment, several episodes: the evaluation runs long enough to yield to the event loop
    const config = tinyConfig(dataset, 'dt', { steps: 20, evalEvery: 10, checkpointEvery: 0, logEvery: 5, evalEpisodes: 6, evalEnvs: 1 });
    const reference = join(dir, 'eval-reference');
    await startRun(reference, config, captureIO());
    const run = join(dir, 'eval-interrupted');
    const io = captureIO();
    const stream = { write: (text: string) => { io.stream.write(text); return true; } };
    // The run reads `aborted` before every training step and every evaluation step; here it turns
    // true (and stays true) once the heartbeat says an evaluation began. A timer polling the
    // heartbeat instead can miss an evaluation that finishes before it first yields (CI did).
    const signal = new AbortController().signal;
    let seenEvaluation = false;
    Object.defineProperty(signal, 'aborted', {
      get: () => {
        seenEvaluation ||= readHeartbeat(run)?.phase === 'eval';
        return seenEvaluation;
      },
    });
    await assert.rejects(startRun(run, config, { stream, interactive: false }, undefined, { signal }), (error: unknown) => error instanceof RunInterruptedError);
    assert.match(io.text(), /^interrupted at step 10\/20; checkpoint checkpoints\/step-00000010\.safetensors written/m);
    assert.ok(!existsSync(join(run, 'evaluations.jsonl')), 'the interrupted evaluation was not logged');
    await resumeRun(run, captureIO());
    assertSameRun(reference, run);
  });

  it('--keep-best: a run interrupted after its best evaluation and resumed keeps the same best weights as an uninterrupted one', async () => {
    // dense rewards, so each evaluation scores the weights; with seed 1 the best of steps 10-40 is the first
    const config = tinyConfig(dataset, 'dt', { env: 'maze2d-umaze-dense-v1', seed: 1, steps: 40, evalEvery: 10, checkpointEvery: 20, evalEpisodes: 3, keepBest: true });
    const reference = join(dir, 'keep-best-reference');
    const whole = await startRun(reference, config, captureIO());
    assert.equal(whole.best.step, 10);
    const run = join(dir, 'keep-best-interrupted');
    const kept = join(run, 'checkpoints', 'best-policy-00000010.safetensors');
    const signal = new AbortController().signal;
    // turns true once step 10's weights are kept: the run stops there; after the resume, the checkpoints at
    // steps 20 and 40 must keep those weights (a later evaluation is not better) for the end to use
    Object.defineProperty(signal, 'aborted', { get: () => existsSync(kept) });
    await assert.rejects(startRun(run, config, captureIO(), undefined, { signal }), (error: unknown) => error instanceof RunInterruptedError);
    assert.ok(!existsSync(join(run, 'policy-best.safetensors')), 'written when the run ends');
    const resumed = await resumeRun(run, captureIO());
    assert.equal(resumed.bestPolicyPath, join(run, 'policy-best.safetensors'));
    assert.deepEqual(readFileSync(join(run, 'policy-best.safetensors')), readFileSync(join(reference, 'policy-best.safetensors')));
    assertSameRun(reference, run);
    // a finished run resumed, as it is and with more steps (no later evaluation is better here): the file stays
    const best = readFileSync(join(run, 'policy-best.safetensors'));
    assert.equal((await resumeRun(run, captureIO())).bestPolicyPath, join(run, 'policy-best.safetensors'));
    const extended = await resumeRun(run, captureIO(), { steps: 50 });
    assert.equal(extended.best.step, 10);
    assert.equal(extended.bestPolicyPath, join(run, 'policy-best.safetensors'));
    assert.deepEqual(readFileSync(join(run, 'policy-best.safetensors')), best);
  });

  it('a second SIGINT ends the process at once (the default action), whatever it was doing', () => {
    // a process that handles the first signal as stitch train does, then would run for 20 s
    const script = `import { handleInterrupts } from './dist/src/cli/interrupt.js';
      const handle = handleInterrupts(process, (text) => process.stderr.write(text));
      handle.signal.addEventListener('abort', () => setTimeout(() => process.kill(process.pid, 'SIGINT'), 20));
      setTimeout(() => process.kill(process.pid, 'SIGINT'), 20);
      setTimeout(() => process.exit(0), 20000);`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.signal, 'SIGINT', result.stderr);
    assert.match(result.stderr, /SIGINT: stopping at the current step/);
  });

  it('the first signal removes the listeners, so the second one ends the process at once', () => {
    const source = new EventEmitter();
    const notes: string[] = [];
    const handle = handleInterrupts(source as unknown as Parameters<typeof handleInterrupts>[0], (text) => notes.push(text));
    assert.equal(source.listenerCount('SIGINT'), 1);
    assert.equal(source.listenerCount('SIGTERM'), 1);
    assert.equal(handle.signal.aborted, false);
    source.emit('SIGTERM');
    assert.equal(handle.signal.aborted, true);
    assert.equal(handle.received(), 'SIGTERM');
    assert.equal(source.listenerCount('SIGINT') + source.listenerCount('SIGTERM'), 0, 'no listener left: the next signal gets the default action');
    assert.match(notes.join(''), /SIGTERM: stopping at the current step to write a checkpoint; send it again to stop at once/);
  });
});
