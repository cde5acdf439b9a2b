/**
 * Optimizers of the references, global-norm clipping and learning-rate schedules.
 * Every update is one fused kernel call per parameter tensor; state is allocated once.
 */
import { backend, type FloatArray, type Parameter } from '../engine/index.js';
import { allocate } from '../engine/tensor.js';
import { JsBackend } from '../engine/backends/js.js';

const reference = /* @__PURE__ */ new JsBackend();
const kernelsFor = (p: Parameter) => (p.dtype === 'float64' ? reference : backend());

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** moments of one parameter, named as torch.optim names them */
export interface AdamState {
  exp_avg: FloatArray;
  exp_avg_sq: FloatArray;
}

abstract class AdamFamily {
  /** the learning rate the next step uses (a schedule sets it each step) */
  lr: number;
  readonly baseLr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** steps taken, for bias correction */
  stepCount = 0;
  readonly state: AdamState[];

  constructor(readonly params: Parameter[], options: AdamOptions) {
    if (!(options.lr >= 0)) throw new RangeError(`learning rate must be >= 0, got ${options.lr}`);
    this.lr = options.lr;
    this.baseLr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.state = params.map((p) => ({ exp_avg: allocate(p.dtype, p.size), exp_avg_sq: allocate(p.dtype, p.size) }));
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  protected stepShape(decoupled: boolean) {
    this.stepCount += 1;
    return {
      lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, decoupled,
      biasCorrection1: 1 - this.beta1 ** this.stepCount, biasCorrection2: 1 - this.beta2 ** this.stepCount,
    };
  }

  abstract step(): void;

  protected adamStep(decoupled: boolean): void {
    const shape = this.stepShape(decoupled);
    this.params.forEach((p, i) => {
      const s = this.state[i] as AdamState;
      kernelsFor(p).adamUpdate(p.data, p.gradOrZeros(), s.exp_avg, s.exp_avg_sq, p.size, shape);
    });
  }
}

/** AdamW (decoupled weight decay), as torch.optim.AdamW. */
export class AdamW extends AdamFamily {
  step(): void {
    this.adamStep(true);
  }
}

/** Adam with L2 regularization added to the gradient, as torch.optim.Adam(weight_decay=...) (QT's actor). */
export class Adam extends AdamFamily {
  step(): void {
    this.adamStep(false);
  }
}

/**
 * LAMB (NVLAMB, as timm's Lamb used by Reinformer): Adam direction plus decoupled decay, scaled
 * per tensor by the trust ratio |w| / |update|. Before the update, gradients are rescaled to a
 * global norm of at most maxGradNorm (timm's default 1.0).
 */
export class Lamb extends AdamFamily {
  readonly maxGradNorm: number | null;
  private readonly update: FloatArray[];

  constructor(params: Parameter[], options: AdamOptions & { maxGradNorm?: number | null }) {
    super(params, options);
    this.maxGradNorm = options.maxGradNorm === undefined ? 1.0 : options.maxGradNorm;
    this.update = params.map((p) => allocate(p.dtype, p.size));
  }

  step(): void {
    if (this.maxGradNorm !== null) clipGradNorm(this.params, this.maxGradNorm, 0);
    const shape = this.stepShape(true);
    this.params.forEach((p, i) => {
      const s = this.state[i] as AdamState;
      kernelsFor(p).lambUpdate(p.data, p.gradOrZeros(), s.exp_avg, s.exp_avg_sq, this.update[i] as FloatArray, p.size, shape);
    });
  }
}

export type Optimizer = AdamW | Adam | Lamb;

/** The global L2 norm of all gradients. */
export function gradNorm(params: readonly Parameter[]): number {
  let total = 0;
  for (const p of params) total += kernelsFor(p).sumSquares(p.gradOrZeros(), p.size);
  return Math.sqrt(total);
}

/**
 * Rescale gradients so their global norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_
 * (coefficient maxNorm / (norm + eps), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number, eps = 1e-6): number {
  const norm = gradNorm(params);
  const coefficient = maxNorm / (norm + eps);
  if (coefficient < 1) for (const p of params) kernelsFor(p).scale(p.gradOrZeros(), coefficient, p.size);
  return norm;
}

/** A learning-rate multiplier as a function of the (0-based) step. */
export type Schedule = (step: number) => number;

/** min((step + 1) / warmup, 1): the DT and Reinformer warm-up, stepped every gradient step */
export function linearWarmup(warmupSteps: number): Schedule {
  if (!(warmupSteps >= 1)) return () => 1;
  return (step) => Math.min((step + 1) / warmupSteps, 1);
}

/**
 * torch's CosineAnnealingLR multiplier after `step` scheduler steps:
 * etaMin/base + (1 - etaMin/base) * (1 + cos(pi * step / tMax)) / 2.
 * QT steps it once per 1000-step iteration: pass floor(step / 1000).
 */
export function cosineAnnealing(tMax: number, minRatio = 0): Schedule {
  if (!(tMax > 0)) throw new RangeError(`cosineAnnealing: tMax must be positive, got ${tMax}`);
  return (step) => minRatio + ((1 - minRatio) * (1 + Math.cos((Math.PI * step) / tMax))) / 2;
}
