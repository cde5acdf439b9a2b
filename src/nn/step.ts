/**
 * One gradient step, shared by every algorithm: forward and backward inside a pooled scope,
 * global-norm clipping, then the optimizer update at the scheduled learning rate.
 *
 * On the CPU backends a non-finite loss or gradient throws NonFiniteError before the optimizer
 * touches the weights, and an update that overflowed the weights throws it right after. On a
 * device the host does not wait for those values: the optimizer kernels are guarded by the
 * gradient norm (a non-finite norm leaves the weights untouched), and the same checks are
 * registered to run when the trainer reads the step's values (nonfinite.ts, settleFiniteChecks).
 */
import { backend, keepScalar, tidy, wholeArray, type Parameter, type Scalar, type Storage, type Tensor } from '../engine/index.js';
import { clipGradNorm, type Optimizer, type Schedule } from './optim.js';
import { assertFiniteGradient, assertFiniteLoss, assertFiniteWeights, checkFiniteLater } from './nonfinite.js';

export interface StepResult {
  loss: Scalar;
  /** global gradient norm before clipping */
  gradNorm: Scalar;
  lr: number;
  /** on a device: finite exactly when this step's loss and gradient were (its update's guard); pass it to a later step of the same update as `requireFinite` */
  guard?: Scalar;
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
  parts?: () => Record<string, Scalar | number>;
  /**
   * on a device: an earlier step's guard (StepResult.guard); this update is refused too when that
   * step's was, as on the CPU, where the earlier step's error stops the whole update
   */
  requireFinite?: Scalar;
}

export function gradientStep(options: GradientStepOptions): StepResult {
  const { optimizer } = options;
  const term = options.term ?? 'loss';
  optimizer.zeroGrad();
  const device = backend();
  // on a device, the loss is kept past the scope for the update's guard
  let lossOnDevice: Storage | null = null;
  const loss = tidy(() => {
    const value = options.loss();
    const scalar = keepScalar(value);
    if (scalar.known === undefined) {
      lossOnDevice = device.allocate(1);
      device.copyBlocks(value.storage, lossOnDevice, wholeArray(1), false);
    }
    // no backward from a non-finite loss (on the CPU): it would only fill every gradient with NaN
    if (scalar.known === undefined || Number.isFinite(scalar.known)) value.backward();
    return scalar;
  });
  // thrown outside tidy, so the scope still releases this step's pooled tensors
  if (loss.known !== undefined) assertFiniteLoss(term, loss.known, knownParts(options.parts?.()));
  else checkFiniteLater({ term, kind: 'loss', value: loss, ...(options.parts === undefined ? {} : { parts: options.parts() }) });
  const params: Parameter[] = optimizer.params;
  // the pre-clipping norm is NaN or infinite exactly when some gradient entry is (or the sum of squares overflows)
  const norm = clipGradNorm(params, options.clipNorm);
  if (norm.known !== undefined) assertFiniteGradient(term, norm.known);
  else checkFiniteLater({ term, kind: 'gradient', value: norm });
  const multiplier = options.schedule?.(options.scheduleStep ?? optimizer.stepCount) ?? 1;
  optimizer.lr = optimizer.baseLr * multiplier;
  let guard: Scalar | undefined;
  if (lossOnDevice === null) optimizer.step();
  else {
    // a non-finite loss stops the update too, even when its gradient came out finite (d(w + NaN)/dw = 1)
    guard = device.finiteGuard(lossOnDevice, norm);
    if (options.requireFinite?.storage !== undefined) guard = device.finiteGuard(options.requireFinite.storage, guard);
    optimizer.step(guard);
    device.release(lossOnDevice);
  }
  assertFiniteWeights(term, params);
  return { loss, gradNorm: norm, lr: optimizer.lr, ...(guard === undefined ? {} : { guard }) };
}

/** the parts the host knows now (all of them on the CPU backends) */
function knownParts(parts: Record<string, Scalar | number> | undefined): Record<string, number> {
  const known: Record<string, number> = {};
  for (const [name, part] of Object.entries(parts ?? {})) {
    const value = typeof part === 'number' ? part : part.known;
    if (value !== undefined) known[name] = value;
  }
  return known;
}
