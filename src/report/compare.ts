/**
 * Several runs side by side: runs are grouped by algorithm and task (the seeds of one setting),
 * and each group's final scores summarised by mean ± std and the interquartile mean with a
 * bootstrap confidence interval.
 */
import type { EvaluationRecord } from '../train/evaluate.js';
import type { RunSnapshot } from './run-data.js';
import { bootstrapInterval, interquartileMean, mean, sampleStd } from './stats.js';

const CONFIDENCE_LEVEL = 0.95;
const BOOTSTRAP_RESAMPLES = 2000;

export interface ComparedRun {
  name: string;
  algo: string;
  env: string;
  seed: number | null;
  /** steps of the last evaluation */
  step: number;
  /** the last evaluation's headline score */
  final: number;
  best: number;
  /** the headline score at each of the group's curve steps (null where this run has none) */
  curve: Array<number | null>;
}

export interface ComparisonGroup {
  label: string;
  runs: ComparedRun[];
  mean: number;
  std: number;
  iqm: number;
  iqmLow: number;
  iqmHigh: number;
  /** mean and std at every step any run of the group was evaluated at, over the runs evaluated there */
  curve: { steps: number[]; mean: number[]; std: number[] };
}

export interface Comparison {
  scoreName: string;
  level: number;
  resamples: number;
  groups: ComparisonGroup[];
  runs: ComparedRun[];
}

function headlineScore(record: EvaluationRecord): number {
  return record.normalized_score ?? record.mean_return;
}

/** Runs without any evaluation cannot be compared; the caller names them. */
export function compareRuns(snapshots: readonly RunSnapshot[]): Comparison {
  const byGroup = new Map<string, RunSnapshot[]>();
  for (const snapshot of snapshots) {
    const label = `${String(snapshot.config?.algo ?? '?')} · ${String(snapshot.config?.env ?? '?')}`;
    byGroup.set(label, [...(byGroup.get(label) ?? []), snapshot]);
  }
  const everyRecord = snapshots.flatMap((snapshot) => snapshot.evaluations);
  const normalized = everyRecord.length > 0 && everyRecord.every((record) => record.normalized_score !== null);
  const groups: ComparisonGroup[] = [];
  for (const [label, members] of byGroup) {
    const steps = [...new Set(members.flatMap((snapshot) => snapshot.evaluations.map((record) => record.step)))].sort((a, b) => a - b);
    const runs = members.map((snapshot): ComparedRun => {
      const last = snapshot.final?.last ?? snapshot.evaluations[snapshot.evaluations.length - 1];
      if (last === undefined) throw new Error(`${snapshot.name}: no evaluation yet`);
      const scoreAt = new Map(snapshot.evaluations.map((record) => [record.step, headlineScore(record)]));
      return {
        name: snapshot.name,
        algo: String(snapshot.config?.algo ?? '?'),
        env: String(snapshot.config?.env ?? '?'),
        seed: typeof snapshot.config?.seed === 'number' ? snapshot.config.seed : null,
        step: last.step,
        final: headlineScore(last),
        best: Math.max(...snapshot.evaluations.map(headlineScore), headlineScore(last)),
        curve: steps.map((step) => scoreAt.get(step) ?? null),
      };
    });
    const finals = runs.map((run) => run.final);
    const interval = bootstrapInterval(finals, interquartileMean, { level: CONFIDENCE_LEVEL, resamples: BOOTSTRAP_RESAMPLES });
    // runs evaluated at different steps: each step's statistics cover the runs evaluated there
    const columns = steps.map((_, i) => runs.flatMap((run) => (run.curve[i] === null ? [] : [run.curve[i] as number])));
    groups.push({
      label,
      runs,
      mean: mean(finals),
      std: sampleStd(finals),
      iqm: interquartileMean(finals),
      iqmLow: interval.low,
      iqmHigh: interval.high,
      curve: { steps, mean: columns.map(mean), std: columns.map(sampleStd) },
    });
  }
  return {
    scoreName: normalized ? 'normalized score' : 'mean return',
    level: CONFIDENCE_LEVEL,
    resamples: BOOTSTRAP_RESAMPLES,
    groups,
    runs: groups.flatMap((group) => group.runs),
  };
}
