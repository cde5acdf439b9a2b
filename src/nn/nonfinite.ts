/**
 * Numerical faults: a NaN or infinite loss or gradient must stop a gradient step before the
 * optimizer touches the weights. gradientStep runs these checks; an algorithm that composes its
 * own updates calls them between computing a loss or gradient and applying it.
 */
import { backend, Scalar, type Parameter } from '../engine/index.js';

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
 * them from its snapshot, 'halt' stops without writing them anywhere. On a device the count is
 * read later (a deferred check; see settleFiniteChecks).
 */
export function assertFiniteWeights(term: string, params: readonly Parameter[]): void {
  const onDevice = params.some((p) => p.onDevice);
  if (onDevice) {
    const count = backend().countNonFinite(params.map((p) => ({ array: p.storage, n: p.size })));
    pending.push({ term, kind: 'weights', value: count });
    return;
  }
  for (const parameter of params) {
    const { data } = parameter;
    // one vectorised pass: a sum of squares (accumulated in double) is finite exactly when every float32 weight is
    if (data instanceof Float32Array && Number.isFinite(backend().clipByGlobalNorm([{ array: data, n: data.length }], null, 0).now)) continue;
    for (let i = 0; i < data.length; i++) {
      // x - x is 0 for every finite x and NaN for NaN and ±Infinity
      if (data[i]! - data[i]! !== 0) {
        throw new NonFiniteError(term, 'weights', `the ${term} update made a weight ${describeValue(data[i]!)}${parameter.name === '' ? '' : ` (${parameter.name})`}; the learning rate may be too large`);
      }
    }
  }
}

/** A check of a device value that the host reads later: a loss or gradient norm that must be finite, or a count of non-finite weights that must be 0. */
export interface DeferredFiniteCheck {
  term: string;
  kind: 'loss' | 'gradient' | 'weights';
  value: Scalar;
  parts?: Record<string, Scalar | number>;
}

let pending: DeferredFiniteCheck[] = [];

/** registers a device loss or gradient norm to check when it is read */
export function checkFiniteLater(check: DeferredFiniteCheck): void {
  pending.push(check);
}

/** the checks registered since the last call (one training step's) */
export function takeDeferredChecks(): DeferredFiniteCheck[] {
  const taken = pending;
  pending = [];
  return taken;
}

/** Reads the checks' values and throws the NonFiniteError of the first that fails, as the synchronous checks would have. */
export async function settleFiniteChecks(checks: readonly DeferredFiniteCheck[]): Promise<void> {
  const values = await Promise.all(checks.map((check) => check.value.read()));
  for (const [index, check] of checks.entries()) {
    const value = values[index]!;
    if (check.kind === 'weights') {
      if (value !== 0) throw new NonFiniteError(check.term, 'weights', `the ${check.term} update made ${value} weight(s) non-finite; the learning rate may be too large`);
      continue;
    }
    if (Number.isFinite(value)) continue;
    if (check.kind === 'gradient') assertFiniteGradient(check.term, value);
    const parts: Record<string, number> = {};
    for (const [name, part] of Object.entries(check.parts ?? {})) parts[name] = typeof part === 'number' ? part : await part.read();
    assertFiniteLoss(check.term, value, parts);
  }
}
