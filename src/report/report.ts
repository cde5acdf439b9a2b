/**
 * `report.html` for one run and the comparison page for several. The report is written at the
 * end of training and by `stitch report RUN_DIR`; both recompute `report-data.json` (dataset
 * summary, rollouts, Reinformer's return predictions) from the dataset and the policy file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { compareRuns } from './compare.js';
import { computeReportExtras, REPORT_DATA_FILE } from './extras.js';
import { renderPage } from './page.js';
import { readRunSnapshot, REPORT_FILE, type RunSnapshot } from './run-data.js';

export { REPORT_FILE } from './run-data.js';

/** Writes RUN_DIR/report-data.json and RUN_DIR/report.html; returns the report's path. */
export async function writeRunReport(runDir: string): Promise<string> {
  const extras = await computeReportExtras(runDir);
  writeFileAtomic(join(runDir, REPORT_DATA_FILE), `${JSON.stringify(extras)}\n`);
  const snapshot = readRunSnapshot(runDir);
  const path = join(runDir, REPORT_FILE);
  writeFileAtomic(path, renderRunReport(snapshot));
  return path;
}

export function renderRunReport(snapshot: RunSnapshot): string {
  return renderPage(`Stitch run ${snapshot.name}`, { mode: 'report', run: snapshot });
}

export class CompareError extends Error {}

/** Writes the comparison of several run directories to `outPath`. */
export function writeComparison(runDirs: readonly string[], outPath: string): void {
  const snapshots = runDirs.map((dir) => readRunSnapshot(dir));
  const unusable = snapshots.filter((snapshot) => snapshot.status === 'not a run' || snapshot.evaluations.length === 0);
  if (unusable.length > 0) throw new CompareError(`no evaluation to compare in ${unusable.map((snapshot) => snapshot.name).join(', ')}`);
  writeFileSync(outPath, renderPage(`Stitch comparison of ${snapshots.length} runs`, { mode: 'compare', comparison: compareRuns(snapshots) }));
}
