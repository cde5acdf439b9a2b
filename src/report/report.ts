/**
 * `report.html` for one run and the comparison page for several. The report is written at the
 * end of training and by `stitch report RUN_DIR`; both recompute `report-data.json` (dataset
 * summary, rollouts, Reinformer's return predictions) from the dataset and the policy file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { CompareError, compareRuns, partitionFinished, type Comparison } from './compare.js';
import { computeReportExtras, REPORT_DATA_FILE } from './extras.js';
import { renderPage } from './page.js';
import { readRunSnapshot, REPORT_FILE, type RunSnapshot } from './run-data.js';

export { REPORT_FILE } from './run-data.js';
export { CompareError } from './compare.js';

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

/**
 * Writes the comparison of several run directories to `outPath` and returns it (its `skipped`
 * lists the unfinished runs left out). A directory that is not a run, nothing finished, or one
 * seed twice in a group is a CompareError, and nothing is written.
 */
export function writeComparison(runDirs: readonly string[], outPath: string): Comparison {
  const snapshots = runDirs.map((dir) => readRunSnapshot(dir));
  const notRuns = snapshots.filter((snapshot) => snapshot.status === 'not a run');
  if (notRuns.length > 0) throw new CompareError(`no evaluation to compare in ${notRuns.map((snapshot) => snapshot.name).join(', ')} (not a run directory: no readable config.json)`);
  const { finished, skipped } = partitionFinished(snapshots);
  if (finished.length === 0) throw new CompareError(`no finished run to compare (${skipped.map((run) => `${run.name}: ${run.reason}`).join('; ')})`);
  const comparison = compareRuns(finished, skipped);
  writeFileSync(outPath, renderPage(`Stitch comparison of ${comparison.runs.length} runs`, { mode: 'compare', comparison }));
  return comparison;
}
