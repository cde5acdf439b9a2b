/**
 * The model-level checks on the WebAssembly backend: the finite-difference gradient checks and the
 * PyTorch parity fixtures (DT and Reinformer) rerun with STITCH_BACKEND=wasm, same-seed determinism
 * over 100 training steps, and the README's main job with the native addon unavailable, which
 * `auto` must then run on wasm.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dtLoss } from '../../src/algos/dt.js';
import { backend, setBackend } from '../../src/engine/backends/index.js';
import { loadWasmBackend } from '../../src/engine/backends/wasm-node.js';
import { AdamW, linearWarmup } from '../../src/nn/optim.js';
import { gradientStep } from '../../src/nn/step.js';
import { newDt, randomBatch, smallDtConfig } from '../helpers/dt.js';

/** the environment of a child process, without the test runner's marker that would make a child `node --test` report to us */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

const distTest = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(distTest, '..', 'src', 'cli', 'main.js');

describe('model-level checks on the wasm backend', () => {
  // (nn/module-gradients runs in float64 only, on the reference kernels: nothing to rerun there)
  const suites = ['engine/ops-gradients.test.js', 'nn/torch-parity.test.js', 'algos/reinformer.test.js'];
  for (const suite of suites) {
    it(`${suite} passes with STITCH_BACKEND=wasm`, () => {
      const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', join(distTest, suite)], {
        encoding: 'utf8', env: childEnv({ STITCH_BACKEND: 'wasm' }),
      });
      assert.equal(result.status, 0, `${suite} failed on wasm:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-2000)}`);
      assert.match(result.stdout, /ℹ pass [1-9]/);
      assert.match(result.stdout, /ℹ fail 0/);
      if (suite.includes('gradients') || suite.includes('parity')) assert.match(result.stdout, /on wasm backend/);
    });
  }

  it('is deterministic: the same seed gives bit-identical losses and weights over 100 steps (2 threads)', () => {
    const previous = backend();
    setBackend(loadWasmBackend(2));
    try {
      const config = smallDtConfig();
      const run = (): { losses: number[]; weights: Float32Array[] } => {
        const { model, rng } = newDt(config, 11);
        const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
        const losses: number[] = [];
        for (let step = 0; step < 100; step++) {
          const batch = randomBatch(config, 4, rng);
          losses.push(gradientStep({ optimizer, clipNorm: 0.25, schedule: linearWarmup(10), loss: () => dtLoss(model, batch).loss }).loss.now);
        }
        return { losses, weights: model.parameters().map((p) => Float32Array.from(p.data)) };
      };
      const first = run();
      const second = run();
      assert.deepEqual(second.losses, first.losses);
      assert.deepEqual(second.weights, first.weights);
      assert.ok((first.losses[99] as number) < (first.losses[0] as number), 'training should reduce the loss');
    } finally {
      setBackend(previous);
    }
  });

  it("runs the README's main job on wasm when the native addon is unavailable (a few steps)", () => {
    const env = childEnv({ STITCH_NATIVE_ADDON: '/nonexistent/stitch_native.node', STITCH_BACKEND: 'auto', CI: '1' });
    const info = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env });
    assert.match(info.stdout, /^stitch: wasm backend, .*\(native unavailable: /);
    const dir = mkdtempSync(join(tmpdir(), 'stitch-wasm-job-'));
    try {
      const out = join(dir, 'run');
      const args = ['train', '--steps', '4', '--eval-every', '0', '--eval-episodes', '1', '--eval-envs', '1', '--checkpoint-every', '0', '--out', out];
      const train = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
      assert.equal(train.status, 0, `train failed:\n${train.stderr.slice(-3000)}`);
      assert.match(train.stderr, /note: the embedded default is sized for the native backend .*; on the wasm backend it takes about/);
      const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
      // the main job is QT (docs/results.md): its critic and actor losses
      const last = JSON.parse(metrics[metrics.length - 1] as string) as { step?: number; critic_loss?: number; actor_loss?: number };
      assert.equal(last.step, 4);
      assert.ok(Number.isFinite(last.critic_loss) && Number.isFinite(last.actor_loss), `finite losses in ${metrics[metrics.length - 1]}`);
      const session = (JSON.parse(readFileSync(join(out, 'provenance.json'), 'utf8')) as { sessions: Array<{ backend: string }> }).sessions[0]!;
      assert.match(session.backend, /^wasm backend, .*tensors in the module's memory while training \(native unavailable: /, 'trained with its tensors in the module memory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
