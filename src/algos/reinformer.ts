/**
 * Reinformer: max-return sequence modelling (Zhuang et al. 2024; Dragon-Zhuang/Reinformer 61eaed9).
 *
 * Tokens per timestep: (state, return-to-go, action). A causal post-LN transformer reads the
 * interleaved sequence and two heads read it:
 * - at the state token s_t, a linear head predicts the return-to-go Ĝ_t. It is trained with an
 *   expectile loss (m near 1), so Ĝ_t tracks the largest return the data shows after this history;
 * - at the return token R_t, a Gaussian head N(tanh(W h), σ²) with a state-independent learned σ
 *   gives the action. It is trained by negative log-likelihood minus λ times its entropy, and the
 *   temperature λ is tuned towards a target entropy of −A, as in SAC.
 * One step: L = L_R + (NLL − λ·H̄) with λ detached; clip the global gradient norm at 0.25; one LAMB
 * step (5000-step linear warm-up); then one Adam step on log λ for λ·(H̄ − H̄*) using the entropy
 * of this step's forward pass (before the LAMB update).
 *
 * Acting needs no target return (ReinformerPolicy, at the end of this file): at every step pass 1 predicts Ĝ_t at the new state token and
 * writes it into the context as R_t; pass 2 reads the Gaussian mean at the R_t token. The context's
 * returns are the model's own earlier predictions, never decremented by rewards.
 *
 * Where the code and the paper differ we follow the code (docs/algorithms/reinformer.md lists all):
 * - the expectile residual is divided by the batch mean |G| over unpadded positions (a code detail);
 *   when that mean is 0 the reference divides by zero (NaN), we divide by 1 instead;
 * - the action distribution's std is one learned vector (clipped to [−20, 2] in log space) shared by
 *   every state, and log-probabilities are of a plain Normal around tanh(μ), not a squashed Normal;
 * - the entropy is averaged over every position, padding included; σ being shared, that equals the
 *   entropy of one position, which is how it is computed here;
 * - λ lives outside the network (its own Adam at 1e-4, no clipping, no warm-up);
 * - the reference's next-state head on the action token feeds no loss; it is left out (it would get
 *   no gradient, hence no clipping share and no LAMB update either);
 * - no attention padding mask: training windows are right-padded (only trajectories shorter than K
 *   are padded at all), so causal attention already keeps padding out of every unpadded position;
 * - acting clips the mean to the action bounds before executing it (a no-op for D4RL's [−1, 1]);
 * - log σ is stepped by LAMB with the network, whose trust ratio holds a zero-initialized tensor near
 *   0, so σ stays 1 and the entropy term is inert, in the reference too; `logStdOptimizer: 'adam'`
 *   (off by default) gives log σ an Adam of its own so the entropy term can act.
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import {
  add, addScalar, backend, exp, expectileLoss, gaussianEntropy, gaussianLogProb, keepScalar, maskedRowSumMean, mul, neg, noGrad, reshape, scale, sub,
  sum, tanh, tidy, Tensor, type Parameter, type Rng, type Scalar,
} from '../engine/index.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { assertFiniteGradient, assertFiniteWeights, checkFiniteLater } from '../nn/nonfinite.js';
import { Adam, gradNorm, Lamb, linearWarmup } from '../nn/optim.js';
import { gradientStep } from '../nn/step.js';
import { TrajectoryTransformer, type TrajectoryTransformerConfig, type TransformerInput } from '../nn/transformer.js';
import {
  predictWithoutGrad, withTraining,
  type Algorithm, type AlgorithmDefinition, type PolicyDefinition, type EvaluationCondition, type PolicyContext, type PolicyModel, type SequencePolicy, settled, type StepMetrics,
} from './algorithm.js';
import { clampAction, ContextBuffer, normalizeState } from './parts/context-buffer.js';
import { clippedLogStd, initialLogStd } from './parts/gaussian-head.js';

// ---------------------------------------------------------------------------------------------
// Network

/**
 * The trunk's shape fields (maxTimestep: the reference's table has 4096 rows) and one dropout p
 * for the attention output, the attention projection and the MLP output.
 */
export type ReinformerNetworkConfig = Pick<TrajectoryTransformerConfig, 'stateDim' | 'actionDim' | 'context' | 'width' | 'layers' | 'heads' | 'maxTimestep'> & {
  dropout: number;
};

