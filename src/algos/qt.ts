/**
 * QT: the Q-value regularized transformer (Hu et al. 2024; charleshsc/QT cb9e1a4, spec section 4).
 *
 * The actor is DT's network (tokens R, s, a; pre-LN GPT-2) plus a trained next-state head at the
 * action token. Twin Mish critics Q1, Q2 score (normalized state, action) pairs per timestep; they
 * never see transformer features. One training step, in the reference's order:
 * 1. critic: n-step targets over each window, bootstrapped at the window's last step with the EMA
 *    actor's action and the target critics' minimum; MSE of both critics; Adam (no decay); clip; step.
 * 2. actor: BC = action MSE + next-state MSE; Q-term = −mean Q_i(s, â) / mean |Q_j(s, â)| with i, j a
 *    coin flip of the two critics and the denominator detached; L = BC + η · Q-term; Adam with
 *    coupled L2 1e-4; clip; step. Gradients reach the actor through the (just updated) online critic.
 * 3. EMA of the actor (0.995, every 5 steps once past step 1000), then Polyak 0.005 on the target critics.
 * Both learning rates follow a cosine over `iterations`, stepped once per iteration (1000 steps).
 *
 * Acting: 50 candidate contexts share the history and differ in their return-to-go rows (the targets
 * repeated consecutively, N(0,1) fillers, N(0, 0.1²) jitter, one row whose current return comes from
 * the target critic); one batched forward; the target critic scores each candidate's action and a
 * candidate is drawn from softmax(Q) (or taken by argmax). docs/algorithms/qt.md lists every quirk kept.
 *
 * The critic, the n-step targets, the Q-term and the soft updates are exported for RDT/RVDT, and
 * QtAlgorithm takes an actor factory and has an overridable actor objective, so RVDT reuses the
 * whole update (critic step, EMA, Polyak, schedules) and the inference.
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import {
  abs, add, concat, maskedRowSumMean, minimum, mish, mseLoss, noGrad, reshape, scale, tanh, tidy, Tensor, type Rng,
} from '../engine/index.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Adam, cosineAnnealing, type Schedule } from '../nn/optim.js';
import type { TransformerInput } from '../nn/transformer.js';
import { gradientStep } from '../nn/step.js';
import {
  ContextBuffer, normalizeState, predictWithoutGrad,
  type Algorithm, type CandidateChoice, type AlgorithmDefinition, type EvaluationCondition, type PolicyContext, type SequencePolicy,
} from './algorithm.js';
import { DecisionTransformer, type DecisionTransformerConfig } from './dt.js';

// ---------------------------------------------------------------------------------------------
// Critic

/** Linear → Mish → Linear → Mish → Linear → Mish → Linear(1), named like the reference's nn.Sequential (0, 2, 4, 6). */
export class QNetwork extends Module {
  private readonly layers: Linear[];

  constructor(inputDim: number, hidden: number, rng: Rng) {
    super();
    const widths = [inputDim, hidden, hidden, hidden, 1];
    this.layers = widths.slice(1).map((width, i) => this.addModule(String(2 * i), new Linear(widths[i] as number, width, rng)));
  }

  /** x [N, S + A] → Q [N, 1] */
  forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h);
      if (i < this.layers.length - 1) h = mish(h);
    });
    return h;
  }
}

/** Two independent critics on concat(normalized state, action), applied to every row (timestep) alone. */
export class TwinCritic extends Module {
  readonly q1_model: QNetwork;
  readonly q2_model: QNetwork;

  constructor(readonly stateDim: number, readonly actionDim: number, readonly hidden: number, rng: Rng) {
    super();
    this.q1_model = this.addModule('q1_model', new QNetwork(stateDim + actionDim, hidden, rng));
    this.q2_model = this.addModule('q2_model', new QNetwork(stateDim + actionDim, hidden, rng));
  }

  /** states [N, S], actions [N, A] → Q1, Q2 each [N, 1] */
  forward(states: Tensor, actions: Tensor): { q1: Tensor; q2: Tensor } {
    const x = concat([states, actions], 1);
    return { q1: this.q1_model.forward(x), q2: this.q2_model.forward(x) };
  }

  /** min(Q1, Q2) [N, 1]: the pessimistic value of bootstraps and of acting */
  qMin(states: Tensor, actions: Tensor): Tensor {
    const { q1, q2 } = this.forward(states, actions);
    return minimum(q1, q2);
  }
}

/** target ← (1 − weight) · target + weight · source, parameter by parameter (Polyak: weight τ; EMA: weight 1 − decay). */
export function softUpdate(target: Module, source: Module, weight: number): void {
  const sources = source.parameters();
  target.parameters().forEach((p, i) => {
    const q = sources[i];
    if (q === undefined || q.size !== p.size) throw new Error(`softUpdate: ${p.name} has no counterpart of the same size`);
    for (let j = 0; j < p.size; j++) p.data[j] = (1 - weight) * (p.data[j] as number) + weight * (q.data[j] as number);
  });
}

