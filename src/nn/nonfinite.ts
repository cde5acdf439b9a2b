/**
 * Numerical faults: a NaN or infinite loss or gradient must stop a gradient step before the
 * optimizer touches the weights. gradientStep runs these checks; an algorithm that composes its
 * own updates calls them between computing a loss or gradient and applying it.
 */
import { backend, type Parameter } from '../engine/index.js';

/** A loss or gradient that is not finite (thrown before the optimizer step it would have fed), or weights an update made non-finite. */
export class NonFiniteError extends Error {
  constructor(
    /** the logged name of the loss (e.g. `critic_loss`) */
    readonly term: string,
    readonly kind: 'loss' | 'gradient' | 'weights',
    message: string,
  ) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

const describeValue = (value: number): string => (Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity');

/**
 * Throws when `value` (the loss logged as `term`) is not finite, naming the non-finite parts
 * among `parts` (its logged sub-terms, when the algorithm computed them).
 */
export function assertFiniteLoss(term: string, value: number, parts: Record<string, number> = {}): void {
  if (Number.isFinite(value)) return;
  const culprits = Object.entries(parts).filter(([, part]) => !Number.isFinite(part)).map(([name, part]) => `${name} = ${describeValue(part)}`);
  throw new NonFiniteError(term, 'loss', `${term} is ${describeValue(value)}${culprits.length > 0 ? ` (${culprits.join(', ')})` : ''}`);
}

/** Throws when the global gradient norm of `term`'s backward pass is not finite (some gradient is NaN or infinite). */
export function assertFiniteGradient(term: string, norm: number): void {
  if (Number.isFinite(norm)) return;
  throw new NonFiniteError(term, 'gradient', `the gradient of ${term} is not finite (global norm ${describeValue(norm)})`);
}

/**
 * Throws when a step with a finite loss and gradient still left a non-finite weight (a learning
 * rate so large that the update overflows). The weights are already changed: 'skip' restores
 * them from its snapshot, 'halt' stops without writing them anywhere.
 */
export function assertFiniteWeights(term: string, params: readonly Parameter[]): void {
  for (const parameter of params) {
    const { data } = parameter;
    // one vectorised pass: a sum of squares (accumulated in double) is finite exactly when every float32 weight is
    if (data instanceof Float32Array && Number.isFinite(backend().sumSquares(data, data.length))) continue;
    for (let i = 0; i < data.length; i++) {
      // x - x is 0 for every finite x and NaN for NaN and ±Infinity
      if (data[i]! - data[i]! !== 0) {
        throw new NonFiniteError(term, 'weights', `the ${term} update made a weight ${describeValue(data[i]!)}${parameter.name === '' ? '' : ` (${parameter.name})`}; the learning rate may be too large`);
      }
    }
  }
}
