/**
 * What the sweep reads from a run directory: the final scores (eval.json) and the newest metrics
 * record (metrics.jsonl). Both spellings of each key are accepted: the files written before the
 * camelCase convention (normalized_score, time_s, steps_per_s) and after it.
 */
import { join } from 'node:path';
import { METRICS_JSONL } from '../train/metrics.js';
import { EVAL_FILE } from '../train/run-files.js';
import { readRegularFile } from '../util/local-server.js';

/**
 * Caps on what one run's files may make a sweep reader hold (the dashboard reads copied-in
 * sweeps): only regular files are read, so a FIFO or a link to /dev/zero is refused, not waited on.
 */
export const SWEEP_RUN_READ_LIMITS = { evalBytes: 16 << 20, metricsBytes: 64 << 20 };

type Loose = Record<string, unknown>;

function numberField(record: Loose | undefined, ...keys: string[]): number | null {
  for (const key of keys) {
    const value = record?.[key];
    if (typeof value === 'number') return value;
  }
  return null;
}

const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface FinalScores {
  /** the headline: the normalized score, or the mean return where the task has no reference scores */
  last: number;
  best: number;
  normalized: boolean;
}

function headline(record: Loose | undefined, path: string): { score: number; normalized: boolean } {
  const normalized = numberField(record, 'normalized_score', 'normalizedScore');
  if (normalized !== null) return { score: normalized, normalized: true };
  const meanReturn = numberField(record, 'mean_return', 'meanReturn');
  if (meanReturn === null) throw new Error(`${path}: an evaluation without a score`);
  return { score: meanReturn, normalized: false };
}

export function readFinalScores(runDir: string): FinalScores {
  const path = join(runDir, EVAL_FILE);
  const parsed = JSON.parse(readRegularFile(path, SWEEP_RUN_READ_LIMITS.evalBytes).toString('utf8')) as unknown;
  if (!isObject(parsed) || !isObject(parsed.last) || !isObject(parsed.best)) throw new Error(`${path}: no last and best evaluations`);
  const last = headline(parsed.last, path);
  const best = headline(parsed.best, path);
  return { last: last.score, best: best.score, normalized: last.normalized && best.normalized };
}

export interface MetricsSummary {
  /** the newest logged step */
  step: number;
  /** training seconds at that step */
  seconds: number;
  /** the mean of the records' steps per second */
  stepsPerSecond: number;
}

/**
 * null before the first record, and for a log that is not a regular file or is larger than the
 * cap; a torn last line (a run writing it) is skipped
 */
export function readMetricsSummary(runDir: string): MetricsSummary | null {
  let text: string;
  try {
    text = readRegularFile(join(runDir, METRICS_JSONL), SWEEP_RUN_READ_LIMITS.metricsBytes).toString('utf8');
  } catch {
    return null;
  }
  const records: Loose[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as unknown;
      if (isObject(record) && typeof record.step === 'number') records.push(record);
    } catch {
      // torn
    }
  }
  const last = records[records.length - 1];
  if (last === undefined) return null;
  const rates = records.map((record) => numberField(record, 'steps_per_s', 'stepsPerS', 'stepsPerSecond')).filter((rate): rate is number => rate !== null);
  return {
    step: last.step as number,
    seconds: numberField(last, 'time_s', 'timeS', 'timeSeconds', 'elapsedSeconds') ?? 0,
    stepsPerSecond: rates.length === 0 ? 0 : rates.reduce((a, b) => a + b, 0) / rates.length,
  };
}