// ---------------------------------------------------------------------------------------------
// n-step targets

/** The parts of a sampled window batch the n-step targets read, all [B * K] row-major. */
export interface RewardWindows {
  batchSize: number;
  context: number;
  /** raw rewards (after any reward transform), not divided by the return scale */
  rewards: ArrayLike<number>;
  /** 1 where the step ended its episode in a true terminal state */
  terminated: ArrayLike<number>;
  /** 1 real, 0 padding */
  mask: ArrayLike<number>;
}

/**
 * The index of each window's last real step (the bootstrap step). With the reference's left
 * padding this is always K − 1; right-padded windows (RDT/RVDT samplers) end earlier.
 */
export function bootstrapIndices(windows: Pick<RewardWindows, 'batchSize' | 'context' | 'mask'>): Int32Array {
  const { batchSize: B, context: K, mask } = windows;
  const indices = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let last = K - 1;
    while (last > 0 && (mask[b * K + last] as number) === 0) last--;
    indices[b] = last;
  }
  return indices;
}

/**
 * QT's discounted n-step targets (reference `k_rewards` + `use_discount`). With T the window's last
 * real index, d_T its terminal flag and Q_b the bootstrap value min(Q1', Q2')(s_T, ã_T):
 *   y_t = Σ_{j=t}^{T−1} γ^{j−t} r_j + γ^{T−t} (1 − d_T) Q_b   for real t < T.
 * r_T is never used (the reference zeroes it), so a window ending on a terminal step loses its
 * final reward. Returns targets [B * K] and the critic-loss row weights [B * K] (mask[t] for t < T,
 * 0 at T and beyond and at padding).
 */
export function nStepTargets(
  windows: RewardWindows, bootstrapValues: ArrayLike<number>, discount: number, lastIndices = bootstrapIndices(windows),
): { targets: Float32Array; weights: Float32Array } {
  const { batchSize: B, context: K, rewards, terminated, mask } = windows;
  if (bootstrapValues.length !== B) throw new RangeError(`nStepTargets: ${bootstrapValues.length} bootstrap values for ${B} windows`);
  const targets = new Float32Array(B * K);
  const weights = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    const last = lastIndices[b] as number;
    let future = (1 - (terminated[b * K + last] as number)) * (bootstrapValues[b] as number);
    for (let t = last - 1; t >= 0; t--) {
      future = (rewards[b * K + t] as number) + discount * future;
      targets[b * K + t] = future;
      weights[b * K + t] = mask[b * K + t] as number;
    }
  }
  return { targets, weights };
}

// ---------------------------------------------------------------------------------------------
// Losses

/** Mean over the weighted rows of MSE(Q1, y) + MSE(Q2, y): the twin critics' TD loss. */
export function twinCriticLoss(critic: TwinCritic, states: Tensor, actions: Tensor, targets: Float32Array, weights: Float32Array): Tensor {
  const { q1, q2 } = critic.forward(states, actions);
  const y = Tensor.borrow(targets, [targets.length, 1]);
  return add(mseLoss(q1, y, { weights }), mseLoss(q2, y, { weights }));
}

/** which critic gives the Q-term its numerator; the other one normalizes it */
export type QNumerator = 'q1' | 'q2';

/** The reference's coin: numerator Q1 when uniform() > 0.5, else Q2. */
export function drawQNumerator(rng: Rng): QNumerator {
  return rng.uniform() > 0.5 ? 'q1' : 'q2';
}

/**
 * QT's Q-term (TD3+BC / Diffusion-QL style): −mean_w Q_i(s, â) / mean_w |Q_j(s, â)|, the denominator
 * detached, means over rows with weight 1 (valid positions). Gradients flow through the critic into
 * the actions â, and also into the critic's own parameters, which the caller's next critic step clears.
 * Returns the loss and the numerator's mean Q for logging.
 */
export function qRegularizer(
  critic: TwinCritic, states: Tensor, actions: Tensor, weights: Float32Array, numerator: QNumerator,
): { loss: Tensor; meanQ: number } {
  const { q1, q2 } = critic.forward(states, actions);
  const [top, bottom] = numerator === 'q1' ? [q1, q2] : [q2, q1];
  const normalizer = noGrad(() => maskedRowSumMean(abs(bottom), weights).item());
  const meanQ = maskedRowSumMean(top, weights);
  return { loss: scale(meanQ, -1 / normalizer), meanQ: meanQ.item() };
}

// ---------------------------------------------------------------------------------------------
// Actor

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

