/**
 * One gradient step, shared by every algorithm: forward and backward inside a pooled scope,
 * global-norm clipping, then the optimizer update at the scheduled learning rate. A non-finite
 * loss or gradient throws NonFiniteError before the optimizer touches the weights; an update that
 * overflowed the weights throws it right after.
 */
import { tidy, type Parameter, type Tensor } from '../engine/index.js';
import { clipGradNorm, gradNorm, type Optimizer, type Schedule } from './optim.js';
import { assertFiniteGradient, assertFiniteLoss, assertFiniteWeights } from './nonfinite.js';

export interface StepResult {
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  lr: number;
}

export interface GradientStepOptions {
  optimizer: Optimizer;
  /** null: no clipping */
  clipNorm: number | null;
  schedule?: Schedule;
  /** the optimizer's step index the schedule is evaluated at (defaults to its step count) */
  scheduleStep?: number;
  /** the loss, built from scratch each step; every tensor it creates is pooled */
  loss: () => Tensor;
  /** the name the algorithm logs this loss under, for the message when it is not finite (default `loss`) */
  term?: string;
  /** the loss's logged sub-terms after `loss()` ran, so a non-finite loss can name the culprit */
  parts?: () => Record<string, number>;
}

export function gradientStep(options: GradientStepOptions): StepResult {
  const { optimizer } = options;
  const term = options.term ?? 'loss';
  optimizer.zeroGrad();
  const loss = tidy(() => {
    const value = options.loss();
    const scalar = value.item();
    // no backward from a non-finite loss: it would only fill every gradient with NaN
    if (Number.isFinite(scalar)) value.backward();
    return scalar;
  });
  // thrown outside tidy, so the scope still releases this step's pooled tensors
  assertFiniteLoss(term, loss, options.parts?.());
  const params: Parameter[] = optimizer.params;
  // the pre-clipping norm is NaN or infinite exactly when some gradient entry is (or the sum of squares overflows)
  const norm = options.clipNorm === null ? gradNorm(params) : clipGradNorm(params, options.clipNorm);
  assertFiniteGradient(term, norm);
  const multiplier = options.schedule?.(options.scheduleStep ?? optimizer.stepCount) ?? 1;
  optimizer.lr = optimizer.baseLr * multiplier;
  optimizer.step();
  assertFiniteWeights(term, params);
  return { loss, gradNorm: norm, lr: optimizer.lr };
}
