/**
 * One gradient step, shared by every algorithm: forward and backward inside a pooled scope,
 * global-norm clipping, then the optimiser update at the scheduled learning rate.
 */
import { tidy, type Parameter, type Tensor } from '../engine/index.js';
import { clipGradNorm, gradNorm, type Optimizer, type Schedule } from '../nn/optim.js';

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
  /** the optimiser's step index the schedule is evaluated at (defaults to its step count) */
  scheduleStep?: number;
  /** the loss, built from scratch each step; every tensor it creates is pooled */
  loss: () => Tensor;
}

export function gradientStep(options: GradientStepOptions): StepResult {
  const { optimizer } = options;
  optimizer.zeroGrad();
  const loss = tidy(() => {
    const value = options.loss();
    value.backward();
    return value.item();
  });
  const params: Parameter[] = optimizer.params;
  const norm = options.clipNorm === null ? gradNorm(params) : clipGradNorm(params, options.clipNorm);
  const multiplier = options.schedule?.(options.scheduleStep ?? optimizer.stepCount) ?? 1;
  optimizer.lr = optimizer.baseLr * multiplier;
  optimizer.step();
  return { loss, gradNorm: norm, lr: optimizer.lr };
}