/** The actor's loss terms of one step, as tensors; `total` is what gets differentiated. */
export interface ActorLosses {
  /** MSE of the predicted actions over valid positions */
  actionLoss: Tensor;
  /** MSE of the predicted next states over positions t < K − 1 with mask[t] = 1 */
  stateLoss: Tensor;
  /** −mean Q_i / mean |Q_j| (detached denominator) */
  qLoss: Tensor;
  /** bcWeight · (actionLoss + stateLoss) + eta · qLoss */
  total: Tensor;
  meanQ: number;
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

/** BC (action + next-state MSE) and the Q-term through the online critic, for one window batch. */
export function actorLosses(
  actor: QtActor, critic: TwinCritic, batch: WindowBatch, numerator: QNumerator, weights: { bc: number; eta: number },
): ActorLosses {
  const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;
  const { actions, nextStates } = actor.predict(batch);
  const predictedActions = reshape(actions, [B * K, A]);
  const actionLoss = mseLoss(predictedActions, Tensor.borrow(batch.actions, [B * K, A]), { weights: batch.mask });
  const next = nextStateTargets(batch);
  const stateLoss = mseLoss(reshape(nextStates, [B * K, S]), Tensor.borrow(next.targets, [B * K, S]), { weights: next.weights });
  const q = qRegularizer(critic, Tensor.borrow(batch.states, [B * K, S]), predictedActions, batch.mask, numerator);
  const total = add(scale(add(actionLoss, stateLoss), weights.bc), scale(q.loss, weights.eta));
  return { actionLoss, stateLoss, qLoss: q.loss, total, meanQ: q.meanQ };
}

/**
 * The bootstrap values min(Q1', Q2')(s_T, ã_T) [B]: ã from the EMA actor at each window's last real
 * step T, scored by the target critics. No gradient.
 */
export function bootstrapValues(emaActor: DecisionTransformer, criticTarget: TwinCritic, batch: WindowBatch, lastIndices: Int32Array): Float32Array {
  const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;
  return tidy(() => noGrad(() => {
    const actions = emaActor.forward(batch).data;
    const lastStates = new Float32Array(B * S);
    const lastActions = new Float32Array(B * A);
    for (let b = 0; b < B; b++) {
      const row = b * K + (lastIndices[b] as number);
      lastStates.set(batch.states.subarray(row * S, (row + 1) * S), b * S);
      lastActions.set(actions.subarray(row * A, (row + 1) * A), b * A);
    }
    return Float32Array.from(criticTarget.qMin(Tensor.borrow(lastStates, [B, S]), Tensor.borrow(lastActions, [B, A])).data);
  }));
}

// ---------------------------------------------------------------------------------------------
// Configuration and presets

export const QtConfigSchema = z.object({
  context: z.number().int().min(2).max(341).default(20),
  width: z.number().int().min(1).default(256),
  layers: z.number().int().min(1).default(4),
  heads: z.number().int().min(1).default(4),
  mlpWidth: z.number().int().min(1).default(1024),
  activation: z.enum(['relu', 'gelu_tanh', 'gelu_erf']).default('relu'),
  maxTimestep: z.number().int().min(1).default(1000),
  dropout: z.number().min(0).max(0.99).default(0.1),
  /** hidden width of each critic MLP; the reference uses the transformer width (256) */
  criticWidth: z.number().int().min(1).default(256),
  batchSize: z.number().int().min(1).default(256),
  /** gradient steps actually run: (early_epoch + 1) × stepsPerIteration in run.sh */
  steps: z.number().int().min(1).default(101_000),
  /** the cosine schedule's T_max, in iterations (run.sh max_iters) */
  iterations: z.number().int().min(1).default(500),
  /** gradient steps per iteration; the cosine advances once per iteration */
  stepsPerIteration: z.number().int().min(1).default(1000),
  /** cosine decay of both learning rates (every published run uses it) */
  lrDecay: z.boolean().default(true),
  actorLr: z.number().positive().default(3e-4),
  criticLr: z.number().positive().default(3e-4),
  /** coupled L2 on the actor (torch Adam weight_decay); the critic has none */
  actorWeightDecay: z.number().min(0).default(1e-4),
  /** global-norm clipping of each network's gradient (run.sh grad_norm); null: none */
  clipNorm: z.number().positive().nullable().default(9),
  /** η: weight of the Q-term */
  eta: z.number().min(0).default(1),
  /** η2: weight of the BC loss */
  bcWeight: z.number().min(0).default(1),
  discount: z.number().min(0).max(1).default(0.99),
  /** Polyak weight of the target critics, every step */
  tau: z.number().min(0).max(1).default(0.005),
  emaDecay: z.number().min(0).max(1).default(0.995),
  /** the EMA actor is updated at steps > emaStart (0-based step index) ... */
  emaStart: z.number().int().min(0).default(1000),
  /** ... that are multiples of emaEvery */
  emaEvery: z.number().int().min(1).default(5),
  /** network input = return-to-go / returnScale */
  returnScale: z.number().positive().default(1000),
  /** the targets (raw return units) whose rows seed the candidates; all are used jointly */
  targetReturns: z.array(z.number()).min(1).default([3600, 1800]),
  /** candidate contexts per environment step */
  candidates: z.number().int().min(1).default(50),
  /** softmax: draw a candidate from softmax(Q) (reference); argmax: take the highest Q */
  selection: z.enum(['softmax', 'argmax']).default('softmax'),
  /**
   * units of the critic-derived candidate return: reference = Q − r/scale (raw Q among scaled
   * returns; consistent only when scale is 1); scaled = (Q − r)/scale
   */
  criticReturn: z.enum(['reference', 'scaled']).default('reference'),
  /** the reward transform training applies before returns-to-go and critic targets */
  rewardTransform: z.enum(['none', 'qt-cql-antmaze']).default('none'),
}).strict().superRefine((config, issues) => {
  if (config.candidates < config.targetReturns.length) {
    issues.addIssue({ code: z.ZodIssueCode.custom, path: ['candidates'], message: `needs at least one candidate per target return (${config.targetReturns.length})` });
  }
});

export type QtConfig = z.infer<typeof QtConfigSchema>;

/** return scale and evaluation targets (raw units) per environment family, from the reference's experiment.py */
const FAMILIES = {
  hopper: { returnScale: 1000, targetReturns: [3600, 1800] },
  halfcheetah: { returnScale: 1000, targetReturns: [12000, 9000, 6000] },
  walker2d: { returnScale: 1000, targetReturns: [5000, 4000, 2500] },
  pen: { returnScale: 1000, targetReturns: [12000, 6000] },
  hammer: { returnScale: 1000, targetReturns: [12000, 6000, 3000] },
  door: { returnScale: 100, targetReturns: [2000, 1000, 500] },
  kitchen: { returnScale: 100, targetReturns: [500, 250] },
  maze2d: { returnScale: 10, targetReturns: [300, 200, 150, 100, 50, 20] },
  antmaze: { returnScale: 1, targetReturns: [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3] },
} satisfies Record<string, Partial<QtConfig>>;

/**
 * One run.sh line: η, grad_norm, max_iters (the cosine's T_max) and early_epoch (training stops
 * after iteration early_epoch, so early_epoch + 1 iterations run; null: all max_iters).
 */
function runLine(
  family: keyof typeof FAMILIES, eta: number, clipNorm: number, iterations: number, earlyEpoch: number | null,
  extra: Partial<QtConfig> = {},
): Partial<QtConfig> {
  const stepsPerIteration = extra.stepsPerIteration ?? 1000;
  const iterationsRun = earlyEpoch === null ? iterations : earlyEpoch + 1;
  return { ...FAMILIES[family], eta, clipNorm, iterations, stepsPerIteration, steps: iterationsRun * stepsPerIteration, ...extra };
}

/** Every dataset of the reference's run.sh (spec 4.6); gym -v2, maze2d -v1 (open -v0), adroit -v1, kitchen and antmaze -v0. */
export const QT_PRESETS: Record<string, Partial<QtConfig>> = {
  'halfcheetah-medium-expert-v2': runLine('halfcheetah', 0.4, 15, 10, null, { stepsPerIteration: 10_000 }),
  'hopper-medium-expert-v2': runLine('hopper', 1.0, 9, 500, 100),
  'walker2d-medium-expert-v2': runLine('walker2d', 2.0, 5, 500, 100),
  'halfcheetah-medium-v2': runLine('halfcheetah', 5.0, 15, 500, 100, { context: 5 }),
  'hopper-medium-v2': runLine('hopper', 1.0, 9, 500, 100),
  'walker2d-medium-v2': runLine('walker2d', 2.0, 5, 500, 100),
  'halfcheetah-medium-replay-v2': runLine('halfcheetah', 5.0, 15, 500, 100, { context: 5 }),
  'hopper-medium-replay-v2': runLine('hopper', 3.0, 9, 500, 100),
  'walker2d-medium-replay-v2': runLine('walker2d', 2.0, 5, 500, 100),
  'pen-human-v1': runLine('pen', 0.1, 9, 500, 100),
  'pen-cloned-v1': runLine('pen', 0.1, 9, 500, 100),
  'hammer-human-v1': runLine('hammer', 0.1, 5, 500, 60),
  'hammer-cloned-v1': runLine('hammer', 0.01, 9, 500, 30),
  'door-human-v1': runLine('door', 0.005, 9, 500, 60),
  'door-cloned-v1': runLine('door', 0.001, 9, 500, 60),
  'kitchen-complete-v0': runLine('kitchen', 0.001, 9, 500, 100),
  'kitchen-partial-v0': runLine('kitchen', 0.01, 9, 500, 50),
  'maze2d-open-v0': runLine('maze2d', 0.01, 9, 500, 50),
  'maze2d-open-dense-v0': runLine('maze2d', 0.01, 9, 500, 50),
  'maze2d-umaze-v1': runLine('maze2d', 5.0, 20, 100, 50),
  'maze2d-umaze-dense-v1': runLine('maze2d', 3.0, 5, 500, 50),
  'maze2d-medium-v1': runLine('maze2d', 5.0, 9, 100, 50),
  'maze2d-medium-dense-v1': runLine('maze2d', 5.0, 9, 100, 50),
  'maze2d-large-v1': runLine('maze2d', 4.0, 9, 500, 50),
  'maze2d-large-dense-v1': runLine('maze2d', 4.0, 9, 500, 50),
  'antmaze-umaze-v0': runLine('antmaze', 0.05, 9, 500, 50),
  'antmaze-umaze-diverse-v0': runLine('antmaze', 0.01, 9, 500, 50),
  'antmaze-medium-diverse-v0': runLine('antmaze', 0.01, 9, 100, 80),
  'antmaze-large-diverse-v0': runLine('antmaze', 0.005, 9, 100, 80, { rewardTransform: 'qt-cql-antmaze' }),
};

/** The actor network's settings from the (QT, RDT or RVDT) config and the dataset's dimensions. */
export function actorConfig(
  config: Pick<QtConfig, 'context' | 'width' | 'layers' | 'heads' | 'mlpWidth' | 'activation' | 'maxTimestep' | 'dropout'>,
  context: PolicyContext,
): DecisionTransformerConfig {
  return {
    stateDim: context.obsDim, actionDim: context.actionDim, context: config.context, width: config.width,
    layers: config.layers, heads: config.heads, mlpWidth: config.mlpWidth, activation: config.activation,
    maxTimestep: config.maxTimestep, embeddingDropout: config.dropout, probDropout: config.dropout,
    residDropout: config.dropout, mlpDropout: config.dropout,
    // QT is the kzl code: blocks N(0, 0.02), embeddings and heads PyTorch defaults
    blockInit: 'gpt2', embeddingInit: 'torch',
  };
}

/** torch CosineAnnealingLR stepped once per iteration: the multiplier during 0-based step `step` */
export function iterationCosine(config: Pick<QtConfig, 'lrDecay' | 'iterations' | 'stepsPerIteration'>): Schedule {
  if (!config.lrDecay) return () => 1;
  const cosine = cosineAnnealing(config.iterations);
  return (step) => cosine(Math.floor(step / config.stepsPerIteration));
}

// ---------------------------------------------------------------------------------------------
// Training

/** The actor's loss of one step and the scalars it logs, in logging order. */
export interface ActorObjective {
  total: Tensor;
  terms: Record<string, number>;
}

/** Builds the actor (and, with the same call, its EMA copy); RVDT passes a Gaussian-head actor. */
export type ActorFactory = (network: DecisionTransformerConfig, rng: Rng) => QtActor;

export class QtAlgorithm implements Algorithm {
  readonly actor: QtActor;
  /** the bootstrap actor: starts as a copy of the actor, then an EMA of it; always in train mode (dropout on), as in the reference */
  readonly emaActor: QtActor;
  readonly critic: TwinCritic;
  readonly criticTarget: TwinCritic;
  readonly actorOptimizer: Adam;
  readonly criticOptimizer: Adam;
  private readonly schedule: Schedule;

