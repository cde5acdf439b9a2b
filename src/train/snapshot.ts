/**
 * An in-memory copy of everything an update may change (every module's parameters, every
 * optimiser's moments, step count and learning rate, the algorithm's extra state), so a skipped
 * batch leaves the algorithm exactly as it was. An update can apply several steps before one of
 * them meets a non-finite value (QT steps the critic before its actor loss is computed), so
 * stopping the faulty step alone is not enough. Buffers are allocated once and reused.
 */
import type { Algorithm } from '../algos/algorithm.js';
import type { FloatArray } from '../engine/index.js';
import type { Optimizer } from '../nn/optim.js';

interface SavedOptimizer {
  optimizer: Optimizer;
  moments: Array<{ exp_avg: FloatArray; exp_avg_sq: FloatArray }>;
  stepCount: number;
  lr: number;
}

export class UpdateSnapshot {
  private readonly parameters: Array<{ target: { data: FloatArray }; saved: FloatArray }>;
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
        this.parameters.push({ target: parameter, saved: parameter.data.slice() });
      }
    }
    this.optimizers = Object.values(algorithm.optimizers()).map(({ optimizer }) => ({
      optimizer,
      moments: optimizer.state.map((state) => ({ exp_avg: state.exp_avg.slice(), exp_avg_sq: state.exp_avg_sq.slice() })),
      stepCount: optimizer.stepCount,
      lr: optimizer.lr,
    }));
  }

  /** copies the algorithm's current state into the snapshot */
  capture(): void {
    for (const { target, saved } of this.parameters) saved.set(target.data);
    for (const saved of this.optimizers) {
      saved.optimizer.state.forEach((state, i) => {
        const moments = saved.moments[i]!;
        moments.exp_avg.set(state.exp_avg);
        moments.exp_avg_sq.set(state.exp_avg_sq);
      });
      saved.stepCount = saved.optimizer.stepCount;
      saved.lr = saved.optimizer.lr;
    }
    this.extraState = this.algorithm.extraState?.() ?? {};
  }

  /** puts the algorithm back into the captured state */
  restore(): void {
    for (const { target, saved } of this.parameters) target.data.set(saved);
    for (const saved of this.optimizers) {
      saved.optimizer.state.forEach((state, i) => {
        const moments = saved.moments[i]!;
        state.exp_avg.set(moments.exp_avg);
        state.exp_avg_sq.set(moments.exp_avg_sq);
      });
      saved.optimizer.stepCount = saved.stepCount;
      saved.optimizer.lr = saved.lr;
    }
    this.algorithm.loadExtraState?.(this.extraState);
  }
}
