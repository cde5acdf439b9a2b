/**
 * Optimizers of the references, global-norm clipping and learning-rate schedules.
 * Every update is one fused kernel call per parameter tensor; state is allocated once.
 */
import { backend, readStorage, Scalar, type Parameter } from '../engine/index.js';
import { isHostStorage, type Storage } from '../engine/backend.js';
import { kernels } from '../engine/ops/kernels.js';
import { allocate, allocateStorage } from '../engine/tensor.js';

const kernelsFor = (p: Parameter) => kernels(p.dtype);

/** host storage uploaded to where p lives now (after Parameter.place), unchanged when already there */
function placed(p: Parameter, storage: Storage): Storage {
  if (!p.onDevice || !isHostStorage(storage)) return storage;
  return backend().upload(storage instanceof Float32Array ? storage : Float32Array.from(storage));
}

/** zeroed storage the size of p, where p's values live */
function zerosLike(p: Parameter): Storage {
  const storage = allocateStorage(p.dtype, p.size);
  kernelsFor(p).fill(storage, 0, p.size);
  return storage;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** moments of one parameter, named as torch.optim names them */
export interface AdamState {
  exp_avg: Storage;
  exp_avg_sq: Storage;
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
    this.state = params.map((p) => ({ exp_avg: zerosLike(p), exp_avg_sq: zerosLike(p) }));
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** moves the moments (and any scratch) to where the active backend keeps data (a device) */
  place(): void {
    this.state.forEach((state, i) => {
      const p = this.params[i]!;
      state.exp_avg = placed(p, state.exp_avg);
      state.exp_avg_sq = placed(p, state.exp_avg_sq);
    });
  }

  /** brings the moments to host memory (to checkpoint them, or to continue on a CPU backend) */
  async unplace(): Promise<void> {
    for (const state of this.state) {
      state.exp_avg = await readStorage(state.exp_avg);
      state.exp_avg_sq = await readStorage(state.exp_avg_sq);
    }
  }

  protected stepShape(decoupled: boolean) {
    this.stepCount += 1;
    return {
      lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, decoupled,
      biasCorrection1: 1 - this.beta1 ** this.stepCount, biasCorrection2: 1 - this.beta2 ** this.stepCount,
    };
  }

  /**
   * One update. `guard` (a device step's gradient norm): the kernels write nothing unless it is
   * finite, so a non-finite gradient never reaches the weights although the host has not read it
   * yet (the step count still advances; the run stops or counts a skip when the value is read).
   */
  abstract step(guard?: Scalar): void;

  protected adamStep(decoupled: boolean, guard: Scalar | undefined): void {
    const shape = this.stepShape(decoupled);
    this.params.forEach((p, i) => {
      const s = this.state[i] as AdamState;
      kernelsFor(p).adamUpdate(p.storage, p.gradOrZeros(), s.exp_avg, s.exp_avg_sq, p.size, shape, guard?.storage);
    });
  }
}

/** AdamW (decoupled weight decay), as torch.optim.AdamW. */
export class AdamW extends AdamFamily {
  step(guard?: Scalar): void {
    this.adamStep(true, guard);
  }
}

/** Adam with L2 regularization added to the gradient, as torch.optim.Adam(weight_decay=...) (QT's actor). */
export class Adam extends AdamFamily {
  step(guard?: Scalar): void {
    this.adamStep(false, guard);
  }
}

/**
 * LAMB (NVLAMB, as timm's Lamb used by Reinformer): Adam direction plus decoupled decay, scaled
 * per tensor by the trust ratio |w| / |update|. Before the update, gradients are rescaled to a
 * global norm of at most maxGradNorm (timm's default 1.0).
 */
export class Lamb extends AdamFamily {
  readonly maxGradNorm: number | null;
  private update: Storage[];

  constructor(params: Parameter[], options: AdamOptions & { maxGradNorm?: number | null }) {
    super(params, options);
    this.maxGradNorm = options.maxGradNorm === undefined ? 1.0 : options.maxGradNorm;
    this.update = params.map((p) => allocateStorage(p.dtype, p.size));
  }

  override place(): void {
    super.place();
    this.update = this.update.map((storage, i) => placed(this.params[i]!, storage));
  }

  override async unplace(): Promise<void> {
    await super.unplace();
    // scratch: its values do not matter
    this.update = this.params.map((p) => allocate(p.dtype, p.size));
  }

  step(guard?: Scalar): void {
    if (this.maxGradNorm !== null) clipGradNorm(this.params, this.maxGradNorm, 0);
    const shape = this.stepShape(true);
    this.params.forEach((p, i) => {
      const s = this.state[i] as AdamState;
      kernelsFor(p).lambUpdate(p.storage, p.gradOrZeros(), s.exp_avg, s.exp_avg_sq, this.update[i] as Storage, p.size, shape, guard?.storage);
    });
  }
}

export type Optimizer = AdamW | Adam | Lamb;

/** The global L2 norm of all gradients. */
/** the global norm of the parameters' gradients (a Scalar: known at once on the CPU, read later from a device) */
export function gradNorm(params: readonly Parameter[]): Scalar {
  return clipGradNorm(params, null);
}

/**
 * Scales every gradient by maxNorm / (norm + eps) when that is below 1 (maxNorm null: never) and
 * returns the norm before clipping. Runs where the gradients are: the coefficient never leaves a device.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number | null, eps = 1e-6): Scalar {
  if (params.length === 0) return Scalar.of(0);
  const arrays = params.map((p) => ({ array: p.gradOrZeros(), n: p.size }));
  return kernelsFor(params[0]!).clipByGlobalNorm(arrays, maxNorm, eps);
}

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
