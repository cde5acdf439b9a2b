/**
 * Decision Transformer (Chen et al. 2021; kzl/decision-transformer, CORL).
 *
 * Tokens per timestep: (return-to-go, state, action). A causal GPT-2 (pre-LN) reads the
 * interleaved sequence; the action at timestep t is predicted from the output at the state token
 * s_t, so it sees R_0..R_t, s_0..s_t and a_0..a_{t-1}. Loss: mean squared error to the dataset
 * actions over unpadded positions. AdamW with a linear warm-up, global-norm clipping.
 *
 * Acting: start from a target return R_0 = target / scale; after each step R_{t+1} = R_t - r_t / scale;
 * keep the last K steps, left-padded, and execute the prediction at the newest state token.
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import { mseLoss, noGrad, reshape, tanh, tidy, Tensor, type Rng } from '../engine/index.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { AdamW, linearWarmup } from '../nn/optim.js';
import { TrajectoryTransformer, type TrajectoryTransformerConfig, type TransformerInput } from '../nn/transformer.js';
import { gradientStep } from '../nn/step.js';
import {
  ContextBuffer, normalizeState, predictWithoutGrad,
  type Algorithm, type AlgorithmDefinition, type EvaluationCondition, type PolicyContext, type SequencePolicy,
} from './algorithm.js';

export type DecisionTransformerConfig = Omit<TrajectoryTransformerConfig, 'tokenOrder' | 'blockStyle' | 'fusedQkv' | 'finalLayerNorm' | 'outputDropout'>;

/** The network: trajectory transformer trunk and a tanh action head at the state tokens. */
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

  /** MSE between predicted and dataset actions over valid positions */
  loss(batch: TransformerInput): { loss: Tensor; actions: Tensor } {
    const actions = this.forward(batch);
    const { batchSize: B } = batch;
    const { context: K, actionDim: A } = this.config;
    const target = Tensor.borrow(batch.actions, [B * K, A]);
    const loss = mseLoss(reshape(actions, [B * K, A]), target, batch.mask === null ? {} : { weights: batch.mask });
    return { loss, actions };
  }
}

export const DtConfigSchema = z.object({
  context: z.number().int().min(1).max(341).default(20),
  width: z.number().int().min(1).default(128),
  layers: z.number().int().min(1).default(3),
  heads: z.number().int().min(1).default(1),
  /** MLP width; kzl uses 4 x width */
  mlpWidth: z.number().int().min(1).default(512),
  activation: z.enum(['relu', 'gelu_tanh', 'gelu_erf']).default('relu'),
  maxTimestep: z.number().int().min(1).default(1000),
  dropout: z.number().min(0).max(0.99).default(0.1),
  /** kzl: embeddings and heads keep PyTorch defaults, blocks N(0, 0.02); corl: N(0, 0.02) everywhere */
  init: z.enum(['kzl', 'corl']).default('kzl'),
  batchSize: z.number().int().min(1).default(64),
  steps: z.number().int().min(1).default(100_000),
  lr: z.number().positive().default(1e-4),
  weightDecay: z.number().min(0).default(1e-4),
  warmupSteps: z.number().int().min(0).default(10_000),
  clipNorm: z.number().positive().nullable().default(0.25),
  /** network input = return-to-go / returnScale */
  returnScale: z.number().positive().default(1000),
  /** evaluation targets in raw return units; each is evaluated separately */
  targetReturns: z.array(z.number()).min(1).default([3600, 1800]),
}).strict();

export type DtConfig = z.infer<typeof DtConfigSchema>;

/** CORL's Maze2D settings (batch 4096, lr 8e-4, returns unscaled, targets 280/140) and kzl's locomotion settings. */
const corlMaze2d: Partial<DtConfig> = { init: 'corl', activation: 'gelu_erf', batchSize: 4096, lr: 8e-4, returnScale: 1, targetReturns: [280, 140] };
export const DT_PRESETS: Record<string, Partial<DtConfig>> = {
  'maze2d-umaze-v1': corlMaze2d,
  'maze2d-medium-v1': corlMaze2d,
  'maze2d-large-v1': corlMaze2d,
  'hopper-medium-v2': { targetReturns: [3600, 1800] },
  'hopper-medium-replay-v2': { targetReturns: [3600, 1800] },
  'hopper-medium-expert-v2': { targetReturns: [3600, 1800] },
  'halfcheetah-medium-v2': { targetReturns: [12000, 6000] },
  'halfcheetah-medium-replay-v2': { targetReturns: [12000, 6000] },
  'halfcheetah-medium-expert-v2': { targetReturns: [12000, 6000] },
  'walker2d-medium-v2': { targetReturns: [5000, 2500] },
  'walker2d-medium-replay-v2': { targetReturns: [5000, 2500] },
  'walker2d-medium-expert-v2': { targetReturns: [5000, 2500] },
};