  constructor(
    readonly config: QtConfig, readonly context: PolicyContext, protected readonly rng: Rng,
    createActor: ActorFactory = (network, actorRng) => new QtActor(network, actorRng),
  ) {
    const network = actorConfig(config, context);
    this.actor = createActor(network, rng);
    this.emaActor = createActor(network, rng);
    this.emaActor.copyFrom(this.actor);
    this.critic = new TwinCritic(context.obsDim, context.actionDim, config.criticWidth, rng);
    this.criticTarget = new TwinCritic(context.obsDim, context.actionDim, config.criticWidth, rng);
    this.criticTarget.copyFrom(this.critic);
    this.actorOptimizer = new Adam(this.actor.parameters(), { lr: config.actorLr, weightDecay: config.actorWeightDecay });
    this.criticOptimizer = new Adam(this.critic.parameters(), { lr: config.criticLr });
    this.schedule = iterationCosine(config);
  }

  /** step: the 0-based index of this gradient step in the run */
  update(batch: WindowBatch, step: number): Record<string, number> {
    const { config } = this;
    const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;

    // 1. critic
    let targetQMean = 0;
    const critic = gradientStep({
      optimizer: this.criticOptimizer, clipNorm: config.clipNorm, schedule: this.schedule, scheduleStep: step, term: 'critic_loss',
      loss: () => {
        const windows = { batchSize: B, context: K, rewards: batch.rewards, terminated: batch.terminated, mask: batch.mask };
        const lastIndices = bootstrapIndices(windows);
        const bootstrap = bootstrapValues(this.emaActor, this.criticTarget, batch, lastIndices);
        const { targets, weights } = nStepTargets(windows, bootstrap, config.discount, lastIndices);
        targetQMean = weightedMean(targets, weights);
        return twinCriticLoss(this.critic, Tensor.borrow(batch.states, [B * K, S]), Tensor.borrow(batch.actions, [B * K, A]), targets, weights);
      },
    });

    // 2. actor, through the critic just updated
    const numerator = drawQNumerator(this.rng);
    let terms: Record<string, number> = {};
    const actor = gradientStep({
      optimizer: this.actorOptimizer, clipNorm: config.clipNorm, schedule: this.schedule, scheduleStep: step, term: 'actor_loss',
      loss: () => {
        const objective = this.actorObjective(batch, numerator);
        terms = objective.terms;
        return objective.total;
      },
      parts: () => terms,
    });

    // 3. EMA actor when due, then the target critics
    if (step > config.emaStart && step % config.emaEvery === 0) softUpdate(this.emaActor, this.actor, 1 - config.emaDecay);
    softUpdate(this.criticTarget, this.critic, config.tau);

    return {
      critic_loss: critic.loss, actor_loss: actor.loss, ...terms, target_q_mean: targetQMean,
      critic_grad_norm: critic.gradNorm, actor_grad_norm: actor.gradNorm, lr_actor: actor.lr, lr_critic: critic.lr,
    };
  }

