/**
 * Load-time health checks. Each check reports the file, the key, the first offending row and how
 * many rows are affected, and says what Stitch does about it; nothing is fixed silently.
 */
import type { TransitionArrays } from './arrays.js';
import { DataFileError } from './errors.js';
import type { Finding } from './findings.js';
import type { Segmentation } from './store.js';

/** Values this large in a float32 RL dataset are almost always corrupt or unscaled data. */
export const DEFAULT_MAGNITUDE_LIMIT = 1e6;

export interface ActionBounds {
  low: Float32Array;
  high: Float32Array;
}

/**
 * Declared bounds must be numbers with low <= high in every dimension (infinite means unbounded
 * there). A NaN bound would make every comparison false and silently switch the check off.
 */
export function validateActionBounds(bounds: { low: ArrayLike<number>; high: ArrayLike<number> }, file: string, key: string): void {
  for (let d = 0; d < bounds.low.length; d++) {
    const low = bounds.low[d]!;
    const high = bounds.high[d]!;
    if (Number.isNaN(low) || Number.isNaN(high)) throw new DataFileError(file, `action bound of dimension ${d} is NaN (low ${low}, high ${high}); refusing bounds that would switch the bounds check off`, key);
    if (low > high) throw new DataFileError(file, `action bounds of dimension ${d} have low ${low} above high ${high}`, key);
  }
}

export interface HealthOptions {
  file: string;
  /** declared action bounds (Minari action_space, attributes action_low/action_high, or --action-bounds) */
  actionBounds?: ActionBounds;
  magnitudeLimit?: number;
}

interface ColumnScan {
  nonFinite: number;
  nan: number;
  firstNonFinite: number;
  large: number;
  firstLarge: number;
  largest: number;
}

function scanColumn(data: Float32Array, limit: number): ColumnScan {
  const scan: ColumnScan = { nonFinite: 0, nan: 0, firstNonFinite: -1, large: 0, firstLarge: -1, largest: 0 };
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!;
    // One comparison handles the common case; NaN fails it too and is sorted out below.
    if (value <= limit && value >= -limit) continue;
    if (Number.isNaN(value) || !Number.isFinite(value)) {
      if (scan.firstNonFinite < 0) scan.firstNonFinite = i;
      scan.nonFinite++;
      if (Number.isNaN(value)) scan.nan++;
    } else {
      if (scan.firstLarge < 0) scan.firstLarge = i;
      scan.large++;
      scan.largest = Math.max(scan.largest, Math.abs(value));
    }
  }
  return scan;
}

function rowAndColumn(flatIndex: number, cols: number): { row: number; where: string } {
  const row = Math.floor(flatIndex / cols);
  return { row, where: cols === 1 ? `row ${row}` : `row ${row}, column ${flatIndex % cols}` };
}

