/**
 * Training on the webgpu backend (SwiftShader without a GPU): tensors live on the device, the tape,
 * AdamW, clipping and the non-finite guard run there, and values come back only through reads.
 * The Decision Transformer's PyTorch fixture (the same one test/nn/torch-parity.test.ts checks on
 * the CPU) is reproduced: predictions, loss, every gradient, the gradient norm and the weights
 * after one clipped AdamW step.
 *
 * Tolerance: relative error 1e-4 of each tensor's scale, the bound the CPU backends meet. WGSL has
 * no float64, so every reduction (LayerNorm statistics, softmax sums, the gradient norm, the loss)
 * sums in float32 trees where the CPU kernels sum in float64; measured on SwiftShader: predictions
 * 2.2e-7, loss 1e-7, gradients 6.2e-7, weights after the step 4.4e-6 (the step divides by
 * sqrt(v) + eps with v tiny, which magnifies the gradients' rounding). A GPU that sums in another
 * order lands elsewhere inside the same bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecisionTransformer, dtLoss } from '../../src/algos/dt.js';
import { Parameter, readStorage, Rng, stageUploads, tidy } from '../../src/engine/index.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import { settleFiniteChecks, takeDeferredChecks, NonFiniteError } from '../../src/nn/nonfinite.js';
import { AdamW } from '../../src/nn/optim.js';
import { gradientStep } from '../../src/nn/step.js';
import { add, mean, Tensor } from '../../src/engine/index.js';
import { assertEachParameter, openDtFixture, relativeError } from '../helpers/fixtures.js';
import { activeDuringSuite, testWebGpu } from './webgpu-helpers.js';

const TOLERANCE = 1e-4;

const { gpu, skip } = await testWebGpu();

describe('training on the webgpu backend', { skip }, () => {
  activeDuringSuite(gpu!);

  for (const file of ['dt_step.safetensors', 'dt_step_relu.safetensors']) {
    it(`reproduces the PyTorch DT step of ${file}: predictions, loss, gradients, norm, clipped AdamW`, async () => {
      const { config, batch, tensor, prefixed } = openDtFixture(file);
      const A = config.actionDim;
      const model = new DecisionTransformer(config, new Rng(0));
      loadModuleTensors(model, prefixed('param.'), file);
      model.place();
      assert.ok(model.parameters().every((p) => p.onDevice), 'every parameter lives on the device');
      const mask = batch.mask;

      // forward, outside tidy so the outputs survive until they are read
      const runtime = gpu!.runtime;
      const uploadsBefore = runtime.stats.uploads;
      const unstage = stageUploads([batch.states, batch.actions, batch.returnsToGo, batch.timesteps, batch.mask]);
      const { loss, actions } = dtLoss(model, batch);
      assert.equal(runtime.stats.uploads - uploadsBefore, 1, 'the batch went up in one upload; the forward pass uploads nothing more');
      assert.throws(() => loss.item(), /lives on the webgpu device: read it with await tensor.read\(\)/);
      const valid = (i: number): boolean => (mask[Math.floor(i / A)] as number) === 1;
      const actionError = relativeError(await actions.read(), tensor('output.action_preds').data, valid);
      assert.ok(actionError <= TOLERANCE, `action predictions: relative error ${actionError}`);
      const lossValue = (await loss.read())[0] as number;
      const lossError = relativeError([lossValue], tensor('output.loss').data);
      assert.ok(lossError <= TOLERANCE, `loss ${lossValue} vs ${tensor('output.loss').data[0]}: relative error ${lossError}`);

      const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
      optimizer.zeroGrad();
      tidy(() => dtLoss(model, batch).loss.backward());
      await assertEachParameter(model.namedParameters(), (p) => readStorage(p.gradOrZeros(), p.size), { tensor, prefixed }, 'grad.', 'the gradient of', TOLERANCE);

      loadModuleTensors(model, prefixed('param.'), file);
      const result = gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
      unstage();
      assert.equal(result.gradNorm.known, undefined, 'the norm stays on the device until read');
      const checks = takeDeferredChecks();
      assert.deepEqual(checks.map((check) => check.kind), ['loss', 'gradient', 'weights']);
      await settleFiniteChecks(checks);
      const normError = relativeError([await result.gradNorm.read()], tensor('output.grad_norm').data);
      assert.ok(normError <= TOLERANCE, `gradient norm: relative error ${normError}`);
      await assertEachParameter(model.namedParameters(), (p) => p.read(), { tensor, prefixed }, 'after_adamw.', 'after one AdamW step:', TOLERANCE);
    });
  }

  it('a NaN loss never reaches the weights: the guard refuses the update on the device, and reading the step throws NonFiniteError', async () => {
    const weight = new Parameter(Float32Array.from([0.5, -0.25]), [2]);
    weight.place();
    const optimizer = new AdamW([weight], { lr: 0.1 });
    const poison = Tensor.borrow(Float32Array.from([Number.NaN, 1]), [2]);
    const result = gradientStep({ optimizer, clipNorm: 1, term: 'action_loss', loss: () => mean(add(weight, poison)) });
    const checks = takeDeferredChecks();
    await assert.rejects(settleFiniteChecks(checks), (error: unknown) => error instanceof NonFiniteError && error.term === 'action_loss' && /action_loss is NaN/.test(error.message));
    assert.ok(Number.isNaN(await result.loss.read()));
    assert.deepEqual(Array.from(await weight.read()), [0.5, -0.25], 'the weights are unchanged');
    assert.deepEqual(Array.from(await readStorage(optimizer.state[0]!.exp_avg, 2)), [0, 0], 'the moments are unchanged');
  });
});