/** The network's outputs for a batch of windows. */
export interface ReinformerOutputs {
  /** Ĝ at the state tokens, [B, K, 1] (scaled return units) */
  returns: Tensor;
  /** Gaussian means tanh(W h) at the return tokens, [B, K, A] */
  actionMeans: Tensor;
}

/** The loss terms of one training step, as tensors; `total` is what gets differentiated. */
export interface ReinformerLosses extends ReinformerOutputs {
  /** expectile loss of Ĝ towards the dataset returns-to-go (L_R) */
  returnLoss: Tensor;
  /** −mean over unpadded positions of Σ_d log N(a_d; μ_d, σ_d) */
  actionNll: Tensor;
  /** Σ_d entropy of N(·, σ_d²) (the same at every position) */
  entropy: Tensor;
  /** NLL − λ·entropy with λ a constant (L_a) */
  actionLoss: Tensor;
  /** L_R + L_a */
  total: Tensor;
}

/** Transformer trunk, the return head at the state tokens and the Gaussian action head at the return tokens. */
export class ReinformerNetwork extends Module {
  readonly transformer: TrajectoryTransformer;
  readonly predict_return: Linear;
  readonly predict_action_mean: Linear;
  /** log σ per action dimension, shared by every state (the reference's `log_std`, initialized at 0) */
  readonly action_log_std: Parameter;

  constructor(readonly config: ReinformerNetworkConfig, rng: Rng) {
    super();
    const c = config;
    this.transformer = this.addModule('transformer', new TrajectoryTransformer({
      stateDim: c.stateDim, actionDim: c.actionDim, context: c.context, width: c.width, layers: c.layers,
      heads: c.heads, mlpWidth: 4 * c.width, activation: 'gelu_erf', maxTimestep: c.maxTimestep,
      tokenOrder: ['state', 'return', 'action'],
      blockStyle: 'post-ln',
      fusedQkv: false,
      finalLayerNorm: false,
      // the reference drops out the attention output (weights·V), the projection and the MLP output, nothing else
      embeddingDropout: 0, probDropout: 0, outputDropout: c.dropout, residDropout: c.dropout, mlpDropout: c.dropout,
      blockInit: 'torch', embeddingInit: 'torch',
    }, rng));
    this.predict_return = this.addModule('predict_return', new Linear(c.width, 1, rng));
    this.predict_action_mean = this.addModule('predict_action_mean', new Linear(c.width, c.actionDim, rng));
    this.action_log_std = initialLogStd(this.addParameter('action_log_std', [c.actionDim]));
  }

  /** The batch's mask is not used here: Reinformer attends causally without a padding mask. */
  forward(batch: TransformerInput): ReinformerOutputs {
    const hidden = this.transformer.forward({
      batchSize: batch.batchSize, states: batch.states, actions: batch.actions,
      returnsToGo: batch.returnsToGo, timesteps: batch.timesteps, mask: null,
    });
    return {
      returns: this.predict_return.forward(this.transformer.token(hidden, 'state')),
      actionMeans: tanh(this.predict_action_mean.forward(this.transformer.token(hidden, 'return'))),
    };
  }

  /** log σ as the distribution uses it, [A] */
  clippedLogStd(): Tensor {
    return clippedLogStd(this.action_log_std);
  }

