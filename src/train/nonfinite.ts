/**
 * What a run does about numerical faults, and the fault message's description of the batch. The
 * faults themselves (NonFiniteError and the checks gradientStep runs) live in nn/nonfinite.ts.
 */
import type { WindowBatch } from '../data/sampler.js';

export { NonFiniteError, assertFiniteGradient, assertFiniteLoss, assertFiniteWeights } from '../nn/nonfinite.js';

/** What a run does when an update meets a non-finite loss or gradient. */
export const NON_FINITE_POLICIES = ['halt', 'skip'] as const;
export type NonFinitePolicy = (typeof NON_FINITE_POLICIES)[number];

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
