/**
 * `stitch --backend webgpu train` as a user runs it (SwiftShader without a GPU): the Decision
 * Transformer trains with its tensors on the device and logs the same losses as the native
 * backend (the same dropout stream; float32 sums in another order); a run killed on webgpu
 * resumes on native; a lost device stops the run with exit 5 and its last checkpoint intact; a
 * missing adapter falls back to the CPU in one line; QT and RVDT train there too and log the
 * native backend's terms.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testWebGpu } from '../engine/webgpu-helpers.js';
import { removedAtExit as temporaryDirectory } from '../helpers/temp.js';

const cli = join(process.cwd(), 'dist/src/cli/main.js');
const dataset = join(process.cwd(), 'test/fixtures/data/maze2d-tiny.hdf5');
const TINY = ['--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'mlpWidth=32', '--set', 'context=4', '--set', 'batchSize=8', '--set', 'warmupSteps=5', '--set', 'targetReturns=[60]'];
/** QT's and RVDT's networks as small as DT's above, one candidate per evaluation step, the EMA actor blended from step 4 */
const CRITIC_TINY = ['--set', 'emaStart=2', '--set', 'emaEvery=2', '--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'mlpWidth=32', '--set', 'context=4', '--set', 'batchSize=8', '--set', 'criticWidth=16', '--set', 'targetReturns=[60]', '--set', 'candidates=1'];
const trainArgs = (out: string, steps: number): string[] => ['train', '--algo', 'dt', '--dataset', dataset, '--env', 'maze2d-umaze-v1', '--steps', String(steps),
  '--eval-every', '0', '--checkpoint-every', '10', '--eval-episodes', '1', '--eval-envs', '1', '--log-every', '10', ...TINY, '--out', out];

// only asked whether there is an adapter: the runs below are child processes with their own device
const { gpu, skip } = await testWebGpu();
gpu?.gpuDevice.destroy();

function stitch(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1', ...env } });
}

function losses(run: string): Map<number, number> {
  const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { step: number; action_loss: number });
  return new Map(records.map((record) => [record.step, record.action_loss]));
}

function records(run: string): Record<string, number>[] {
  return readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
}

function assertCloseLosses(actual: Map<number, number>, expected: Map<number, number>, tolerance: number, label: string): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()], `${label}: the same logged steps`);
  for (const [step, value] of expected) {
    const got = actual.get(step)!;
    assert.ok(Math.abs(got - value) <= tolerance * Math.abs(value), `${label}: step ${step} loss ${got} vs ${value}`);
  }
}

