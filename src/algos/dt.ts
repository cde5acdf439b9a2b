/**
 * Decision Transformer (Chen et al. 2021; kzl/decision-transformer, CORL).
 *
 * Tokens per timestep: (return-to-go, state, action). A causal GPT-2 (pre-LN) reads the
 * interleaved sequence; the action at timestep t is predicted from the output at the state token
 * s_t, so it sees R_0..R_t, s_0..s_t and a_0..a_{t-1}. Loss: mean squared error to the dataset
 * actions over unpadded positions. AdamW with a linear warm-up, global-norm clipping.
 *
 * Acting (parts/return-conditioned-policy.ts): start from a target return R_0 = target / scale;
 * after each step R_{t+1} = R_t - r_t / scale; keep the last K steps, left-padded, and execute the
 * prediction at the newest state token.
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import { mseLoss, reshape, Tensor, type Rng } from '../engine/index.js';
import type { Module } from '../nn/module.js';
import { AdamW, linearWarmup } from '../nn/optim.js';
import { gradientStep } from '../nn/step.js';
import type { TransformerInput } from '../nn/transformer.js';
import {
  predictWithoutGrad, withTraining,
  type Algorithm, type AlgorithmDefinition, type PolicyDefinition, type EvaluationCondition, type PolicyContext, type PolicyModel, type SequencePolicy, settled, type StepMetrics,
} from './algorithm.js';
import { DecisionTransformer, type DecisionTransformerConfig } from './parts/actors.js';
import { ReturnConditionedPolicy } from './parts/return-conditioned-policy.js';

// ---------------------------------------------------------------------------------------------
// Network: DecisionTransformer (parts/actors.ts, where QT, RDT and RVDT build their actors on it)

export { DecisionTransformer, type DecisionTransformerConfig };

// ---------------------------------------------------------------------------------------------
// Configuration and presets

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

/**
 * Maze2D: CORL's hyperparameters (init, GELU, batch 4096, lr 8e-4, returns unscaled, targets 280/140),
 * with the window sampling every DT run uses, kzl's (left padding, actions padded with −10): CORL
 * right-pads its windows, which these presets do not reproduce. Locomotion: kzl's settings.
 */
const corlMaze2dHyperparameters: Partial<DtConfig> = { init: 'corl', activation: 'gelu_erf', batchSize: 4096, lr: 8e-4, returnScale: 1, targetReturns: [280, 140] };
export const DT_PRESETS: Record<string, Partial<DtConfig>> = {
  'maze2d-umaze-v1': corlMaze2dHyperparameters,
  'maze2d-medium-v1': corlMaze2dHyperparameters,
  'maze2d-large-v1': corlMaze2dHyperparameters,
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

// ---------------------------------------------------------------------------------------------
// Loss and update

/**
 * L = Σ_{b,t} m_{b,t} ‖â_{b,t} − a_{b,t}‖² / (A · Σ_{b,t} m_{b,t}), â = tanh(W h_{s_t}):
 * the squared error of the predicted actions averaged over the A action dimensions of the unpadded
 * positions (mask m), kzl's `F.mse_loss(action_preds[attention_mask > 0], ...)`. (CORL's dt.py
 * masks the same terms but divides by every position, padding included.)
 */
export function dtLoss(model: DecisionTransformer, batch: TransformerInput): { loss: Tensor; actions: Tensor } {
  const { batchSize: B } = batch;
  const { context: K, actionDim: A } = model.config;
  const actions = model.forward(batch);
  const predicted = reshape(actions, [B * K, A]);
  const target = Tensor.borrow(batch.actions, [B * K, A]);
  if (batch.mask === null) return { loss: mseLoss(predicted, target, { normalizer: A * B * K }), actions };
  const mask = batch.mask;
  let unpadded = 0;
  for (const m of mask) unpadded += m;
  return { loss: mseLoss(predicted, target, { weights: mask, normalizer: A * unpadded }), actions };
}

/** What acting needs: the network (eval mode) and the target returns. */
class DtPolicyModel implements PolicyModel {
  constructor(readonly model: DecisionTransformer, readonly config: DtConfig, readonly context: PolicyContext) {}

  policyModules(): Record<string, Module> {
    return { model: this.model };
  }

  evaluationConditions(): EvaluationCondition[] {
    return this.config.targetReturns.map((target) => ({ label: `target ${target}`, targetReturn: target }));
  }

  createPolicy(numEnvs: number, condition: EvaluationCondition): SequencePolicy {
    if (condition.targetReturn === undefined) throw new Error('DT acts towards a target return; the condition has none');
    return new ReturnConditionedPolicy(this.model, this.config, this.context, numEnvs, condition.targetReturn);
  }

  setTraining(training: boolean): void {
    this.model.train(training);
  }

  predictActions(batch: TransformerInput): Float32Array {
    return predictWithoutGrad(() => this.model.forward(batch));
  }
}

/** One AdamW step on L per batch, the learning rate warmed up linearly, the gradient clipped. */
class DtAlgorithm extends DtPolicyModel implements Algorithm {
  private readonly optimizer: AdamW;
  private readonly schedule: (step: number) => number;

  constructor(config: DtConfig, context: PolicyContext, rng: Rng) {
    super(new DecisionTransformer(networkConfig(config, context), rng), config, context);
    this.optimizer = new AdamW(this.model.parameters(), { lr: config.lr, weightDecay: config.weightDecay });
    this.schedule = linearWarmup(config.warmupSteps);
  }

  update(batch: WindowBatch, step: number): StepMetrics {
    const result = gradientStep({
      optimizer: this.optimizer, clipNorm: this.config.clipNorm, schedule: this.schedule, scheduleStep: step,
      loss: () => dtLoss(this.model, batch).loss,
      term: 'action_loss',
    });
    return settled({ action_loss: result.loss, grad_norm: result.gradNorm, lr: result.lr });
  }

  modules(): Record<string, Module> {
    return { model: this.model };
  }

  optimizers() {
    return { optimizer: { optimizer: this.optimizer, names: this.model.namedParameters().map(([n]) => n) } };
  }
}

/** What loading a dt policy file needs (src/deploy): no training class is referenced from here. */
export const dtPolicyDefinition: PolicyDefinition<DtConfig> = {
  name: 'dt',
  configSchema: DtConfigSchema,
  actingSettings: ['targetReturns'] satisfies (keyof DtConfig)[],
  createPolicyModel: (config, context, rng) => new DtPolicyModel(new DecisionTransformer(networkConfig(config, context), rng), config, context),
};

export const decisionTransformer: AlgorithmDefinition<DtConfig> = /* @__PURE__ */ withTraining(dtPolicyDefinition, {
  description: 'Decision Transformer (kzl / CORL): return-conditioned behavior cloning with a causal GPT',
  presets: DT_PRESETS,
  sampler: 'dt',
  returnScale: (config) => config.returnScale,
  create: (config, context, rng) => new DtAlgorithm(config, context, rng),
});