  /** QT's actor loss (BC + η·Q-term); RVDT overrides it with its rebalanced BC and policy head. */
  protected actorObjective(batch: WindowBatch, numerator: QNumerator): ActorObjective {
    const losses = actorLosses(this.actor, this.critic, batch, numerator, { bc: this.config.bcWeight, eta: this.config.eta });
    const action = losses.actionLoss.item();
    const state = losses.stateLoss.item();
    return {
      total: losses.total,
      terms: { bc_loss: action + state, action_loss: action, state_loss: state, q_loss: losses.qLoss.item(), q_mean: losses.meanQ },
    };
  }

  modules(): Record<string, Module> {
    return { actor: this.actor, ema_actor: this.emaActor, critic: this.critic, critic_target: this.criticTarget };
  }

  optimizers() {
    return {
      actor: { optimizer: this.actorOptimizer, names: this.actor.namedParameters().map(([n]) => n) },
      critic: { optimizer: this.criticOptimizer, names: this.critic.namedParameters().map(([n]) => n) },
    };
  }


  /** acting reads the actor and the target critics */
  policyModules(): Record<string, Module> {
    return { actor: this.actor, critic_target: this.criticTarget };
  }

  /** one condition: the reference evaluates all targets jointly through the candidates */
  evaluationConditions(): EvaluationCondition[] {
    const { targetReturns, candidates, selection, criticReturn } = this.config;
    return [{ label: `targets ${targetReturns.join('/')}, ${candidates} candidates, ${selection}${criticReturn === 'scaled' ? ', scaled critic return' : ''}` }];
  }

