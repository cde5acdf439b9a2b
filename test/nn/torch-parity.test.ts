/**
 * Parity with PyTorch 1.13 (fixtures from scripts/make_torch_fixtures.py): the Decision
 * Transformer's predictions, loss, every gradient and the weights after clipping and one AdamW
 * step, from the same weights and inputs, to relative error 1e-4. Dropout is off in the fixture.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecisionTransformer, dtLoss } from '../../src/algos/dt.js';
import { describeBackend, Rng, tidy } from '../../src/engine/index.js';
import { loadModuleTensors } from '../../src/nn/checkpoint.js';
import { AdamW } from '../../src/nn/optim.js';
import { gradientStep } from '../../src/nn/step.js';
import { hostArray } from '../../src/engine/tensor.js';
import { openDtFixture, relativeError } from '../helpers/fixtures.js';

for (const file of ['dt_step.safetensors', 'dt_step_relu.safetensors']) {
  describe(`PyTorch parity: ${file} on ${describeBackend().split(',')[0]}`, () => {
    const { config, batch, tensor, prefixed } = openDtFixture(file);
    const B = batch.batchSize;
    const K = config.context;
    const A = config.actionDim;
    const model = new DecisionTransformer(config, new Rng(0));
    loadModuleTensors(model, prefixed('param.'), file);
    const mask = batch.mask;
    const names = model.namedParameters().map(([n]) => n);

    it('predicts the same actions at every unpadded position and the same loss', () => {
      tidy(() => {
        const { loss, actions } = dtLoss(model, batch);
        const valid = (i: number): boolean => (mask[Math.floor(i / A)] as number) === 1;
        const actionError = relativeError(actions.data, tensor('output.action_preds').data, valid);
        assert.ok(actionError <= 1e-4, `action predictions: relative error ${actionError}`);
        const lossError = relativeError([loss.item()], tensor('output.loss').data);
        assert.ok(lossError <= 1e-4, `loss ${loss.item()} vs ${tensor('output.loss').data[0]}: relative error ${lossError}`);
      });
      assert.ok(mask.includes(0), 'the fixture exercises padding');
      assert.equal(K * B, mask.length);
    });

    it('computes every gradient and the clipped AdamW step as PyTorch does', () => {
      const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 1e-4 });
      // capture gradients between backward and the update by running the step's parts by hand
      optimizer.zeroGrad();
      tidy(() => dtLoss(model, batch).loss.backward());
      for (const [name, p] of model.namedParameters()) {
        const error = relativeError(hostArray(p.gradOrZeros()), tensor(`grad.${name}`).data);
        assert.ok(error <= 1e-4, `gradient of ${name}: relative error ${error}`);
      }
      loadModuleTensors(model, prefixed('param.'), file);
      const result = gradientStep({ optimizer, clipNorm: 0.25, loss: () => dtLoss(model, batch).loss });
      const normError = relativeError([result.gradNorm.now], tensor('output.grad_norm').data);
      assert.ok(normError <= 1e-4, `gradient norm ${result.gradNorm}: relative error ${normError}`);
      for (const name of names) {
        const p = model.namedParameters().find(([n]) => n === name)?.[1];
        assert.ok(p !== undefined);
        const error = relativeError(p.data, tensor(`after_adamw.${name}`).data);
        assert.ok(error <= 1e-4, `${name} after one AdamW step: relative error ${error}`);
      }
    });
  });
}
