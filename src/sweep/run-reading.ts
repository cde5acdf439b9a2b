/**
 * What the sweep reads from a run directory: the final scores (eval.json) and the newest metrics
 * record (metrics.jsonl). Both spellings of each key are accepted: the files written before the
 * camelCase convention (normalized_score, time_s, steps_per_s) and after it.
 */
import { join } from 'node:path';
import { METRICS_JSONL } from '../train/metrics.js';
import { EVAL_FILE } from '../train/run-files.js';
import { fieldOf } from '../util/json-keys.js';
import { IncrementalLineReader, readRegularFile } from '../util/local-server.js';

/**
 * Caps on what one run's files may make a sweep reader hold (the dashboard reads copied-in
 * sweeps): only regular files are read, so a FIFO or a link to /dev/zero is refused, not waited on.
 */
export const SWEEP_RUN_READ_LIMITS = {
  evalBytes: 16 << 20,
  /** a longer metrics line is skipped */
  maxLineBytes: 1 << 20,
  /** metrics bytes a cached reader reads per call; a longer log is read over several calls */
  metricsBytesPerRead: 64 << 20,
};

type Loose = Record<string, unknown>;

/** `record`'s number under the camelCase `key` or its older snake_case spelling (`timeS`, `time_s`), else null */
function numberField(record: Loose | undefined, key: string): number | null {
  const value = record === undefined ? undefined : fieldOf(record, key);
  return typeof value === 'number' ? value : null;
}

const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface FinalScores {
  /** the headline: the normalized score, or the mean return where the task has no reference scores */
  last: number;
  best: number;
  normalized: boolean;
}

function headline(record: Loose | undefined, path: string): { score: number; normalized: boolean } {
  const normalized = numberField(record, 'normalizedScore');
  if (normalized !== null) return { score: normalized, normalized: true };
  const meanReturn = numberField(record, 'meanReturn');
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

/** reads a run's metrics summary; the dashboard passes cached incremental readers */
export type MetricsSummaryRead = (runDir: string) => MetricsSummary | null;

const rateOf = (record: Loose): number | null => numberField(record, 'stepsPerS');

/**
 * The summary of a run's metrics.jsonl, kept up to date by reading only what was appended since
 * the last `read` (a log that shrank or was replaced is read again from its start). Only a
 * regular file is read, line by line with a line-length cap, at most `maxBytesPerRead` per call,
 * so a FIFO, a link to /dev/zero or a huge log cannot hang the reader or fill its memory.
 */
export class MetricsSummaryReader {
  private last: Loose | null = null;
  private rateSum = 0;
  private rateCount = 0;
  private readonly log: IncrementalLineReader;

  constructor(readonly runDir: string, maxBytesPerRead = SWEEP_RUN_READ_LIMITS.metricsBytesPerRead) {
    this.log = new IncrementalLineReader(join(runDir, METRICS_JSONL), { maxLineBytes: SWEEP_RUN_READ_LIMITS.maxLineBytes, maxBytesPerUpdate: maxBytesPerRead },
      (line) => this.add(line), () => this.clear());
  }

  /** log bytes read from disk so far (an unchanged log is not read again) */
  get bytesRead(): number {
    return this.log.bytesRead;
  }

  /** null before the first record and for a missing or non-regular log; a torn last line waits for its end */
  read(): MetricsSummary | null {
    if (this.log.update() !== 'read' || this.last === null) return null;
    return {
      step: this.last.step as number,
      seconds: numberField(this.last, 'timeS') ?? 0,
      stepsPerSecond: this.rateCount === 0 ? 0 : this.rateSum / this.rateCount,
    };
  }

  private add(line: string): void {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return; // torn or garbled: skipped
    }
    if (!isObject(record) || typeof record.step !== 'number') return;
    this.last = record;
    const rate = rateOf(record);
    if (rate !== null) {
      this.rateSum += rate;
      this.rateCount += 1;
    }
  }

  private clear(): void {
    this.last = null;
    this.rateSum = 0;
    this.rateCount = 0;
  }
}

/** the summary of the whole log, read once (streamed: its size does not matter) */
export function readMetricsSummary(runDir: string): MetricsSummary | null {
  return new MetricsSummaryReader(runDir, Number.MAX_SAFE_INTEGER).read();
}