  createPolicy(numEnvs: number, _condition: EvaluationCondition, rng: Rng): QtPolicy {
    return new QtPolicy(this.actor, this.criticTarget, this.config, this.context, numEnvs, rng);
  }

  /** the EMA actor is left in train mode: the reference's deep copy never leaves it */
  setTraining(training: boolean): void {
    this.actor.train(training);
  }

  /** the online actor's tanh mean (for RVDT's stochastic head, the Gaussian mean), as the BC term sees it */
  predictActions(batch: WindowBatch): Float32Array {
    return predictWithoutGrad(() => this.actor.forward(batch));
  }
}

function weightedMean(values: Float32Array, weights: Float32Array): number {
  let total = 0;
  let weightSum = 0;
  for (let i = 0; i < values.length; i++) {
    total += (weights[i] as number) * (values[i] as number);
    weightSum += weights[i] as number;
  }
  return weightSum > 0 ? total / weightSum : 0;
}

// ---------------------------------------------------------------------------------------------
// Acting

/** How often the chosen candidate came from each kind of row. */

/**
 * The candidate return rows of one environment step, [N, K], built from the M target rows [M, K]
 * of the history (scaled returns-to-go), the window mask [K] and the critic-derived return:
 * - rows 0 … M⌊N/M⌋ − 1 repeat each target row ⌊N/M⌋ times consecutively;
 * - the remaining rows are i.i.d. N(0, 1) over the real slots (padding stays 0);
 * - rows M … N − 1 get N(0, 0.1²) added to their current (last) return;
 * - the last row's current return is replaced by the critic-derived value.
 */
export function candidateReturns(
  targetRows: Float32Array, targets: number, mask: ArrayLike<number>, criticReturn: number, candidates: number, rng: Rng,
  out = new Float32Array(candidates * mask.length),
): Float32Array {
  const K = mask.length;
  const copies = Math.floor(candidates / targets);
  for (let n = 0; n < candidates; n++) {
    const row = out.subarray(n * K, (n + 1) * K);
    if (n < copies * targets) row.set(targetRows.subarray(Math.floor(n / copies) * K, (Math.floor(n / copies) + 1) * K));
    else for (let k = 0; k < K; k++) row[k] = (mask[k] as number) === 1 ? rng.normal() : 0;
  }
  for (let n = targets; n < candidates; n++) out[n * K + K - 1] = (out[n * K + K - 1] as number) + 0.1 * rng.normal();
  out[candidates * K - 1] = criticReturn;
  return out;
}

/** The candidate kind of row n (see candidateReturns): a target index, 'random' or 'critic'. */
export function candidateKind(n: number, targets: number, candidates: number): number | 'random' | 'critic' {
  if (n === candidates - 1) return 'critic';
  const copies = Math.floor(candidates / targets);
  return n < copies * targets ? Math.floor(n / copies) : 'random';
}

/** The chosen index among scores: a draw from softmax(scores) (no temperature), or the argmax. */
export function chooseCandidate(scores: ArrayLike<number>, selection: 'softmax' | 'argmax', rng: Rng): number {
  let best = 0;
  for (let n = 1; n < scores.length; n++) if ((scores[n] as number) > (scores[best] as number)) best = n;
  if (selection === 'argmax') return best;
  const top = scores[best] as number;
  let total = 0;
  for (let n = 0; n < scores.length; n++) total += Math.exp((scores[n] as number) - top);
  let u = rng.uniform() * total;
  for (let n = 0; n < scores.length; n++) {
    u -= Math.exp((scores[n] as number) - top);
    if (u < 0) return n;
  }
  return scores.length - 1;
}

/**
 * QT acting in N environments: every active environment contributes `candidates` contexts to one
 * batched actor forward; the target critics score the candidates' actions and one is chosen per
 * environment. The actor is used as it is (the caller puts it in eval mode).
 */
export class QtPolicy implements SequencePolicy {
  private readonly buffer: ContextBuffer;
  private readonly scratchState: Float32Array;
  private readonly targets: number;
  /** [numEnvs, M, K] each target's scaled return-to-go history, aligned with the buffer's slots */
  private readonly targetRows: Float32Array;
  /** [numEnvs, M] each target row's return for the next step, R_t − r_t / scale */
  private readonly nextReturns: Float64Array;
  /** r_{t−1} of each environment (0 before the first step), for the critic-derived candidate */
  private readonly previousReward: Float64Array;
  /** chosen counts by candidate kind: M targets, then random, then critic */
  private readonly chosenCounts: Float64Array;

