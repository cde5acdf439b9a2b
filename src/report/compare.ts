/**
 * Several runs side by side. Runs are grouped by their full resolved config minus the seed (and
 * the other fields that do not change what is learned or how it is scored, IGNORED_FIELDS), so
 * only the seeds of one setting are pooled; the fields that differ between groups name them. Each
 * group's final scores are summarised by mean ± std and the interquartile mean with a bootstrap
 * confidence interval. Runs that have not finished (no eval.json) are skipped with a note: their
 * last evaluation is not a final score.
 */
import { RunConfigSchema } from '../train/config.js';
import type { EvaluationRecord } from '../train/evaluate.js';
import type { RunSnapshot } from './run-data.js';
import { bootstrapInterval, interquartileMean, mean, sampleStd } from './stats.js';

const CONFIDENCE_LEVEL = 0.95;
const BOOTSTRAP_RESAMPLES = 2000;

/**
 * Config fields that do not split groups: the seeds themselves, and bookkeeping that changes
 * neither the weights nor the scores (how often metrics and checkpoints are written).
 */
export const IGNORED_FIELDS: readonly string[] = ['seed', 'evalSeed', 'logEvery', 'checkpointEvery'];

/**
 * Only the run config's own fields group runs: anything else config.json may carry (a record of
 * the version or command line that made it) describes a run without changing what it learns.
 */
const RUN_CONFIG_FIELDS: ReadonlySet<string> = new Set(Object.keys(RunConfigSchema.shape));

/** A comparison that would mislead (the same seed twice in a group, nothing finished); the CLI prints it as one line. */
export class CompareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompareError';
  }
}

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
  /** algorithm · env, then the fields that set this group apart (e.g. algorithm.width=128) */
  label: string;
  /** only what sets this group apart (e.g. width=128), for chart axes; the label when there is one group */
  shortLabel: string;
  /** the values of Comparison.differingFields for this group, in that order (JSON text) */
  settings: string[];
  runs: ComparedRun[];
  /** one run: no spread over seeds, the interval is a single point */
  singleRun: boolean;
  mean: number;
  std: number;
  iqm: number;
  iqmLow: number;
  iqmHigh: number;
  /** mean and std at every step any run of the group was evaluated at, over the runs evaluated there */
  curve: { steps: number[]; mean: number[]; std: number[] };
}

export interface SkippedRun {
  name: string;
  reason: string;
}

export interface Comparison {
  scoreName: string;
  level: number;
  resamples: number;
  /** dotted config paths whose values differ between groups (empty with one group) */
  differingFields: string[];
  groups: ComparisonGroup[];
  runs: ComparedRun[];
  /** runs left out (unfinished), with the reason */
  skipped: SkippedRun[];
}

function headlineScore(record: EvaluationRecord): number {
  return record.normalized_score ?? record.mean_return;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** the config as dotted paths to JSON text, nested objects flattened (algorithm.width) */
function flattenConfig(value: Record<string, unknown>, prefix = ''): Map<string, string> {
  const fields = new Map<string, string>();
  for (const key of Object.keys(value).sort()) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (prefix === '' && (IGNORED_FIELDS.includes(key) || !RUN_CONFIG_FIELDS.has(key))) continue;
    const field = value[key];
    if (isPlainObject(field)) for (const [inner, text] of flattenConfig(field, path)) fields.set(inner, text);
    else fields.set(path, JSON.stringify(field) ?? 'undefined');
  }
  return fields;
}

const groupKey = (fields: Map<string, string>): string => JSON.stringify([...fields]);

/**
 * Whether a config path sets groups apart: two groups that both have it disagree, or runs of one
 * algorithm disagree on having it at all (a config from an older version). A setting only some
 * algorithms have (QT's eta, Reinformer's expectile) is not a difference between algorithms: the
 * algorithm is, and listing every such setting as `=undefined` buried what the groups share.
 */
function setsGroupsApart(path: string, groups: ReadonlyArray<Map<string, string>>): boolean {
  const having = groups.filter((fields) => fields.has(path));
  if (new Set(having.map((fields) => fields.get(path))).size > 1) return true;
  const presenceByAlgo = new Map<string | undefined, Set<boolean>>();
  for (const fields of groups) {
    const algo = fields.get('algo');
    const presence = presenceByAlgo.get(algo) ?? new Set<boolean>();
    presence.add(fields.has(path));
    presenceByAlgo.set(algo, presence);
  }
  return [...presenceByAlgo.values()].some((presence) => presence.size > 1);
}