describe('stitch --backend webgpu train', { skip }, () => {
  it('trains DT on the device with the losses of the native backend, and says the adapter is a software one', () => {
    const dir = temporaryDirectory('stitch-webgpu-train-');
    const native = stitch(['--backend', 'native', ...trainArgs(join(dir, 'native'), 30)]);
    assert.equal(native.status, 0, native.stderr);
    const device = stitch(['--backend', 'webgpu', ...trainArgs(join(dir, 'webgpu'), 30)]);
    assert.equal(device.status, 0, device.stderr);
    assert.match(device.stderr, /^stitch: warning: the WebGPU adapter is a software one \(.*\): correct, but slower than the CPU backends$/m);
    // 30 steps with dropout: the same masks; float32 sums in another order move the losses by ~1e-8
    assertCloseLosses(losses(join(dir, 'webgpu')), losses(join(dir, 'native')), 1e-5, 'webgpu vs native');
    assert.ok(existsSync(join(dir, 'webgpu', 'policy.safetensors')) && existsSync(join(dir, 'webgpu', 'report.html')), 'policy and report written');
    const backendOf = (run: string): string => (JSON.parse(readFileSync(join(dir, run, 'provenance.json'), 'utf8')) as { sessions: Array<{ backend: string }> }).sessions[0]!.backend;
    assert.match(backendOf('webgpu'), /^webgpu backend, 1 thread\(s\), google swiftshader/i);
    assert.match(backendOf('native'), /^native backend/);
    // acting is the CPU's: `eval` with the same flag says so and evaluates the policy there
    const evaluated = stitch(['--backend', 'webgpu', 'eval', join(dir, 'webgpu')]);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.match(evaluated.stderr, /^stitch: note: the webgpu backend is for training; this command acts on the CPU backends$/m);
  });

  it('a run killed on webgpu resumes on native and continues (equal within float tolerance)', async () => {
    const dir = temporaryDirectory('stitch-webgpu-kill-');
    const reference = stitch(['--backend', 'native', ...trainArgs(join(dir, 'reference'), 30)]);
    assert.equal(reference.status, 0, reference.stderr);
    const run = join(dir, 'run');
    const child = spawn(process.execPath, [cli, '--backend', 'webgpu', ...trainArgs(run, 30)], { env: { ...process.env, CI: '1' }, stdio: 'ignore' });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const checkpoint = join(run, 'checkpoints', 'step-00000010.safetensors');
    const deadline = Date.now() + 120_000;
    while (!existsSync(checkpoint) && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGKILL');
    assert.equal(await ended, 'SIGKILL', 'killed mid-run, after its first checkpoint');
    const resumed = stitch(['--backend', 'native', 'train', '--resume', run]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .* at step (10|20)\/30/);
    assertCloseLosses(losses(run), losses(join(dir, 'reference')), 1e-5, 'killed on webgpu, resumed on native');
  });

  it('a lost device stops the run with exit 5, one line and the last checkpoint intact; --resume continues it on native', () => {
    const dir = temporaryDirectory('stitch-webgpu-lost-');
    const run = join(dir, 'run');
    // 100 reads: the first 10 steps (one read each) and the step-10 checkpoint's weights and moments pass, the device goes before step 20's checkpoint
    const lost = stitch(['--backend', 'webgpu', ...trainArgs(run, 30)], { STITCH_WEBGPU_LOSE_DEVICE_AFTER_READS: '100' });
    assert.equal(lost.status, 5, lost.stderr);
    const lines = lost.stderr.trim().split('\n');
    assert.match(lines[lines.length - 1] as string, /^stitch: the WebGPU device was lost: simulated by STITCH_WEBGPU_LOSE_DEVICE_AFTER_READS; --resume continues on any backend; the run stopped at step \d+\/30; the last good checkpoint is checkpoints\/step-00000010\.safetensors/);
    const resumed = stitch(['--backend', 'native', 'train', '--resume', run]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.ok(existsSync(join(run, 'policy.safetensors')));
  });

  it('auto never trains on a software adapter: SwiftShader is there, the run trains on the CPU without a word about it', () => {
    const dir = temporaryDirectory('stitch-webgpu-auto-');
    const result = stitch(trainArgs(join(dir, 'run'), 5), { STITCH_BACKEND: 'auto' });
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /^stitch: .*(webgpu|WebGPU)/m);
    const { sessions } = JSON.parse(readFileSync(join(dir, 'run', 'provenance.json'), 'utf8')) as { sessions: Array<{ backend: string }> };
    assert.match(sessions[0]!.backend, /^(native|wasm|js) backend/);
  });

  it('without an adapter, --backend webgpu falls back to the CPU in one line and trains', () => {
    const dir = temporaryDirectory('stitch-webgpu-none-');
    const result = stitch(['--backend', 'webgpu', ...trainArgs(join(dir, 'run'), 10)], { VK_ICD_FILENAMES: join(dir, 'no-such-driver.json') });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^stitch: warning: the webgpu backend is not available \(.+\); using the CPU backends$/m);
  });

  for (const algo of ['qt', 'rvdt']) {
    it(`trains ${algo} on the device (critic, actor, EMA and target updates there) with the logged terms of the native backend`, () => {
      const dir = temporaryDirectory(`stitch-webgpu-${algo}-`);
      const args = (out: string): string[] => ['train', '--algo', algo, '--dataset', dataset, '--env', 'maze2d-umaze-v1', '--steps', '10',
        '--eval-every', '0', '--eval-episodes', '1', '--eval-envs', '1', '--log-every', '5', ...CRITIC_TINY, '--out', out];
      const native = stitch(['--backend', 'native', ...args(join(dir, 'native'))]);
      assert.equal(native.status, 0, native.stderr);
      const device = stitch(['--backend', 'webgpu', ...args(join(dir, 'webgpu'))]);
      assert.equal(device.status, 0, device.stderr);
      const expected = records(join(dir, 'native'));
      const actual = records(join(dir, 'webgpu'));
      assert.deepEqual(actual.map((record) => Object.keys(record)), expected.map((record) => Object.keys(record)), 'the same terms at the same steps');
      expected.forEach((record, i) => {
        for (const [name, value] of Object.entries(record)) {
          if (name === 'time_s' || name === 'steps_per_s') continue;
          const got = actual[i]?.[name] ?? NaN;
          // the same dropout masks and random draws; float32 sums in another order (measured ~1e-7)
          assert.ok(Math.abs(got - value) <= 1e-5 * Math.max(1, Math.abs(value)), `${algo} step ${record.step} ${name}: ${got} vs ${value}`);
        }
      });
    });
  }
});
