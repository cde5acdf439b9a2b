/**
 * An in-memory copy of everything an update may change (every module's parameters, every
 * optimiser's moments, step count and learning rate, the algorithm's extra state), so a skipped
 * batch leaves the algorithm exactly as it was. An update can apply several steps before one of
 * them meets a non-finite value (QT steps the critic before its actor loss is computed), so
 * stopping the faulty step alone is not enough. Buffers are allocated once and reused.
 */
import type { Algorithm } from '../algos/algorithm.js';
import { Tensor, wholeArray } from '../engine/index.js';
import type { Storage } from '../engine/backend.js';
import { kernels } from '../engine/ops/kernels.js';
import { allocateStorage } from '../engine/tensor.js';
import type { Optimizer } from '../nn/optim.js';

interface SavedOptimizer {
  optimizer: Optimizer;
  moments: Array<{ exp_avg: Storage; exp_avg_sq: Storage }>;
  stepCount: number;
  lr: number;
}

/** a copy of `source` made where it lives (host or device) */
function copyOf(source: Storage, dtype: 'float32' | 'float64'): Storage {
  const copy = allocateStorage(dtype, source.length);
  kernels(dtype).copyBlocks(source, copy, wholeArray(source.length), false);
  return copy;
}

function copyInto(source: Storage, target: Storage, dtype: 'float32' | 'float64'): void {
  kernels(dtype).copyBlocks(source, target, wholeArray(source.length), false);
}

export class UpdateSnapshot {
  private readonly parameters: Array<{ target: Tensor; saved: Storage }>;
  private readonly optimizers: SavedOptimizer[];
  private extraState: Record<string, number> = {};

  constructor(private readonly algorithm: Algorithm) {
    // a module can appear under two names (or share parameters); each parameter is saved once
    const seen = new Set<object>();
    this.parameters = [];
    for (const module of Object.values(algorithm.modules())) {
      for (const parameter of module.parameters()) {
        if (seen.has(parameter)) continue;
        seen.add(parameter);
        this.parameters.push({ target: parameter, saved: copyOf(parameter.storage, parameter.dtype) });
      }
    }
    this.optimizers = Object.values(algorithm.optimizers()).map(({ optimizer }) => ({
      optimizer,
      moments: optimizer.state.map((state, i) => {
        const dtype = optimizer.params[i]!.dtype;
        return { exp_avg: copyOf(state.exp_avg, dtype), exp_avg_sq: copyOf(state.exp_avg_sq, dtype) };
      }),
      stepCount: optimizer.stepCount,
      lr: optimizer.lr,
    }));
  }

  /** copies the algorithm's current state into the snapshot */
  capture(): void {
    for (const { target, saved } of this.parameters) copyInto(target.storage, saved, target.dtype);
    for (const saved of this.optimizers) {
      saved.optimizer.state.forEach((state, i) => {
        const moments = saved.moments[i]!;
        const dtype = saved.optimizer.params[i]!.dtype;
        copyInto(state.exp_avg, moments.exp_avg, dtype);
        copyInto(state.exp_avg_sq, moments.exp_avg_sq, dtype);
      });
      saved.stepCount = saved.optimizer.stepCount;
      saved.lr = saved.optimizer.lr;
    }
    this.extraState = this.algorithm.extraState?.() ?? {};
  }

  /** puts the algorithm back into the captured state */
  restore(): void {
    for (const { target, saved } of this.parameters) copyInto(saved, target.storage, target.dtype);
    for (const saved of this.optimizers) {
      saved.optimizer.state.forEach((state, i) => {
        const moments = saved.moments[i]!;
        const dtype = saved.optimizer.params[i]!.dtype;
        copyInto(moments.exp_avg, state.exp_avg, dtype);
        copyInto(moments.exp_avg_sq, state.exp_avg_sq, dtype);
      });
      saved.optimizer.stepCount = saved.stepCount;
      saved.optimizer.lr = saved.lr;
    }
    this.algorithm.loadExtraState?.(this.extraState);
  }
}
