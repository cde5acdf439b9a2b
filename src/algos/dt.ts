/**
 * Decision Transformer (Chen et al. 2021; kzl/decision-transformer, CORL).
 *
 * Tokens per timestep: (return-to-go, state, action). A causal GPT-2 (pre-LN) reads the
 * interleaved sequence; the action at timestep t is predicted from the output at the state token
 * s_t, so it sees R_0..R_t, s_0..s_t and a_0..a_{t-1}. Loss: mean squared error to the dataset
 * actions over unpadded positions.
 */
import { mseLoss, reshape, tanh, Tensor, type Rng } from '../engine/index.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { TrajectoryTransformer, type TrajectoryTransformerConfig, type WindowBatch } from '../nn/transformer.js';

export type DecisionTransformerConfig = Omit<TrajectoryTransformerConfig, 'tokenOrder' | 'blockStyle' | 'fusedQkv' | 'finalLayerNorm' | 'outputDropout'>;

export class DecisionTransformer extends Module {
  readonly transformer: TrajectoryTransformer;
  readonly predict_action: Linear;

  constructor(readonly config: DecisionTransformerConfig, rng: Rng) {
    super();
    this.transformer = this.addModule('transformer', new TrajectoryTransformer({
      ...config,
      tokenOrder: ['return', 'state', 'action'],
      blockStyle: 'pre-ln',
      fusedQkv: true,
      finalLayerNorm: true,
      outputDropout: 0,
    }, rng));
    this.predict_action = this.addModule('predict_action', new Linear(config.width, config.actionDim, rng, { init: config.embeddingInit }));
  }

  /** predicted actions [B, K, A], in [-1, 1] */
  forward(batch: WindowBatch): Tensor {
    const hidden = this.transformer.forward(batch);
    return tanh(this.predict_action.forward(this.transformer.token(hidden, 'state')));
  }

  /** MSE between predicted and dataset actions over valid positions */
  loss(batch: WindowBatch): { loss: Tensor; actions: Tensor } {
    const actions = this.forward(batch);
    const { batchSize: B } = batch;
    const { context: K, actionDim: A } = this.config;
    const target = Tensor.borrow(batch.actions, [B * K, A]);
    const loss = mseLoss(reshape(actions, [B * K, A]), target, batch.mask === null ? {} : { weights: batch.mask });
    return { loss, actions };
  }
}
