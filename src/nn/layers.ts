import {
  dropout as applyDropout, embedding as lookup, layerNorm as normalize, linear as affine,
  type Activation, type Rng, type Tensor, type Parameter,
} from '../engine/index.js';
import { fillConstant, fillNormal, fillUniform, type InitScheme } from './init.js';
import { Module } from './module.js';

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, options: { bias?: boolean; init?: InitScheme } = {}) {
    super();
    this.weight = this.addParameter('weight', [outFeatures, inFeatures]);
    this.bias = (options.bias ?? true) ? this.addParameter('bias', [outFeatures]) : null;
    if ((options.init ?? 'torch') === 'gpt2') {
      fillNormal(this.weight, rng, 0.02);
      if (this.bias) fillConstant(this.bias, 0);
    } else {
      const bound = 1 / Math.sqrt(inFeatures);
      fillUniform(this.weight, rng, bound);
      if (this.bias) fillUniform(this.bias, rng, bound);
    }
  }

  /** x W^T + b, or f(x W^T + b) in one op when an activation is given */
  forward(x: Tensor, activation?: Activation): Tensor {
    return affine(x, this.weight, this.bias, activation);
  }
}

export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(readonly rows: number, readonly width: number, rng: Rng, options: { init?: InitScheme } = {}) {
    super();
    this.weight = this.addParameter('weight', [rows, width]);
    fillNormal(this.weight, rng, (options.init ?? 'torch') === 'gpt2' ? 0.02 : 1);
  }

  forward(indices: Int32Array, indexShape: readonly number[]): Tensor {
    return lookup(this.weight, indices, indexShape);
  }
}

export class LayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(readonly width: number, readonly eps = 1e-5) {
    super();
    this.weight = this.addParameter('weight', [width]);
    this.bias = this.addParameter('bias', [width]);
    fillConstant(this.weight, 1);
    fillConstant(this.bias, 0);
  }

  forward(x: Tensor): Tensor {
    return normalize(x, this.weight, this.bias, this.eps);
  }
}

/** Draws a fresh dropout stream from the run's Rng at every call in training mode. */
export class Dropout extends Module {
  constructor(readonly p: number, private readonly rng: Rng) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return applyDropout(x, this.p, this.rng.nextUint32());
  }

  /** the seed for a fused kernel's own dropout; 0 probability outside training */
  nextSeed(): { p: number; seed: number } {
    return this.training && this.p > 0 ? { p: this.p, seed: this.rng.nextUint32() } : { p: 0, seed: 0 };
  }
}

/** Linear -> activation -> Linear (-> dropout), the transformer's feed-forward block. */
export class Mlp extends Module {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  readonly dropout: Dropout;

  constructor(width: number, hidden: number, readonly act: Activation, dropout: number, rng: Rng, init: InitScheme) {
    super();
    this.c_fc = this.addModule('c_fc', new Linear(width, hidden, rng, { init }));
    this.c_proj = this.addModule('c_proj', new Linear(hidden, width, rng, { init }));
    this.dropout = this.addModule('dropout', new Dropout(dropout, rng));
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this.c_fc.forward(x, this.act)));
  }
}