  constructor(
    private readonly actor: DecisionTransformer,
    private readonly criticTarget: TwinCritic,
    private readonly config: QtConfig,
    private readonly context: PolicyContext,
    readonly numEnvs: number,
    private readonly rng: Rng,
  ) {
    const K = config.context;
    this.buffer = new ContextBuffer(numEnvs, K, context.obsDim, context.actionDim, 'left', config.maxTimestep);
    this.scratchState = new Float32Array(context.obsDim);
    this.targets = config.targetReturns.length;
    this.targetRows = new Float32Array(numEnvs * this.targets * K);
    this.nextReturns = new Float64Array(numEnvs * this.targets);
    this.previousReward = new Float64Array(numEnvs);
    this.chosenCounts = new Float64Array(this.targets + 2);
  }

  beginEpisode(envIndex: number): void {
    this.buffer.reset(envIndex);
    const M = this.targets;
    const K = this.config.context;
    this.targetRows.fill(0, envIndex * M * K, (envIndex + 1) * M * K);
    this.previousReward[envIndex] = 0;
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const { obsDim: S, actionDim: A } = this.context;
    const { context: K, candidates: N, returnScale } = this.config;
    const M = this.targets;
    const envs: number[] = [];
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      envs.push(i);
      const first = this.buffer.stepCount[i] === 0;
      this.buffer.pushState(i, normalizeState(this.context, observations, i * S, this.scratchState), 0);
      for (let m = 0; m < M; m++) {
        const row = this.targetRows.subarray((i * M + m) * K, (i * M + m + 1) * K);
        row.copyWithin(0, 1);
        row[K - 1] = first ? (this.config.targetReturns[m] as number) / returnScale : (this.nextReturns[i * M + m] as number);
      }
    }
    if (envs.length === 0) return;
    tidy(() => noGrad(() => {
      const criticReturns = this.criticReturns(envs);
      const C = envs.length * N;
      const states = new Float32Array(C * K * S);
      const pastActions = new Float32Array(C * K * A);
      const timesteps = new Int32Array(C * K);
      const mask = new Float32Array(C * K);
      const returnsToGo = new Float32Array(C * K);
      const currentStates = new Float32Array(C * S);
      envs.forEach((i, e) => {
        const windowMask = this.buffer.mask.subarray(i * K, (i + 1) * K);
        candidateReturns(
          this.targetRows.subarray(i * M * K, (i + 1) * M * K), M, windowMask, criticReturns[e] as number, N, this.rng,
          returnsToGo.subarray(e * N * K, (e + 1) * N * K),
        );
        for (let n = 0; n < N; n++) {
          const c = e * N + n;
          states.set(this.buffer.states.subarray(i * K * S, (i + 1) * K * S), c * K * S);
          pastActions.set(this.buffer.actions.subarray(i * K * A, (i + 1) * K * A), c * K * A);
          timesteps.set(this.buffer.timesteps.subarray(i * K, (i + 1) * K), c * K);
          mask.set(windowMask, c * K);
          currentStates.set(this.buffer.states.subarray((i * K + K - 1) * S, (i * K + K) * S), c * S);
        }
      });
      const predicted = this.actor.forward({ batchSize: C, states, actions: pastActions, returnsToGo, timesteps, mask }).data;
      const candidateActions = new Float32Array(C * A);
      for (let c = 0; c < C; c++) candidateActions.set(predicted.subarray((c * K + K - 1) * A, (c * K + K) * A), c * A);
      const scores = this.criticTarget.qMin(Tensor.borrow(currentStates, [C, S]), Tensor.borrow(candidateActions, [C, A])).data;
      envs.forEach((i, e) => {
        const n = chooseCandidate(scores.subarray(e * N, (e + 1) * N), this.config.selection, this.rng);
        const kind = candidateKind(n, M, N);
        const slot = kind === 'critic' ? M + 1 : kind === 'random' ? M : kind;
        this.chosenCounts[slot] = (this.chosenCounts[slot] as number) + 1;
        const chosen = candidateActions.subarray((e * N + n) * A, (e * N + n + 1) * A);
        for (let d = 0; d < A; d++) {
          const low = this.context.actionLow[d] as number;
          const high = this.context.actionHigh[d] as number;
          actions[i * A + d] = Math.min(high, Math.max(low, chosen[d] as number));
        }
        this.buffer.setCurrentAction(i, chosen);
      });
    }));
  }

