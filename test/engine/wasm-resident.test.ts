/**
 * The wasm backend's training variant: every tensor in the module's memory, so no op copies
 * anything in or out. Checked here: the Decision Transformer's PyTorch fixture step on it (the
 * CPU's 1e-4), the copy counter (zero bytes through the ops; the batch goes in once), the pool
 * (no new memory after the first steps), the guard that keeps a NaN step from the weights, a
 * product split over the worker while the calling thread's part grows the memory, and
 * `stitch train` on wasm logging exactly the losses of the copying variant for DT, Reinformer and
 * QT (the same kernels in the same order: bit-identical), with the session's backend recorded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DecisionTransformer, dtLoss } from '../../src/algos/dt.js';
import { createBackend, residentTrainingBackend } from '../../src/engine/backends/index.js';
import { HostTensorBackend } from '../../src/engine/backends/host.js';
import { WasmBackend } from '../../src/engine/backends/wasm.js';
import { WasmResidentBackend } from '../../src/engine/backends/wasm-resident.js';
import { loadWasmBackend } from '../../src/engine/backends/wasm-node.js';
import { JsBackend } from '../../src/engine/backends/js.js';
import { add, mean, Parameter, readStorage, Rng, stageUploads, Tensor, tidy } from '../../src/engine/index.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import { NonFiniteError, settleFiniteChecks, takeDeferredChecks } from '../../src/nn/nonfinite.js';
import { AdamW } from '../../src/nn/optim.js';
import { gradientStep } from '../../src/nn/step.js';
import { assertEachParameter, openDtFixture, relativeError } from '../helpers/fixtures.js';
import { removedAtExit as temporaryDirectory } from '../helpers/temp.js';
import { activeDuringSuite } from './webgpu-helpers.js';

const TOLERANCE = 1e-4;

function residentWasm(): { resident: WasmResidentBackend; wasm: WasmBackend } {
  const host = createBackend('wasm').backend;
  const resident = residentTrainingBackend(host);
  assert.ok(resident instanceof WasmResidentBackend && host instanceof HostTensorBackend && host.kernels instanceof WasmBackend);
  return { resident, wasm: host.kernels };
}

describe('the wasm backend with tensors in the module memory', () => {
  const { resident, wasm } = residentWasm();
  activeDuringSuite(resident);

  it('reproduces the PyTorch DT step with no copy through the ops, and reuses its memory step after step', async () => {
    const file = 'dt_step.safetensors';
    const { config, batch, tensor, prefixed } = openDtFixture(file);
    const A = config.actionDim;
    const model = new DecisionTransformer(config, new Rng(0));
    loadModuleTensors(model, prefixed('param.'), file);
    model.place();
    assert.ok(model.parameters().every((p) => p.onDevice), 'every parameter lives in the module memory');

    const copiedBefore = wasm.copies.bytesIn + wasm.copies.bytesOut;
    const unstage = stageUploads([batch.states, batch.actions, batch.returnsToGo, batch.timesteps, batch.mask]);
    const { loss, actions } = dtLoss(model, batch);
    assert.throws(() => loss.item(), /lives on the wasm device: read it with await tensor.read\(\)/);
    const valid = (i: number): boolean => (batch.mask[Math.floor(i / A)] as number) === 1;
    const actionError = relativeError(await actions.read(), tensor('output.action_preds').data, valid);
    assert.ok(actionError <= TOLERANCE, `action predictions: relative error ${actionError}`);
    const lossError = relativeError([(await loss.read())[0]!], tensor('output.loss').data);
    assert.ok(lossError <= TOLERANCE, `loss: relative error ${lossError}`);

    const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
    optimizer.place();
    optimizer.zeroGrad();
    tidy(() => dtLoss(model, batch).loss.backward());
    await assertEachParameter(model.namedParameters(), (p) => readStorage(p.gradOrZeros(), p.size), { tensor, prefixed }, 'grad.', 'the gradient of', TOLERANCE);
    loadModuleTensors(model, prefixed('param.'), file);
    const result = gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
    await settleFiniteChecks(takeDeferredChecks());
    const normError = relativeError([await result.gradNorm.read()], tensor('output.grad_norm').data);
    assert.ok(normError <= TOLERANCE, `gradient norm: relative error ${normError}`);
    await assertEachParameter(model.namedParameters(), (p) => p.read(), { tensor, prefixed }, 'after_adamw.', 'after one AdamW step:', TOLERANCE);
    assert.equal(wasm.copies.bytesIn + wasm.copies.bytesOut, copiedBefore, 'no op copied an array in or out of the module');

    // more steps: once the first steps have filled the pool (and the ring of 16 recent one-element
    // results), every array comes from it
    for (let i = 0; i < 10; i++) gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
    await settleFiniteChecks(takeDeferredChecks());
    const settled = { ...resident.stats };
    for (let i = 0; i < 5; i++) gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
    await settleFiniteChecks(takeDeferredChecks());
    unstage();
    assert.deepEqual(resident.stats, settled, 'five more steps allocated nothing new from the module');
  });

  it('a NaN loss never reaches the weights: the guard refuses the update, and reading the step throws NonFiniteError', async () => {
    const weight = new Parameter(Float32Array.from([0.5, -0.25]), [2]);
    weight.place();
    const optimizer = new AdamW([weight], { lr: 0.1 });
    optimizer.place();
    const poison = Tensor.borrow(Float32Array.from([Number.NaN, 1]), [2]);
    const result = gradientStep({ optimizer, clipNorm: 1, term: 'action_loss', loss: () => mean(add(weight, poison)) });
    await assert.rejects(settleFiniteChecks(takeDeferredChecks()), (error: unknown) => error instanceof NonFiniteError && /action_loss is NaN/.test(error.message));
    assert.ok(Number.isNaN(await result.loss.read()));
    assert.deepEqual(Array.from(await weight.read()), [0.5, -0.25], 'the weights are unchanged');
    assert.deepEqual(Array.from(await readStorage(optimizer.state[0]!.exp_avg, 2)), [0, 0], 'the moments are unchanged');
  });

  it('arrays keep their values when the memory grows, and a product on them split over a worker is exact', async () => {
    const kernels = loadWasmBackend(2);
    const deadline = Date.now() + 20_000;
    while (kernels.workersStarting() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(kernels.threads(), 2);
    assert.equal(kernels.workersStarting(), 0, 'the worker started');
    const variant = new WasmResidentBackend(kernels, new HostTensorBackend(kernels));
    // large enough to be split (4 MFLOP and more)
    const m = 256, n = 136, k = 120;
    const random = new Rng(3);
    const a = Float32Array.from({ length: m * k }, () => random.normal());
    const b = Float32Array.from({ length: k * n }, () => random.normal());
    const expected = new Float32Array(m * n);
    new JsBackend().gemm(false, false, m, n, k, 1, a, k, b, n, 0, expected, n);
    const sa = variant.upload(a), sb = variant.upload(b), sc = variant.allocate(m * n);
    const before = kernels.memory.byteLength;
    const filler = variant.allocate(Math.ceil((before + 16 * 2 ** 20) / 4));
    assert.ok(kernels.memory.byteLength > before, 'the memory grew');
    assert.deepEqual(await variant.read(sa, m * k), a, 'values allocated before the growth are still there');
    const copied = kernels.copies.bytesIn + kernels.copies.bytesOut;
    variant.gemm(false, false, m, n, k, 1, sa, k, sb, n, 0, sc, n);
    assert.equal(kernels.copies.bytesIn + kernels.copies.bytesOut, copied, 'the calling thread\'s part ran where the arrays are');
    const got = await variant.read(sc, m * n);
    const error = relativeError(got, expected);
    assert.ok(error <= 1e-5, `split product vs the reference: relative error ${error}`);
    variant.release(filler);
    kernels.setThreads(1);
  });
});

const cli = join(process.cwd(), 'dist/src/cli/main.js');
const dataset = join(process.cwd(), 'test/fixtures/data/maze2d-tiny.hdf5');
const TINY = ['--set', 'width=16', '--set', 'layers=1', '--set', 'heads=1', '--set', 'context=4'];
const ALGORITHMS: Record<string, string[]> = {
  dt: [...TINY, '--set', 'batchSize=8', '--set', 'warmupSteps=5', '--set', 'mlpWidth=32', '--set', 'targetReturns=[60]'],
  reinformer: [...TINY, '--set', 'batchSize=4', '--set', 'warmupSteps=5'],
  qt: [...TINY, '--set', 'batchSize=4', '--set', 'mlpWidth=32', '--set', 'criticWidth=16', '--set', 'targetReturns=[60]', '--set', 'candidates=1', '--set', 'emaStart=2', '--set', 'emaEvery=2'],
};

function train(algo: string, out: string, resident: boolean): { status: number | null; stderr: string } {
  return spawnSync(process.execPath, [cli, '--backend', 'wasm', 'train', '--algo', algo, '--dataset', dataset, '--env', 'maze2d-umaze-v1', '--steps', '20',
    '--eval-every', '10', '--eval-episodes', '1', '--eval-envs', '1', '--log-every', '5', ...ALGORITHMS[algo]!, '--out', out], {
    encoding: 'utf8', env: { ...process.env, CI: '1', STITCH_WASM_RESIDENT: resident ? '1' : '0' },
  });
}

describe('stitch --backend wasm train', () => {
  for (const algo of Object.keys(ALGORITHMS)) {
    it(`${algo}: the module-memory run logs exactly the copying run's values and evaluations`, () => {
      const dir = temporaryDirectory(`stitch-wasm-resident-${algo}-`);
      const copying = train(algo, join(dir, 'copying'), false);
      assert.equal(copying.status, 0, copying.stderr);
      const residentRun = train(algo, join(dir, 'resident'), true);
      assert.equal(residentRun.status, 0, residentRun.stderr);
      const logged = (run: string): unknown[] => readFileSync(join(dir, run, 'metrics.jsonl'), 'utf8').trim().split('\n')
        .map((line) => JSON.parse(line) as Record<string, number>)
        .map(({ time_s: _time, steps_per_s: _speed, ...values }) => values);
      const residentValues = logged('resident');
      assert.equal(residentValues.length, 4);
      assert.deepEqual(residentValues, logged('copying'));
      const evaluations = (run: string): unknown => JSON.parse(readFileSync(join(dir, run, 'eval.json'), 'utf8')).last;
      assert.deepEqual(evaluations('resident'), evaluations('copying'));
      const backendOf = (run: string): string => (JSON.parse(readFileSync(join(dir, run, 'provenance.json'), 'utf8')) as { sessions: Array<{ backend: string }> }).sessions[0]!.backend;
      assert.match(backendOf('resident'), /^wasm backend, \d thread\(s\), wasm32 SIMD128 kernels( \(relaxed SIMD: fused multiply-add\))?, tensors in the module's memory while training/);
      assert.doesNotMatch(backendOf('copying'), /module's memory/);
    });
  }
});