  /** H̄ = Σ_d entropy of N(·, σ_d²), [] (σ is shared, so this is every position's entropy) */
  entropy(): Tensor {
    return sum(gaussianEntropy(this.clippedLogStd()));
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration and presets

export const ReinformerConfigSchema = z.object({
  context: z.number().int().min(1).default(5),
  width: z.number().int().min(1).default(256),
  layers: z.number().int().min(1).default(4),
  heads: z.number().int().min(1).default(8),
  maxTimestep: z.number().int().min(1).default(4096),
  dropout: z.number().min(0).max(0.99).default(0.1),
  /** expectile m of the return loss (the reference's --tau) */
  expectile: z.number().gt(0).lt(1).default(0.99),
  initTemperature: z.number().positive().default(0.1),
  /** target entropy H̄*; null: −actionDim, as the reference */
  targetEntropy: z.number().nullable().default(null),
  temperatureLr: z.number().positive().default(1e-4),
  batchSize: z.number().int().min(1).default(128),
  steps: z.number().int().min(1).default(50_000),
  lr: z.number().positive().default(1e-4),
  weightDecay: z.number().min(0).default(1e-4),
  warmupSteps: z.number().int().min(0).default(5000),
  clipNorm: z.number().positive().nullable().default(0.25),
  /** LAMB's own rescaling of the global gradient norm before its update (timm's max_grad_norm) */
  lambMaxGradNorm: z.number().positive().nullable().default(1.0),
  /** network input = return-to-go / returnScale */
  returnScale: z.number().positive().default(1000),
  /**
   * what steps the learned log σ. lamb (reference): LAMB with the network; its trust ratio scales
   * each update by the tensor's own norm, so log σ, initialized at 0, stays within about 1e-5 of 0
   * (σ = 1) and the entropy term does nothing. adam: log σ leaves LAMB for an Adam of its own
   * (logStdLr, the network's warm-up), so the likelihood and the entropy term move σ.
   * docs/algorithms/reinformer.md, "The learned σ under LAMB".
   */
  logStdOptimizer: z.enum(['lamb', 'adam']).default('lamb'),
  /** the learning rate of log σ's Adam (logStdOptimizer adam); null: the network's lr */
  logStdLr: z.number().positive().nullable().default(null),
}).strict();

export type ReinformerConfig = z.infer<typeof ReinformerConfigSchema>;

/**
 * Return scales of the reference per environment family, plus its two per-dataset batch sizes.
 * The reference has no per-dataset K or m (the paper's appendix lists them; not read), so every
 * dataset runs the code defaults. hopper-medium-replay stays at 128: the reference meant 256 but
 * misspells the name ("meidum-replay"), so its runs used 128.
 */
function presetsFor(datasets: readonly string[], preset: Partial<ReinformerConfig>): Record<string, Partial<ReinformerConfig>> {
  return Object.fromEntries(datasets.map((id) => [id, preset]));
}
const gymLevels = ['medium', 'medium-replay', 'medium-expert'];
const gym = (env: string): string[] => gymLevels.map((level) => `${env}-${level}-v2`);
const adroit = ['pen', 'door', 'hammer', 'relocate'].flatMap((task) => ['human', 'cloned', 'expert'].map((level) => `${task}-${level}-v1`));
export const REINFORMER_PRESETS: Record<string, Partial<ReinformerConfig>> = {
  ...presetsFor(gym('hopper'), { returnScale: 1000 }),
  'hopper-medium-v2': { returnScale: 1000, batchSize: 256 },
  ...presetsFor(gym('walker2d'), { returnScale: 1000 }),
  ...presetsFor(gym('halfcheetah'), { returnScale: 5000 }),
  ...presetsFor(['maze2d-umaze-v1', 'maze2d-medium-v1', 'maze2d-large-v1'], { returnScale: 100 }),
  ...presetsFor(['kitchen-partial-v0', 'kitchen-mixed-v0'], { returnScale: 100 }),
  'kitchen-complete-v0': { returnScale: 100, batchSize: 16 },
  // AntMaze returns are sums of the transformed rewards 100·r + 1 (the data layer's 'antmaze-reinformer')
  ...presetsFor(['umaze', 'umaze-diverse', 'medium-play', 'medium-diverse', 'large-play', 'large-diverse'].map((m) => `antmaze-${m}-v2`), { returnScale: 1 }),
  ...presetsFor(adroit, { returnScale: 10000 }),
};

function networkConfig(config: ReinformerConfig, context: PolicyContext): ReinformerNetworkConfig {
  return {
    stateDim: context.obsDim, actionDim: context.actionDim, context: config.context, width: config.width,
    layers: config.layers, heads: config.heads, maxTimestep: config.maxTimestep, dropout: config.dropout,
  };
}

// ---------------------------------------------------------------------------------------------
// Losses and update

/**
 * L = L_R + NLL − λ·H̄ on a batch, λ a constant here (a number, or a one-element tensor without
 * gradient, which keeps λ where log λ lives, e.g. on a device):
 *   L_R = Σ m · |m_e − 1(G − Ĝ < 0)| · ((G − Ĝ) / Ḡ)² / Σ m,  Ḡ = mean |G| over unpadded positions,
 *   NLL = −Σ m Σ_d log N(a_d; tanh(W h)_d, σ_d²) / Σ m,  H̄ = Σ_d entropy of N(·, σ_d²).
 * `mask` m (1 real, 0 padding) selects the positions of the return loss and the likelihood; null
 * means every position is real.
 */
export function reinformerLosses(
  model: ReinformerNetwork, batch: TransformerInput, options: { expectile: number; temperature: number | Tensor },
): ReinformerLosses {
  const outputs = model.forward(batch);
  const B = batch.batchSize;
  const { context: K, actionDim: A } = model.config;
  const weights = batch.mask ?? new Float32Array(B * K).fill(1);

  // the residual is measured in units of the batch's mean |G| (a constant, as in the reference)
  const returnTargets = Tensor.borrow(batch.returnsToGo, [B * K, 1]);
  const returnLoss = expectileLoss(reshape(outputs.returns, [B * K, 1]), returnTargets, options.expectile, weights,
    returnNormalizer(batch.returnsToGo, weights));

  const logStd = model.clippedLogStd();
  const logProb = gaussianLogProb(Tensor.borrow(batch.actions, [B * K, A]), reshape(outputs.actionMeans, [B * K, A]), logStd);
  const actionNll = neg(maskedRowSumMean(logProb, weights));
  const entropy = sum(gaussianEntropy(logStd));
  const { temperature } = options;
  const actionLoss = sub(actionNll, typeof temperature === 'number' ? scale(entropy, temperature) : mul(entropy, temperature));
  return { ...outputs, returnLoss, actionNll, entropy, actionLoss, total: add(returnLoss, actionLoss) };
}

/**
 * mean |G| over unpadded positions, the reference's `norm`. A batch whose returns are all 0 would
 * make the reference divide by zero; 1 leaves the residual unscaled instead.
 */
export function returnNormalizer(returnsToGo: Float32Array, weights: Float32Array): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    total += w * Math.abs(returnsToGo[i] as number);
    count += w;
  }
  const normalizer = count > 0 ? total / count : 0;
  return normalizer > 0 ? normalizer : 1;
}