  observeRewards(rewards: Float64Array, active: Uint8Array): void {
    const M = this.targets;
    const K = this.config.context;
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      const reward = rewards[i] as number;
      for (let m = 0; m < M; m++) {
        this.nextReturns[i * M + m] = (this.targetRows[(i * M + m) * K + K - 1] as number) - reward / this.config.returnScale;
      }
      this.previousReward[i] = reward;
      this.buffer.advance(i);
    }
  }

  /** how often each kind of candidate was chosen since this policy was created */
  candidateChoices(): CandidateChoice[] {
    return [
      ...this.config.targetReturns.map((target, m) => ({ label: `target ${target}`, chosen: this.chosenCounts[m] as number })),
      { label: 'random', chosen: this.chosenCounts[this.targets] as number },
      { label: 'critic', chosen: this.chosenCounts[this.targets + 1] as number },
    ];
  }

  /**
   * The critic-derived current return of each environment: min(Q1', Q2')(s_{t−1}, a_{t−1}) from the
   * window's second-to-last slot (zero padding at t = 0), minus r_{t−1}/scale (reference units) or
   * (Q − r_{t−1})/scale (scaled).
   */
  private criticReturns(envs: readonly number[]): Float32Array {
    const { obsDim: S, actionDim: A } = this.context;
    const { context: K, returnScale } = this.config;
    const previousStates = new Float32Array(envs.length * S);
    const previousActions = new Float32Array(envs.length * A);
    envs.forEach((i, e) => {
      const slot = i * K + K - 2;
      previousStates.set(this.buffer.states.subarray(slot * S, (slot + 1) * S), e * S);
      previousActions.set(this.buffer.actions.subarray(slot * A, (slot + 1) * A), e * A);
    });
    const q = this.criticTarget.qMin(Tensor.borrow(previousStates, [envs.length, S]), Tensor.borrow(previousActions, [envs.length, A])).data;
    return Float32Array.from(envs, (i, e) => {
      const value = q[e] as number;
      const reward = this.previousReward[i] as number;
      return this.config.criticReturn === 'reference' ? value - reward / returnScale : (value - reward) / returnScale;
    });
  }
}

export const qtAlgorithm: AlgorithmDefinition<QtConfig> = {
  name: 'qt',
  description: 'QT (charleshsc/QT): DT actor regularized by twin n-step critics; acts by critic-weighted choice among 50 candidates',
  configSchema: QtConfigSchema,
  presets: QT_PRESETS,
  sampler: 'qt',
  returnScale: (config) => config.returnScale,
  rewardTransform: (config) => config.rewardTransform,
  create: (config, context, rng) => new QtAlgorithm(config, context, rng),
};
