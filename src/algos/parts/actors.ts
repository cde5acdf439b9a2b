/**
 * The return-conditioned actor networks: DT's network (Chen et al. 2021; kzl, CORL), which QT, RDT
 * and RVDT use as their actor, QT's next-state head on it, and the Gaussian head RDT/RVDT's
 * stochastic policy adds.
 */
import type { WindowBatch } from '../../data/sampler.js';
import { tanh, type Parameter, type Rng, type Tensor } from '../../engine/index.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { TrajectoryTransformer, type TrajectoryTransformerConfig, type TransformerInput } from '../../nn/transformer.js';
import { clippedLogStd, initialLogStd } from './gaussian-head.js';

export type DecisionTransformerConfig = Omit<TrajectoryTransformerConfig, 'tokenOrder' | 'blockStyle' | 'fusedQkv' | 'finalLayerNorm' | 'outputDropout'>;

/** DT's network: trajectory transformer trunk (tokens R, s, a; pre-LN GPT-2) and a tanh action head at the state tokens. */
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
  forward(batch: TransformerInput): Tensor {
    const hidden = this.transformer.forward(batch);
    return tanh(this.predict_action.forward(this.transformer.token(hidden, 'state')));
  }
}

/** DT's network plus QT's next-state head, read at the action token (a_t's output predicts s_{t+1}). */
export class QtActor extends DecisionTransformer {
  readonly predict_state: Linear;

  constructor(config: DecisionTransformerConfig, rng: Rng) {
    super(config, rng);
    this.predict_state = this.addModule('predict_state', new Linear(config.width, config.stateDim, rng, { init: config.embeddingInit }));
  }

  /** actions [B, K, A] in [−1, 1] from the state tokens, next states [B, K, S] from the action tokens */
  predict(batch: TransformerInput): { actions: Tensor; nextStates: Tensor } {
    const hidden = this.transformer.forward(batch);
    return {
      actions: tanh(this.predict_action.forward(this.transformer.token(hidden, 'state'))),
      nextStates: this.predict_state.forward(this.transformer.token(hidden, 'action')),
    };
  }
}

/**
 * Next-state targets: row (b, t) holds s_{b, t+1} for t < K − 1, weighted by mask[b, t]; the last
 * position has no successor in the window and weight 0.
 */
export function nextStateTargets(batch: WindowBatch): { targets: Float32Array; weights: Float32Array } {
  const { batchSize: B, contextLength: K, obsDim: S } = batch;
  const targets = new Float32Array(B * K * S);
  const weights = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < K - 1; t++) {
      const row = b * K + t;
      targets.set(batch.states.subarray((row + 1) * S, (row + 2) * S), row * S);
      weights[row] = batch.mask[row] as number;
    }
  }
  return { targets, weights };
}

/** QT's actor with a Gaussian head: mean tanh(W h) at the state token, σ one learned vector for every state. */
export class GaussianQtActor extends QtActor {
  /** log σ per action dimension (initialized at 0, as Reinformer's) */
  readonly action_log_std: Parameter;

  constructor(config: DecisionTransformerConfig, rng: Rng) {
    super(config, rng);
    this.action_log_std = initialLogStd(this.addParameter('action_log_std', [config.actionDim]));
  }

  /** log σ as the distribution uses it, clipped to Reinformer's [−20, 2] */
  clippedLogStd(): Tensor {
    return clippedLogStd(this.action_log_std);
  }
}

export type PolicyHead = 'deterministic' | 'stochastic';

/** Builds a QT-family actor (QT, RDT, RVDT): the deterministic tanh head or the Gaussian one. */
export type ActorFactory = (network: DecisionTransformerConfig, rng: Rng) => QtActor;

export function actorFactory(policy: PolicyHead): ActorFactory {
  return policy === 'stochastic' ? (network, rng) => new GaussianQtActor(network, rng) : (network, rng) => new QtActor(network, rng);
}