/** The entropy temperature λ = exp(log λ), a module of its own so checkpoints hold it with its Adam state. */
export class EntropyTemperature extends Module {
  readonly log_temperature: Parameter;

  constructor(initialTemperature: number) {
    super();
    this.log_temperature = this.addParameter('log_temperature', [1]);
    this.log_temperature.data[0] = Math.log(initialTemperature);
  }

  /** λ = exp(log λ) without gradient, [], computed where log λ lives (nothing is read on a device) */
  value(): Tensor {
    return noGrad(() => reshape(exp(this.log_temperature), []));
  }

  /** λ·(H̄ − H̄*), differentiable in log λ only; `entropy` a one-element tensor without gradient */
  loss(entropy: Tensor, targetEntropy: number): Tensor {
    return mul(exp(this.log_temperature), addScalar(entropy, -targetEntropy));
  }
}

/** What acting needs: the network (eval mode), and the return scale to report its predictions in reward units. */
class ReinformerPolicyModel implements PolicyModel {
  constructor(readonly model: ReinformerNetwork, readonly config: ReinformerConfig, readonly context: PolicyContext) {}

  policyModules(): Record<string, Module> {
    return { model: this.model };
  }

  evaluationConditions(): EvaluationCondition[] {
    return [{ label: 'max-return' }];
  }

  createPolicy(numEnvs: number): SequencePolicy {
    return new ReinformerPolicy(this.model, this.context, numEnvs, this.config.returnScale);
  }

  setTraining(training: boolean): void {
    this.model.train(training);
  }

  /** the Gaussian means at the return tokens, read from the dataset's returns-to-go (acting reads them at Ĝ) */
  predictActions(batch: TransformerInput): Float32Array {
    return predictWithoutGrad(() => this.model.forward(batch).actionMeans);
  }
}

/**
 * One step: L on the network (clip, LAMB with warm-up), then one Adam step on log λ for
 * λ·(H̄ − H̄*) with this step's entropy.
 */
class ReinformerAlgorithm extends ReinformerPolicyModel implements Algorithm {
  readonly temperature: EntropyTemperature;
  private readonly optimizer: Lamb;
  /** the names of the parameters LAMB steps, in its order (all but log σ when log σ has its own Adam) */
  private readonly lambNames: string[];
  /** log σ's own Adam (logStdOptimizer adam), null when LAMB steps it (reference) */
  private readonly logStdOptimizer: Adam | null;
  private readonly temperatureOptimizer: Adam;
  private readonly schedule: (step: number) => number;
  private readonly targetEntropy: number;

