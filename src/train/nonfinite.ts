/**
 * Numerical faults: a NaN or infinite loss or gradient must stop a gradient step before the
 * optimiser touches the weights. gradientStep runs these checks; an algorithm that composes its
 * own updates calls them between computing a loss or gradient and applying it.
 */
import type { WindowBatch } from '../data/sampler.js';
import { backend, type Parameter } from '../engine/index.js';

/** What a run does when an update meets a non-finite loss or gradient. */
export const NON_FINITE_POLICIES = ['halt', 'skip'] as const;
export type NonFinitePolicy = (typeof NON_FINITE_POLICIES)[number];

/** A loss or gradient that is not finite (thrown before the optimiser step it would have fed), or weights an update made non-finite. */
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

/** the batch arrays a non-finite value can come from, by the name a user knows them as */
const BATCH_INPUTS = ['states', 'actions', 'rewards', 'returnsToGo'] as const;

/** at most this many windows are listed, so the message stays one readable line */
const LISTED_WINDOWS = 8;
/**
 * Training targets beyond this overflow float32 once squared (float32 ends near 3.4e38, so
 * squares stay finite below about 1.8e19) or summed over a batch; the trainer refuses them.
 */
export const TARGET_LIMIT = 1e19;
export const TARGET_LIMIT_TEXT = '1e19';

/**
 * Which batch it was, for the fault message: the windows (episode and start step) whose inputs
 * hold non-finite or huge values, or when none do (the weights diverged instead) the batch's first windows.
 */
export function describeBatch(batch: WindowBatch): string {
  const { batchSize: B, contextLength: K } = batch;
  const window = (b: number): string => `episode ${batch.episodes[b]} from step ${batch.starts[b]}`;
  const faulty: string[] = [];
  for (let b = 0; b < B; b++) {
    const findings: string[] = [];
    for (const name of BATCH_INPUTS) {
      const values = batch[name];
      const width = values.length / (B * K);
      const row = values.subarray(b * K * width, (b + 1) * K * width);
      if (row.some((value) => !Number.isFinite(value))) findings.push(`non-finite ${name}`);
      else if (row.some((value) => Math.abs(value) > TARGET_LIMIT)) findings.push(`${name} beyond ±${TARGET_LIMIT_TEXT}`);
    }
    if (findings.length > 0) faulty.push(`${window(b)} (${findings.join(', ')})`);
  }
  const list = (items: string[]): string => items.slice(0, LISTED_WINDOWS).join('; ') + (items.length > LISTED_WINDOWS ? `; and ${items.length - LISTED_WINDOWS} more` : '');
  if (faulty.length > 0) return `${faulty.length} of its ${B} windows have non-finite or huge inputs: ${list(faulty)}`;
  return `its ${B} windows have moderate inputs (the weights or the loss diverged); windows: ${list(Array.from({ length: B }, (_, b) => window(b)))}`;
}
