/** Small Decision Transformer setups shared by tests. */
import { Rng } from '../../src/engine/index.js';
import { DecisionTransformer, type DecisionTransformerConfig } from '../../src/algos/dt.js';
import type { TransformerInput } from '../../src/nn/transformer.js';

export function smallDtConfig(overrides: Partial<DecisionTransformerConfig> = {}): DecisionTransformerConfig {
  return {
    stateDim: 5, actionDim: 3, context: 4, width: 16, layers: 2, heads: 2, mlpWidth: 64,
    activation: 'gelu_tanh', maxTimestep: 20, embeddingDropout: 0.1, probDropout: 0.1,
    residDropout: 0.1, mlpDropout: 0.1, blockInit: 'gpt2', embeddingInit: 'torch',
    ...overrides,
  };
}

/** a random batch with a couple of left-padded windows */
export function randomBatch(config: DecisionTransformerConfig, batchSize: number, rng: Rng): TransformerInput {
  const { context: K, stateDim: S, actionDim: A } = config;
  const states = Float32Array.from({ length: batchSize * K * S }, () => rng.normal());
  const actions = Float32Array.from({ length: batchSize * K * A }, () => Math.tanh(rng.normal()));
  const returnsToGo = Float32Array.from({ length: batchSize * K }, () => rng.uniform() * 2);
  const timesteps = Int32Array.from({ length: batchSize * K }, (_, i) => (i % K) + rng.int(config.maxTimestep - K));
  const mask = new Float32Array(batchSize * K).fill(1);
  for (let b = 0; b < batchSize; b += 2) mask[b * K] = 0;
  return { batchSize, states, actions, returnsToGo, timesteps, mask };
}

export function newDt(config: DecisionTransformerConfig, seed: number): { model: DecisionTransformer; rng: Rng } {
  const rng = new Rng(seed);
  return { model: new DecisionTransformer(config, rng), rng };
}
