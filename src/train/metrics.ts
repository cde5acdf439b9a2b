/**
 * The run's append-only logs: metrics.jsonl and metrics.csv (one training record per logged step)
 * and evaluations.jsonl (one record per evaluation). Lines are appended as they happen, so a
 * killed run keeps what it logged; resuming truncates every log back to the checkpoint's step.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendToFile, syncFile, writeFileAtomic } from '../util/atomic-file.js';
import { camelCaseKeys } from '../util/json-keys.js';
import type { EvaluationRecord } from './evaluate.js';
import { EVALUATIONS_JSONL, METRICS_CSV, METRICS_JSONL } from './run-files.js';

export { EVALUATIONS_JSONL, METRICS_CSV, METRICS_JSONL } from './run-files.js';

export type MetricsRecord = Record<string, number>;

function stepOfJsonLine(line: string): number | undefined {
  try {
    const value: unknown = JSON.parse(line);
    const step = (value as { step?: unknown } | null)?.step;
    return typeof step === 'number' ? step : undefined;
  } catch {
    return undefined;
  }
}

export class RunLogs {
  private csvColumns: string[] | null = null;

  constructor(private readonly runDir: string) {
    const csv = this.path(METRICS_CSV);
    if (existsSync(csv)) {
      const header = readFileSync(csv, 'utf8').split('\n', 1)[0] ?? '';
      if (header !== '') this.csvColumns = header.split(',');
    }
  }

  private path(name: string): string {
    return join(this.runDir, name);
  }

  /**
   * Drops every record after `step` (a run resumed from that step writes them again), and any
   * torn last line a killed process left behind.
   */
  truncateAfter(step: number, pendingEvaluation: number | null = null): void {
    for (const name of [METRICS_JSONL, EVALUATIONS_JSONL]) {
      const path = this.path(name);
      if (!existsSync(path)) continue;
      // an evaluation the checkpoint saw in flight is redone, though its record may have been appended since
      const limit = name === EVALUATIONS_JSONL && pendingEvaluation !== null ? Math.min(step, pendingEvaluation - 1) : step;
      const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
        const recorded = stepOfJsonLine(line);
        return recorded !== undefined && recorded <= limit;
      });
      writeFileAtomic(path, kept.map((line) => `${line}\n`).join(''));
    }
    // metrics.csv is rebuilt from metrics.jsonl, which holds the same records: a header torn by
    // a crash during the first write (every later row then misses columns) is repaired with it
    const csv = this.path(METRICS_CSV);
    if (existsSync(csv) || existsSync(this.path(METRICS_JSONL))) {
      const records = existsSync(this.path(METRICS_JSONL))
        ? readFileSync(this.path(METRICS_JSONL), 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as MetricsRecord)
        : [];
      const first = records[0];
      this.csvColumns = first === undefined ? null : Object.keys(first);
      writeFileAtomic(csv, this.csvColumns === null ? '' : [this.csvColumns.join(','), ...records.map((record) => this.csvRow(record))].map((line) => `${line}\n`).join(''));
    }
  }

  /** numbers print in their shortest round-trip form; a term missing from the record stays empty */
  private csvRow(record: MetricsRecord): string {
    return (this.csvColumns ?? []).map((column) => (record[column] === undefined ? '' : String(record[column]))).join(',');
  }

  appendMetrics(record: MetricsRecord): void {
    appendToFile(this.path(METRICS_JSONL), `${JSON.stringify(record)}\n`);
    if (this.csvColumns === null) {
      this.csvColumns = Object.keys(record);
      appendToFile(this.path(METRICS_CSV), `${this.csvColumns.join(',')}\n`);
    }
    appendToFile(this.path(METRICS_CSV), `${this.csvRow(record)}\n`);
  }

  appendEvaluation(record: EvaluationRecord): void {
    // camelCase on disk, as every JSON Stitch writes (docs/cli.md); readers accept both spellings
    appendToFile(this.path(EVALUATIONS_JSONL), `${JSON.stringify(camelCaseKeys(record))}\n`);
  }

  /**
   * Flushes every log to the disk. Called before each checkpoint, so after a power loss the logs
   * hold every record up to the checkpoint that survived (appends alone may sit in the page cache).
   */
  sync(): void {
    for (const name of [METRICS_JSONL, METRICS_CSV, EVALUATIONS_JSONL]) syncFile(this.path(name));
  }
}
