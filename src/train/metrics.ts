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

export const METRICS_JSONL = 'metrics.jsonl';
export const METRICS_CSV = 'metrics.csv';
export const EVALUATIONS_JSONL = 'evaluations.jsonl';

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
  truncateAfter(step: number): void {
    for (const name of [METRICS_JSONL, EVALUATIONS_JSONL]) {
      const path = this.path(name);
      if (!existsSync(path)) continue;
      const kept = readFileSync(path, 'utf8').split('\n').filter((line) => {
        const recorded = stepOfJsonLine(line);
        return recorded !== undefined && recorded <= step;
      });
      writeFileAtomic(path, kept.map((line) => `${line}\n`).join(''));
    }
    const csv = this.path(METRICS_CSV);
    if (existsSync(csv)) {
      const [header = '', ...rows] = readFileSync(csv, 'utf8').split('\n');
      const width = header.split(',').length;
      const kept = rows.filter((row) => {
        const cells = row.split(',');
        const recorded = Number(cells[0]);
        return row !== '' && cells.length === width && Number.isInteger(recorded) && recorded <= step;
      });
      writeFileAtomic(csv, header === '' ? '' : [header, ...kept].map((line) => `${line}\n`).join(''));
    }
  }

  appendMetrics(record: MetricsRecord): void {
    appendToFile(this.path(METRICS_JSONL), `${JSON.stringify(record)}\n`);
    if (this.csvColumns === null) {
      this.csvColumns = Object.keys(record);
      appendToFile(this.path(METRICS_CSV), `${this.csvColumns.join(',')}\n`);
    }
    // numbers print in their shortest round-trip form; a term missing from this record stays empty
    appendToFile(this.path(METRICS_CSV), `${this.csvColumns.map((column) => (record[column] === undefined ? '' : String(record[column]))).join(',')}\n`);
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