function networkConfig(config: DtConfig, context: PolicyContext): DecisionTransformerConfig {
  return {
    stateDim: context.obsDim, actionDim: context.actionDim, context: config.context, width: config.width,
    layers: config.layers, heads: config.heads, mlpWidth: config.mlpWidth, activation: config.activation,
    maxTimestep: config.maxTimestep, embeddingDropout: config.dropout, probDropout: config.dropout,
    residDropout: config.dropout, mlpDropout: config.dropout,
    blockInit: 'gpt2', embeddingInit: config.init === 'corl' ? 'gpt2' : 'torch',
  };
}

class DtAlgorithm implements Algorithm {
  readonly model: DecisionTransformer;
  private readonly optimizer: AdamW;
  private readonly schedule: (step: number) => number;

  constructor(readonly config: DtConfig, readonly context: PolicyContext, rng: Rng) {
    this.model = new DecisionTransformer(networkConfig(config, context), rng);
    this.optimizer = new AdamW(this.model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
    this.schedule = linearWarmup(config.warmupSteps);
  }

  update(batch: WindowBatch, step: number): Record<string, number> {
    const result = gradientStep({
      optimizer: this.optimizer, clipNorm: this.config.clipNorm, schedule: this.schedule, scheduleStep: step,
      loss: () => this.model.loss(batch).loss,
      term: 'action_loss',
    });
    return { action_loss: result.loss, grad_norm: result.gradNorm, lr: result.lr };
  }

  modules(): Record<string, Module> {
    return { model: this.model };
  }

  optimizers() {
    return { optimizer: { optimizer: this.optimizer, names: this.model.namedParameters().map(([n]) => n) } };
  }


  policyModules(): Record<string, Module> {
    return { model: this.model };
  }

  evaluationConditions(): EvaluationCondition[] {
    return this.config.targetReturns.map((target) => ({ label: `target ${target}`, targetReturn: target }));
  }

  createPolicy(numEnvs: number, condition: EvaluationCondition): SequencePolicy {
    if (condition.targetReturn === undefined) throw new Error('DT acts towards a target return; the condition has none');
    return new DtPolicy(this.model, this.config, this.context, numEnvs, condition.targetReturn);
  }

  setTraining(training: boolean): void {
    this.model.train(training);
  }

  predictActions(batch: WindowBatch): Float32Array {
    return predictWithoutGrad(() => this.model.forward(batch));
  }
}

/** DT acting in N environments: one batched forward per step over every active environment's window. */
export class DtPolicy implements SequencePolicy {
  private readonly buffer: ContextBuffer;
  private readonly scratchState: Float32Array;
  /** R_{t+1} = R_t - r_t / scale, waiting for the next state */
  private readonly nextReturn: Float64Array;

  constructor(
    private readonly model: DecisionTransformer,
    private readonly config: DtConfig,
    private readonly context: PolicyContext,
    readonly numEnvs: number,
    private readonly targetReturn: number,
  ) {
    this.buffer = new ContextBuffer(numEnvs, config.context, context.obsDim, context.actionDim, 'left', config.maxTimestep);
    this.scratchState = new Float32Array(context.obsDim);
    this.nextReturn = new Float64Array(numEnvs);
  }

  beginEpisode(envIndex: number): void {
    this.buffer.reset(envIndex);
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const { obsDim, actionDim } = this.context;
    const buffer = this.buffer;
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      const returnToGo = buffer.stepCount[i] === 0 ? this.targetReturn / this.config.returnScale : (this.nextReturn[i] as number);
      buffer.pushState(i, normalizeState(this.context, observations, i * obsDim, this.scratchState), returnToGo);
    }
    const K = this.config.context;
    tidy(() => {
      const predicted = noGrad(() => this.model.forward({
        batchSize: this.numEnvs, states: buffer.states, actions: buffer.actions,
        returnsToGo: buffer.returnsToGo, timesteps: buffer.timesteps, mask: buffer.mask,
      }));
      for (let i = 0; i < this.numEnvs; i++) {
        if (active[i] !== 1) continue;
        const row = predicted.data.subarray((i * K + K - 1) * actionDim, (i * K + K) * actionDim);
        for (let d = 0; d < actionDim; d++) {
          const low = this.context.actionLow[d] as number;
          const high = this.context.actionHigh[d] as number;
          actions[i * actionDim + d] = Math.min(high, Math.max(low, row[d] as number));
        }
        buffer.setCurrentAction(i, row);
      }
    });
  }

  observeRewards(rewards: Float64Array, active: Uint8Array): void {
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      this.nextReturn[i] = this.buffer.currentReturn(i) - (rewards[i] as number) / this.config.returnScale;
      this.buffer.advance(i);
    }
  }
}

export const decisionTransformer: AlgorithmDefinition<DtConfig> = {
  name: 'dt',
  description: 'Decision Transformer (kzl / CORL): return-conditioned behavior cloning with a causal GPT',
  configSchema: DtConfigSchema,
  presets: DT_PRESETS,
  sampler: 'dt',
  returnScale: (config) => config.returnScale,
  create: (config, context, rng) => new DtAlgorithm(config, context, rng),
};