/** Splits runs into those with a final evaluation and those skipped, with the reason. */
export function partitionFinished(snapshots: readonly RunSnapshot[]): { finished: RunSnapshot[]; skipped: SkippedRun[] } {
  const finished: RunSnapshot[] = [];
  const skipped: SkippedRun[] = [];
  for (const snapshot of snapshots) {
    if (snapshot.final !== null && snapshot.config !== null) {
      finished.push(snapshot);
      continue;
    }
    const last = snapshot.evaluations[snapshot.evaluations.length - 1];
    const steps = typeof snapshot.config?.steps === 'number' ? `/${snapshot.config.steps}` : '';
    skipped.push({ name: snapshot.name, reason: last === undefined ? 'unfinished, no evaluation yet' : `unfinished, last evaluated at step ${last.step}${steps}` });
  }
  return { finished, skipped };
}

/**
 * Compares finished runs (see partitionFinished for the rest). Throws CompareError when a group
 * holds the same seed twice: two copies of one run would count as two seeds.
 */
export function compareRuns(snapshots: readonly RunSnapshot[], skipped: readonly SkippedRun[] = []): Comparison {
  const byGroup = new Map<string, { fields: Map<string, string>; members: RunSnapshot[] }>();
  for (const snapshot of snapshots) {
    const fields = flattenConfig(snapshot.config ?? {});
    const key = groupKey(fields);
    const group = byGroup.get(key) ?? { fields, members: [] };
    group.members.push(snapshot);
    byGroup.set(key, group);
  }
  const grouped = [...byGroup.values()];
  const allPaths = [...new Set(grouped.flatMap((group) => [...group.fields.keys()]))].sort();
  const differingFields = grouped.length < 2 ? [] : allPaths.filter((path) => setsGroupsApart(path, grouped.map((group) => group.fields)));
  const everyRecord = snapshots.flatMap((snapshot) => snapshot.evaluations);
  const normalized = everyRecord.length > 0 && everyRecord.every((record) => record.normalized_score !== null);
  const groups: ComparisonGroup[] = [];
  for (const { fields, members } of grouped) {
    const seeds = new Map<string, string>();
    for (const member of members) {
      const seed = JSON.stringify(member.config?.seed ?? null);
      const earlier = seeds.get(seed);
      if (earlier !== undefined) throw new CompareError(`${earlier} and ${member.name} have the same config and seed ${seed}: one run counted twice would fake a second seed; compare one of them`);
      seeds.set(seed, member.name);
    }
    const settings = differingFields.map((path) => fields.get(path) ?? 'undefined');
    const algo = String(members[0]?.config?.algo ?? '?');
    const env = String(members[0]?.config?.env ?? '?');
    // a setting of another algorithm is left out of this group's labels (its column says undefined)
    const ownSetting = (path: string): boolean => grouped.some((other) => other.fields.get('algo') === fields.get('algo') && other.fields.has(path));
    const apart = differingFields.flatMap((path, i) => (path === 'algo' || path === 'env' || !ownSetting(path) ? [] : [`${path}=${settings[i] as string}`]));
    const label = [`${algo} · ${env}`, ...apart].join(' · ');
    const shortLabel = differingFields.length === 0 ? label : differingFields.flatMap((path, i) => {
      if (path === 'algo') return [algo];
      if (path === 'env') return [env];
      return ownSetting(path) ? [`${path.replace(/^algorithm\./, '')}=${settings[i] as string}`] : [];
    }).join(' · ');
    const steps = [...new Set(members.flatMap((snapshot) => snapshot.evaluations.map((record) => record.step)))].sort((a, b) => a - b);
    const runs = members.map((snapshot): ComparedRun => {
      const last = snapshot.final?.last ?? snapshot.evaluations[snapshot.evaluations.length - 1];
      if (last === undefined) throw new CompareError(`${snapshot.name}: no evaluation yet`);
      const scoreAt = new Map(snapshot.evaluations.map((record) => [record.step, headlineScore(record)]));
      return {
        name: snapshot.name,
        algo,
        env,
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
      shortLabel,
      settings,
      runs,
      singleRun: runs.length === 1,
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
    differingFields,
    groups,
    runs: groups.flatMap((group) => group.runs),
    skipped: [...skipped],
  };
}