  constructor(config: ReinformerConfig, context: PolicyContext, rng: Rng) {
    super(new ReinformerNetwork(networkConfig(config, context), rng), config, context);
    this.temperature = new EntropyTemperature(config.initTemperature);
    const separateLogStd = config.logStdOptimizer === 'adam';
    const lambParameters = this.model.namedParameters().filter(([, p]) => !separateLogStd || p !== this.model.action_log_std);
    this.lambNames = lambParameters.map(([n]) => n);
    this.optimizer = new Lamb(lambParameters.map(([, p]) => p), { lr: config.lr, weightDecay: config.weightDecay, maxGradNorm: config.lambMaxGradNorm });
    this.logStdOptimizer = separateLogStd ? new Adam([this.model.action_log_std], { lr: config.logStdLr ?? config.lr }) : null;
    this.temperatureOptimizer = new Adam(this.temperature.parameters(), { lr: config.temperatureLr });
    this.schedule = linearWarmup(config.warmupSteps);
    this.targetEntropy = config.targetEntropy ?? -context.actionDim;
  }

  /**
   * Nothing here reads a value on the host: λ and H̄ enter the losses as tensors and every logged
   * term is a Scalar, so on a device the whole step is queued without waiting for it.
   */
  update(batch: WindowBatch, step: number): StepMetrics {
    // the scope frees λ and the entropy below once both steps are queued
    return tidy(() => {
      // λ and H̄ before either update, both constants of the losses (the reference detaches them);
      // H̄ depends on log σ alone, so this is the entropy of this step's forward pass
      const temperature = this.temperature.value();
      const entropyBefore = noGrad(() => this.model.entropy());
      let terms: Record<'return_loss' | 'action_nll' | 'entropy' | 'action_loss', Scalar> | undefined;
      // the step below zeroes only LAMB's gradients; log σ's, when Adam steps it, is zeroed here
      this.logStdOptimizer?.zeroGrad();
      const result = gradientStep({
        optimizer: this.optimizer, clipNorm: this.config.clipNorm, schedule: this.schedule, scheduleStep: step,
        loss: () => {
          const losses = reinformerLosses(this.model, batch, { expectile: this.config.expectile, temperature });
          terms = {
            return_loss: keepScalar(losses.returnLoss), action_nll: keepScalar(losses.actionNll),
            entropy: keepScalar(losses.entropy), action_loss: keepScalar(losses.actionLoss),
          };
          return losses.total;
        },
        parts: () => ({ ...terms }),
      });
      // on a device the network step's guard holds these back too when its loss or gradient was not finite
      if (this.logStdOptimizer !== null) this.stepLogStd(this.logStdOptimizer, step, result.guard);
      const temperatureStep = gradientStep({
        optimizer: this.temperatureOptimizer, clipNorm: null,
        loss: () => this.temperature.loss(entropyBefore, this.targetEntropy),
        term: 'temperature_loss',
        ...(result.guard === undefined ? {} : { requireFinite: result.guard }),
      });
      return settled({
        loss: result.loss,
        ...terms,
        temperature: keepScalar(temperature),
        temperature_loss: temperatureStep.loss,
        grad_norm: result.gradNorm,
        lr: result.lr,
      });
    });
  }

  /**
   * One Adam step on log σ with the gradient the network's backward left on it: the network's
   * warm-up, no clipping (Adam's step does not scale with the gradient's size), the same
   * finiteness guard as every other step.
   */
  private stepLogStd(optimizer: Adam, step: number, networkGuard: Scalar | undefined): void {
    const norm = gradNorm(optimizer.params);
    if (norm.known !== undefined) assertFiniteGradient('action_log_std', norm.known);
    else checkFiniteLater({ term: 'action_log_std', kind: 'gradient', value: norm });
    optimizer.lr = optimizer.baseLr * this.schedule(step);
    optimizer.step(networkGuard?.storage === undefined ? norm : backend().finiteGuard(networkGuard.storage, norm));
    assertFiniteWeights('action_log_std', optimizer.params);
  }

  modules(): Record<string, Module> {
    return { model: this.model, temperature: this.temperature };
  }

  optimizers() {
    return {
      optimizer: { optimizer: this.optimizer, names: this.lambNames },
      ...(this.logStdOptimizer === null ? {} : { log_std_optimizer: { optimizer: this.logStdOptimizer, names: ['action_log_std'] } }),
      temperature_optimizer: { optimizer: this.temperatureOptimizer, names: this.temperature.namedParameters().map(([n]) => n) },
    };
  }

}

