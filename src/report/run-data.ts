/**
 * Reads what a run directory holds right now, for the report and the live dashboard. A run may
 * be half-written (a torn last log line, no eval.json yet) or vanish while it is read, so every
 * file is optional and unreadable parts become `problems` instead of errors.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { EvaluationRecord } from '../train/evaluate.js';
import type { MetricsRecord } from '../train/metrics.js';
import { CONFIG_FILE, EVAL_FILE, EVALUATIONS_JSONL, METRICS_JSONL } from '../train/run-files.js';
import { REPORT_DATA_FILE, type ReportExtras } from './extras.js';

export const REPORT_FILE = 'report.html';

/**
 * The files whose size and modification time say whether a run changed. A function, not a
 * constant: the trainer may import the report, and within that import cycle trainer.ts's
 * constants are only readable once the modules have finished loading.
 */
function watchedFiles(): string[] {
  return [CONFIG_FILE, METRICS_JSONL, EVALUATIONS_JSONL, EVAL_FILE, REPORT_DATA_FILE, REPORT_FILE];
}

export type RunStatus = 'finished' | 'in progress' | 'not a run';

/** eval.json as the trainer writes it (docs/run-format.md) */
export interface FinalEvaluation {
  last: EvaluationRecord;
  best: EvaluationRecord;
  best_rule?: string;
}

export interface RunSnapshot {
  /** the directory's name */
  name: string;
  status: RunStatus;
  config: Record<string, unknown> | null;
  metrics: MetricsRecord[];
  evaluations: EvaluationRecord[];
  final: FinalEvaluation | null;
  extras: ReportExtras | null;
  /** report.html exists */
  hasReport: boolean;
  /** what could not be read, in words (torn lines, invalid JSON) */
  problems: string[];
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isMetricsRecord(value: unknown): value is MetricsRecord {
  return isObject(value) && typeof value.step === 'number' && Object.values(value).every((v) => typeof v === 'number');
}

function isEvaluationRecord(value: unknown): value is EvaluationRecord {
  return isObject(value) && typeof value.step === 'number' && typeof value.mean_return === 'number' && Array.isArray(value.conditions);
}

/** the records of a JSON-lines file that parse and pass `accept`; the rest are counted as problems */
function readJsonLines<T>(path: string, accept: (value: unknown) => value is T, problems: string[]): T[] {
  const text = readText(path);
  if (text === null) return [];
  const records: T[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const value = parseJson(line);
    if (accept(value)) records.push(value);
    else skipped += 1;
  }
  if (skipped > 0) problems.push(`${basename(path)}: ${skipped} unreadable line(s) skipped`);
  return records;
}

function readJsonObject(path: string, problems: string[]): Record<string, unknown> | null {
  const text = readText(path);
  if (text === null) return null;
  const value = parseJson(text);
  if (isObject(value)) return value;
  problems.push(`${basename(path)}: not a JSON object (half-written?)`);
  return null;
}

export function readRunSnapshot(runDir: string): RunSnapshot {
  const problems: string[] = [];
  const config = readJsonObject(join(runDir, CONFIG_FILE), problems);
  const metrics = readJsonLines(join(runDir, METRICS_JSONL), isMetricsRecord, problems);
  const evaluations = readJsonLines(join(runDir, EVALUATIONS_JSONL), isEvaluationRecord, problems);
  const evalFile = readJsonObject(join(runDir, EVAL_FILE), problems);
  const final = evalFile !== null && isEvaluationRecord(evalFile.last) && isEvaluationRecord(evalFile.best)
    ? { last: evalFile.last, best: evalFile.best, ...(typeof evalFile.best_rule === 'string' ? { best_rule: evalFile.best_rule } : {}) }
    : null;
  const extrasFile = readJsonObject(join(runDir, REPORT_DATA_FILE), problems);
  const extras = extrasFile !== null && extrasFile.format === 'stitch-report-data' ? (extrasFile as unknown as ReportExtras) : null;
  const status: RunStatus = config === null ? 'not a run' : final === null ? 'in progress' : 'finished';
  return { name: basename(runDir), status, config, metrics, evaluations, final, extras, hasReport: existsAsFile(join(runDir, REPORT_FILE)), problems };
}

function existsAsFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** changes whenever a watched file is written, appended, replaced or removed */
export function runSignature(runDir: string): string {
  return watchedFiles().map((name) => {
    try {
      const stat = statSync(join(runDir, name));
      return `${stat.size}:${stat.mtimeMs}`;
    } catch {
      return '-';
    }
  }).join('|');
}
