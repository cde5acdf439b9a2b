/**
 * QT's critic (Hu et al. 2024; charleshsc/QT cb9e1a4, spec section 4), shared by QT and RVDT: twin
 * Mish MLPs Q1, Q2 on (normalized state, action) per timestep, their soft updates, the discounted
 * n-step targets over each window, the twin TD loss and the Q-term of the actor's loss.
 */
import type { WindowBatch } from '../../data/sampler.js';
import {
  abs, add, concat, div, embedding, maskedRowSumMean, minimum, mish, mseLoss, mul, neg, noGrad, reshape, tidy, Tensor, wholeArray, type Rng,
} from '../../engine/index.js';
import { kernels } from '../../engine/ops/kernels.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import type { TransformerInput } from '../../nn/transformer.js';

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

/**
 * target ← (1 − weight) · target + weight · source, parameter by parameter (Polyak: weight τ; EMA:
 * weight 1 − decay), with the backend's kernels, so the blend runs where the weights live. Computed
 * as target + weight · (source − target): the gap's rounding is scaled by the small weight, so the
 * result is rounded about once, as the blend's exact value would be. A copy and two axpy: kernels
 * every backend has natively (on native, about twice as fast as the host loop it replaces).
 */
export function softUpdate(target: Module, source: Module, weight: number): void {
  const sources = source.parameters();
  noGrad(() => tidy(() => {
    target.parameters().forEach((p, i) => {
      const q = sources[i];
      if (q === undefined || q.size !== p.size) throw new Error(`softUpdate: ${p.name} has no counterpart of the same size`);
      const k = kernels(p.dtype);
      const gap = Tensor.empty(p.shape, p.dtype);
      k.copyBlocks(q.storage, gap.storage, wholeArray(p.size), false);
      k.axpy(-1, p.storage, gap.storage, p.size);
      k.axpy(weight, gap.storage, p.storage, p.size);
    });
  }));
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
 * The index of each window's last real step (the bootstrap step). With QT's left padding (the
 * sampler RDT and RVDT use too) this is always K − 1; a right-padded window would end earlier.
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
 * What QT's discounted n-step targets (reference `k_rewards` + `use_discount`) take from the batch
 * alone, all [B * K] host arrays except lastRows. With T the window's last real index and d_T its
 * terminal flag, the target of a real step t < T is
 *   y_t = Σ_{j=t}^{T−1} γ^{j−t} r_j + γ^{T−t} (1 − d_T) Q_b = rewardSums_t + bootstrapWeights_t · Q_b
 * with Q_b the window's bootstrap value (a network output, combined in nStepTargets where the
 * networks run). r_T is never used (the reference zeroes it), so a window ending on a terminal step
 * loses its final reward.
 */
export interface NStepParts {
  batchSize: number;
  context: number;
  /** Σ_{j=t}^{T−1} γ^{j−t} r_j for t < T, 0 at T and beyond */
  rewardSums: Float32Array;
  /** γ^{T−t} (1 − d_T) for t < T, 0 at T and beyond: the share of the bootstrap value in y_t */
  bootstrapWeights: Float32Array;
  /** the critic loss's row weights: mask[t] for t < T, 0 at T and beyond and at padding */
  weights: Float32Array;
  /** [B]: the row b · K + T of each window's bootstrap step, for gathering its state and action */
  lastRows: Int32Array;
}

export function nStepParts(windows: RewardWindows, discount: number, lastIndices = bootstrapIndices(windows)): NStepParts {
  const { batchSize: B, context: K, rewards, terminated, mask } = windows;
  const rewardSums = new Float32Array(B * K);
  const bootstrapWeights = new Float32Array(B * K);
  const weights = new Float32Array(B * K);
  const lastRows = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const last = lastIndices[b] as number;
    lastRows[b] = b * K + last;
    // summed in double, as the reference's recursion; rounded to float32 once per entry
    let sum = 0;
    let share = 1 - (terminated[b * K + last] as number);
    for (let t = last - 1; t >= 0; t--) {
      sum = (rewards[b * K + t] as number) + discount * sum;
      share *= discount;
      rewardSums[b * K + t] = sum;
      bootstrapWeights[b * K + t] = share;
      weights[b * K + t] = mask[b * K + t] as number;
    }
  }
  return { batchSize: B, context: K, rewardSums, bootstrapWeights, weights, lastRows };
}

/** The n-step targets y [B * K, 1] from the batch's parts and the bootstrap values [B, 1] (tensors, no gradient). */
export function nStepTargets(parts: NStepParts, bootstrap: Tensor): Tensor {
  const { batchSize: B, context: K } = parts;
  if (bootstrap.size !== B) throw new RangeError(`nStepTargets: ${bootstrap.size} bootstrap values for ${B} windows`);
  return noGrad(() => {
    const bootstrapped = mul(Tensor.borrow(parts.bootstrapWeights, [B, K]), reshape(bootstrap, [B, 1]));
    return reshape(add(Tensor.borrow(parts.rewardSums, [B, K]), bootstrapped), [B * K, 1]);
  });
}

/**
 * The bootstrap values min(Q1', Q2')(s_T, ã_T) [B, 1]: ã from the EMA actor at each window's last
 * real step T (row lastRows[b]), scored by the target critics. No gradient; nothing read on the host.
 */
export function bootstrapValues(emaActor: { forward(batch: TransformerInput): Tensor }, criticTarget: TwinCritic, batch: WindowBatch, lastRows: Int32Array): Tensor {
  const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;
  return noGrad(() => {
    const actions = reshape(emaActor.forward(batch), [B * K, A]);
    const lastStates = embedding(Tensor.borrow(batch.states, [B * K, S]), lastRows);
    return criticTarget.qMin(lastStates, embedding(actions, lastRows));
  });
}

// ---------------------------------------------------------------------------------------------
// Losses

/** Mean over the weighted rows of MSE(Q1, y) + MSE(Q2, y): the twin critics' TD loss (targets y [N, 1]). */
export function twinCriticLoss(critic: TwinCritic, states: Tensor, actions: Tensor, targets: Tensor, weights: Float32Array): Tensor {
  const { q1, q2 } = critic.forward(states, actions);
  return add(mseLoss(q1, targets, { weights }), mseLoss(q2, targets, { weights }));
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
 * Returns the loss and the numerator's mean Q (for logging), both one-element tensors. The
 * normalizer stays a tensor (computed without a tape, so no gradient passes through it): nothing is
 * read on the host.
 */
export function qRegularizer(
  critic: TwinCritic, states: Tensor, actions: Tensor, weights: Float32Array, numerator: QNumerator,
): { loss: Tensor; meanQ: Tensor } {
  const { q1, q2 } = critic.forward(states, actions);
  const [top, bottom] = numerator === 'q1' ? [q1, q2] : [q2, q1];
  const normalizer = noGrad(() => maskedRowSumMean(abs(bottom), weights));
  const meanQ = maskedRowSumMean(top, weights);
  return { loss: neg(div(meanQ, normalizer)), meanQ };
}