export function checkHealth(arrays: TransitionArrays, segmentation: Segmentation, options: HealthOptions): Finding[] {
  const { file } = options;
  const limit = options.magnitudeLimit ?? DEFAULT_MAGNITUDE_LIMIT;
  const findings: Finding[] = [];
  const columns: Array<[string, Float32Array, number]> = [
    ['observations', arrays.observations, arrays.obsDim],
    ['actions', arrays.actions, arrays.actionDim],
    ['rewards', arrays.rewards, 1],
  ];
  if (arrays.nextObservations !== undefined) columns.push(['next_observations', arrays.nextObservations, arrays.obsDim]);
  for (const [key, info] of Object.entries(arrays.infos ?? {})) columns.push([`infos/${key}`, info.data, info.dim]);

  for (const [key, data, cols] of columns) {
    const scan = scanColumn(data, limit);
    if (scan.nonFinite > 0) {
      const first = rowAndColumn(scan.firstNonFinite, cols);
      const isInfo = key.startsWith('infos/') || key === 'next_observations';
      findings.push({
        code: 'non-finite',
        severity: isInfo ? 'warning' : 'error',
        file,
        key,
        index: first.row,
        count: scan.nonFinite,
        message: `${scan.nan} NaN and ${scan.nonFinite - scan.nan} infinite values, first at ${first.where}; training on them gives NaN losses. Fix or remove those rows`,
      });
    }
    if (scan.large > 0) {
      const first = rowAndColumn(scan.firstLarge, cols);
      findings.push({
        code: 'absurd-magnitude',
        severity: 'warning',
        file,
        key,
        index: first.row,
        count: scan.large,
        message: `${scan.large} values beyond ±${limit} (largest ${scan.largest.toExponential(3)}), first at ${first.where}; likely corrupt or unscaled data`,
      });
    }
  }

  if (options.actionBounds !== undefined) findings.push(...checkActionBounds(arrays, options.actionBounds, file));

  const starts = segmentation.episodeStarts;
  const episodes = starts.length - 1;
  if (episodes === 0) {
    findings.push({
      code: 'no-episodes',
      severity: 'error',
      file,
      key: 'terminals',
      index: -1,
      count: arrays.rewards.length,
      message: `no episode boundary in ${arrays.rewards.length} rows (no terminal or timeout is set), so there is no complete episode to train on`,
    });
  }
  let oneStep = 0;
  let firstOneStep = -1;
  for (let e = 0; e < episodes; e++) {
    if (starts[e + 1]! - starts[e]! === 1) {
      if (firstOneStep < 0) firstOneStep = starts[e]!;
      oneStep++;
    }
  }
  if (oneStep > 0) {
    const byRecipe = followsMaze2dRecipe(arrays);
    findings.push({
      code: 'one-step-episode',
      // By design: D4RL's Maze2D recipe ends a segment as soon as the new target is reached, which can take one step.
      severity: byRecipe ? 'info' : 'warning',
      file,
      key: 'terminals/timeouts',
      index: firstOneStep,
      count: oneStep,
      message: byRecipe
        ? `${oneStep} of ${episodes} episodes have a single step (first ends at this row); kept. D4RL's Maze2D recipe, which this file declares, produces them: a segment ends when its target is reached, and a new target can be reached in one step`
        : `${oneStep} of ${episodes} episodes have a single step (first ends at this row); kept, but a window over them holds one real step`,
    });
  }
  if (segmentation.terminalAndTimeout > 0) {
    findings.push({
      code: 'terminal-and-timeout',
      severity: 'warning',
      file,
      key: 'terminals/timeouts',
      index: segmentation.firstTerminalAndTimeout,
      count: segmentation.terminalAndTimeout,
      message: `${segmentation.terminalAndTimeout} rows have both terminal and timeout set; read as terminated (not truncated), so no value is bootstrapped past them`,
    });
  }
  if (segmentation.trailingDropped > 0) {
    const kept = starts[episodes]!;
    let longest = 0;
    for (let e = 0; e < episodes; e++) longest = Math.max(longest, starts[e + 1]! - starts[e]!);
    // By design: D4RL's Maze2D recipe stops collecting mid-segment, which leaves at most one segment's worth of rows.
    const unfinishedSegment = followsMaze2dRecipe(arrays) && segmentation.trailingDropped <= longest;
    findings.push({
      code: 'trailing-transitions',
      severity: unfinishedSegment ? 'info' : 'warning',
      file,
      key: 'terminals/timeouts',
      index: kept,
      count: segmentation.trailingDropped,
      message: `${segmentation.trailingDropped} rows after the last episode boundary (rows ${kept}-${arrays.rewards.length - 1}) form no complete episode and are dropped, as the reference loaders do${
        unfinishedSegment ? "; D4RL's Maze2D recipe, which this file declares, stops mid-segment, and these rows are no more than its longest segment" : ''
      }`,
    });
  }
  if (segmentation.fallbackBoundaries > 0) {
    findings.push({
      code: 'no-timeouts-key',
      severity: 'info',
      file,
      key: 'timeouts',
      index: -1,
      count: segmentation.fallbackBoundaries,
      message: `${segmentation.fallbackBoundaries} episodes were closed by the 1000-step rule because the file has no timeouts`,
    });
  }
  return findings;
}

/** The file says it was made by D4RL's Maze2D recipe (Stitch's generator or a maze2d dataset id). */
function followsMaze2dRecipe(arrays: TransitionArrays): boolean {
  const generator = arrays.attributes?.generator;
  const datasetId = arrays.attributes?.dataset_id;
  return (typeof generator === 'string' && generator.startsWith('stitch maze2d')) || (typeof datasetId === 'string' && /^maze2d-/.test(datasetId));
}

function checkActionBounds(arrays: TransitionArrays, bounds: ActionBounds, file: string): Finding[] {
  const dim = arrays.actionDim;
  if (bounds.low.length !== dim || bounds.high.length !== dim) {
    return [{ code: 'action-out-of-bounds', severity: 'error', file, key: 'actions', index: -1, count: 0, message: `declared bounds have ${bounds.low.length} dimensions but actions have ${dim}` }];
  }
  // float32 data against float64 bounds: allow a rounding step so that clipped data passes.
  const tolerance = 1e-6;
  let outside = 0;
  let first = -1;
  let worst = 0;
  const { actions } = arrays;
  for (let i = 0; i < actions.length; i++) {
    const value = actions[i]!;
    const d = i % dim;
    const excess = Math.max(bounds.low[d]! - value, value - bounds.high[d]!);
    if (excess > tolerance * Math.max(1, Math.abs(value))) {
      if (first < 0) first = i;
      outside++;
      worst = Math.max(worst, excess);
    }
  }
  if (outside === 0) return [];
  const where = rowAndColumn(first, dim);
  return [
    {
      code: 'action-out-of-bounds',
      severity: 'warning',
      file,
      key: 'actions',
      index: where.row,
      count: outside,
      message: `${outside} action values lie outside the declared bounds (by up to ${worst.toPrecision(3)}), first at ${where.where}; a tanh policy cannot produce them, so its loss on those rows never reaches zero`,
    },
  ];
}