// ---------------------------------------------------------------------------------------------
// Acting

/**
 * Reinformer acting in N environments, two batched forwards per step over every environment's
 * window. Windows start at slot 0 and are read at the current step's slot (slot t while t < K,
 * slot K−1 after); slots after it hold zeros, which causal attention hides from that slot.
 */
export class ReinformerPolicy implements SequencePolicy {
  /** every environment's window: states, the returns pass 1 predicted, actions taken */
  readonly buffer: ContextBuffer;
  private readonly scratchState: Float32Array;

  /** pass 1's prediction at each environment's first step, in reward units (NaN before it) */
  private readonly firstPrediction: Float64Array;

  constructor(
    private readonly model: ReinformerNetwork,
    private readonly context: PolicyContext,
    readonly numEnvs: number,
    /** network returns × returnScale = reward units; only reports read it (firstPredictedReturn) */
    private readonly returnScale = 1,
  ) {
    const c = model.config;
    this.buffer = new ContextBuffer(numEnvs, c.context, context.obsDim, context.actionDim, 'right', c.maxTimestep);
    this.scratchState = new Float32Array(context.obsDim);
    this.firstPrediction = new Float64Array(numEnvs).fill(Number.NaN);
  }

  beginEpisode(envIndex: number): void {
    this.buffer.reset(envIndex);
    this.firstPrediction[envIndex] = Number.NaN;
  }

  /** the in-distribution maximal return pass 1 predicted at the episode's first state, in reward units */
  firstPredictedReturn(envIndex: number): number | undefined {
    const predicted = this.firstPrediction[envIndex] as number;
    return Number.isNaN(predicted) ? undefined : predicted;
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const { obsDim, actionDim } = this.context;
    const buffer = this.buffer;
    const K = buffer.context;
    for (let i = 0; i < this.numEnvs; i++) {
      if (active[i] !== 1) continue;
      // R_t is unknown until pass 1 predicts it; the zero placeholder matches the reference's buffers
      buffer.pushState(i, normalizeState(this.context, observations, i * obsDim, this.scratchState), 0);
    }
    const windows: TransformerInput = {
      batchSize: this.numEnvs, states: buffer.states, actions: buffer.actions,
      returnsToGo: buffer.returnsToGo, timesteps: buffer.timesteps, mask: null,
    };
    // pass 1: the in-distribution maximal return at s_t becomes R_t
    tidy(() => {
      const { returns } = noGrad(() => this.model.forward(windows));
      for (let i = 0; i < this.numEnvs; i++) {
        if (active[i] !== 1) continue;
        const predicted = returns.data[i * K + buffer.currentSlot(i)] as number;
        buffer.setCurrentReturn(i, predicted);
        if (buffer.stepCount[i] === 0) this.firstPrediction[i] = predicted * this.returnScale;
      }
    });
    // pass 2: the Gaussian mean at R_t is the action
    tidy(() => {
      const { actionMeans } = noGrad(() => this.model.forward(windows));
      for (let i = 0; i < this.numEnvs; i++) {
        if (active[i] !== 1) continue;
        const slot = i * K + buffer.currentSlot(i);
        const mean = actionMeans.data.subarray(slot * actionDim, (slot + 1) * actionDim);
        clampAction(this.context, mean, actions, i * actionDim);
        buffer.setCurrentAction(i, mean);
        // the step's state, return and action are all in place; rewards are never needed
        buffer.advance(i);
      }
    });
  }
}

/** What loading a reinformer policy file needs (src/deploy): no training class is referenced from here. */
export const reinformerPolicyDefinition: PolicyDefinition<ReinformerConfig> = {
  name: 'reinformer',
  configSchema: ReinformerConfigSchema,
  // acting conditions on the network's own predicted return: nothing to choose after training
  actingSettings: [],
  createPolicyModel: (config, context, rng) => new ReinformerPolicyModel(new ReinformerNetwork(networkConfig(config, context), rng), config, context),
};

export const reinformer: AlgorithmDefinition<ReinformerConfig> = /* @__PURE__ */ withTraining(reinformerPolicyDefinition, {
  description: 'Reinformer: max-return sequence modelling with an expectile return head and a Gaussian action head',
  presets: REINFORMER_PRESETS,
  sampler: 'reinformer',
  returnScale: (config) => config.returnScale,
  create: (config, context, rng) => new ReinformerAlgorithm(config, context, rng),
});
