/**
 * The sweep file (YAML or JSON; docs/sweeps.md): datasets x algorithms x seeds (x optional grids)
 * under one budget and evaluation protocol. Validated with zod so that a mistake is one line
 * naming the field; expanded into jobs, each one ordinary `stitch train` run directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeIssues } from '../train/config.js';

/** A problem with the sweep file or its directories that the user can fix (the CLI exits 2). */
export class SweepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepError';
  }
}

/** names become file names (run directories, dataset files, job ids), so they are kept plain */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit');
const count = (min: number) => z.number().int().min(min);
const jsonValue: z.ZodType<unknown> = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);

/** `stitch data make` (generate) or `stitch data thin` (thin) once, into the sweep's data directory */
const RecipeSchema = z.object({
  /** a `stitch data make` dataset name, e.g. maze2d-umaze */
  generate: z.string().min(1).optional(),
  /** rows to generate (default: D4RL's size) */
  steps: count(1).optional(),
  noisy: z.boolean().optional(),
  /** the name of another dataset of this sweep to thin */
  thin: name.optional(),
  threshold: z.number().optional(),
  topFraction: z.number().gt(0).max(1).optional(),
  keep: z.number().min(0).max(1).optional(),
  /** a name for the dropped high-return trajectories, usable as a dataset (e.g. evaluation.heldOut) */
  dropped: name.optional(),
  seed: count(0).default(0),
}).strict().superRefine((recipe, context) => {
  const kinds = [recipe.generate, recipe.thin].filter((value) => value !== undefined).length;
  if (kinds !== 1) context.addIssue({ code: 'custom', message: 'give exactly one of generate or thin' });
  if (recipe.generate !== undefined) {
    for (const key of ['threshold', 'topFraction', 'keep', 'dropped'] as const) {
      if (recipe[key] !== undefined) context.addIssue({ code: 'custom', path: [key], message: 'applies to thin, not generate' });
    }
  }
  if (recipe.thin !== undefined) {
    if (recipe.keep === undefined) context.addIssue({ code: 'custom', path: ['keep'], message: 'thin needs keep (the share of high-return trajectories to keep)' });
    for (const key of ['steps', 'noisy'] as const) {
      if (recipe[key] !== undefined) context.addIssue({ code: 'custom', path: [key], message: 'applies to generate, not thin' });
    }
  }
});

const DatasetSchema = z.object({
  name,
  /** the evaluation task */
  env: z.string().min(1),
  file: z.string().min(1).optional(),
  make: RecipeSchema.optional(),
  /** false: only a source for other recipes (or a held-out set), no runs train on it */
  train: z.boolean().default(true),
  /** this dataset's seeds, instead of the sweep's (e.g. more seeds where a result is close) */
  seeds: z.array(count(0)).min(1).optional(),
}).strict().superRefine((dataset, context) => {
  if ((dataset.file === undefined) === (dataset.make === undefined)) context.addIssue({ code: 'custom', message: 'give exactly one of file or make' });
});

const gridSchema = z.record(z.string().min(1), z.array(jsonValue).min(1));

const AlgorithmSchema = z.object({
  algo: z.string().min(1),
  /** the column's name (default: algo); distinguishes variants of one algorithm */
  label: name.optional(),
  /** true: the preset named by the dataset's env id; a string: that preset; 'none'; omitted: `stitch train`'s default */
  preset: z.union([z.literal(true), z.string().min(1)]).optional(),
  /** algorithm config fields (`--set`) */
  overrides: z.record(z.string().min(1), jsonValue).default({}),
  /** values to sweep for this algorithm only (in addition to the sweep's grid) */
  grid: gridSchema.optional(),
}).strict();

export const SweepSpecSchema = z.object({
  name,
  /** the sweep directory (spec, job index, job states, results); default runs/sweeps/NAME */
  directory: z.string().min(1).optional(),
  /** where the run directories go (default DIRECTORY/runs); two sweeps may share one, sharing equal runs */
  runs: z.string().min(1).optional(),
  /** where `make` recipes write their datasets (default DIRECTORY/datasets) */
  data: z.string().min(1).optional(),
  datasets: z.array(DatasetSchema).min(1),
  algorithms: z.array(AlgorithmSchema).min(1),
  seeds: z.array(count(0)).min(1),
  budget: z.object({
    steps: count(1),
    /** default steps/10, as `stitch train` */
    checkpointEvery: count(0).optional(),
    logEvery: count(1).optional(),
  }).strict(),
  evaluation: z.object({
    /** evaluate every N steps; 0: only at the end */
    every: count(0),
    episodes: count(1),
    seed: count(0).optional(),
    envs: count(1).optional(),
    /** a dataset name: `stitch sweep report` also scores each run's held-out action error on it */
    heldOut: name.optional(),
    /** every run also keeps its best evaluation's weights (`stitch train --keep-best`) */
    keepBest: z.boolean().optional(),
    /** every run evaluates on a worker thread beside training (`stitch train --eval-worker`) */
    worker: z.boolean().optional(),
  }).strict(),
  /** config fields to sweep for every algorithm: run fields (steps, evalEpisodes, ...) or algorithm fields */
  grid: gridSchema.optional(),
  /** tries per job before it is marked failed */
  attempts: count(1).default(3),
}).strict();

export type SweepSpec = z.infer<typeof SweepSpecSchema>;
export type DatasetEntry = SweepSpec['datasets'][number];

/** grid keys that are `stitch train` flags rather than algorithm config fields */
const RUN_FLAGS: Readonly<Record<string, string>> = {
  steps: '--steps', evalEvery: '--eval-every', evalEpisodes: '--eval-episodes', evalSeed: '--eval-seed',
  evalEnvs: '--eval-envs', logEvery: '--log-every', checkpointEvery: '--checkpoint-every',
};

/** One run of the sweep: its run directory and the `stitch train` arguments that make it. */
export interface SweepJob {
  /** unique in the sweep; the run directory's name */
  name: string;
  dataset: string;
  /** the algorithm column (label) */
  algorithm: string;
  algo: string;
  seed: number;
  /** the grid point, {} without grids */
  point: Record<string, unknown>;
  /** absolute */
  runDir: string;
  /** `stitch train` arguments of a new run (a started run is continued with --resume instead) */
  trainArgs: string[];
}

export interface Sweep {
  spec: SweepSpec;
  /** absolute paths */
  directory: string;
  runsDirectory: string;
  dataDirectory: string;
  /** absolute path of each dataset by name, including recipes' `dropped` outputs */
  datasetFiles: Record<string, string>;
  jobs: SweepJob[];
}

function parseText(path: string, text: string): unknown {
  try {
    return ['.json'].includes(extname(path).toLowerCase()) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new SweepError(`${path}: not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'} (${(error instanceof Error ? error.message : String(error)).split('\n')[0]})`);
  }
}

/** Reads and validates a sweep file; relative paths in it are resolved against `cwd`. */
export function loadSweep(path: string, cwd = process.cwd()): Sweep {
  if (!existsSync(path)) throw new SweepError(`${path}: no such sweep file`);
  return expandSweep(parseSpec(parseText(path, readFileSync(path, 'utf8')), basename(path)), cwd);
}

export function parseSpec(raw: unknown, source: string): SweepSpec {
  const parsed = SweepSpecSchema.safeParse(raw);
  if (!parsed.success) throw new SweepError(`${source}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** every combination of the grid's values, in the order written */
function gridPoints(grid: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let points: Array<Record<string, unknown>> = [{}];
  for (const [key, values] of Object.entries(grid)) points = points.flatMap((point) => values.map((value) => ({ ...point, [key]: value })));
  return points;
}

const pointSuffix = (point: Record<string, unknown>): string => Object.entries(point)
  .map(([key, value]) => `-${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`.replace(/[^A-Za-z0-9._=-]/g, '_')).join('');

function checkReferences(spec: SweepSpec): void {
  const names = new Map<string, string>();
  const claim = (value: string, what: string): void => {
    const earlier = names.get(value);
    if (earlier !== undefined) throw new SweepError(`${what}: the name ${value} is already used by ${earlier}`);
    names.set(value, what);
  };
  spec.datasets.forEach((dataset, i) => {
    claim(dataset.name, `datasets.${i}.name`);
    if (dataset.make?.dropped !== undefined) claim(dataset.make.dropped, `datasets.${i}.make.dropped`);
  });
  const made = new Set<string>();
  spec.datasets.forEach((dataset, i) => {
    const source = dataset.make?.thin;
    if (source !== undefined && !made.has(source) && !spec.datasets.some((other) => other.name === source && other.file !== undefined)) {
      throw new SweepError(`datasets.${i}.make.thin: ${source} is not a dataset listed before it`);
    }
    made.add(dataset.name);
    if (dataset.make?.dropped !== undefined) made.add(dataset.make.dropped);
  });
  if (spec.evaluation.heldOut !== undefined && !names.has(spec.evaluation.heldOut)) throw new SweepError(`evaluation.heldOut: ${spec.evaluation.heldOut} is not a dataset of this sweep`);
  if (!spec.datasets.some((dataset) => dataset.train)) throw new SweepError('datasets: no dataset has train: true, so there is nothing to run');
  const labels = new Set<string>();
  spec.algorithms.forEach((algorithm, i) => {
    const label = algorithm.label ?? algorithm.algo;
    if (labels.has(label)) throw new SweepError(`algorithms.${i}: the label ${label} is used twice; give each variant its own label`);
    labels.add(label);
  });
}

/** The sweep's directories, dataset files and jobs (seed by seed, so an interrupted sweep has whole seeds). */
export function expandSweep(spec: SweepSpec, cwd: string): Sweep {
  checkReferences(spec);
  const directory = resolve(cwd, spec.directory ?? join('runs', 'sweeps', spec.name));
  const runsDirectory = resolve(cwd, spec.runs ?? join(directory, 'runs'));
  const dataDirectory = resolve(cwd, spec.data ?? join(directory, 'datasets'));
  const datasetFiles: Record<string, string> = {};
  for (const dataset of spec.datasets) {
    datasetFiles[dataset.name] = dataset.file === undefined ? join(dataDirectory, `${dataset.name}.hdf5`) : resolve(cwd, dataset.file);
    if (dataset.make?.dropped !== undefined) datasetFiles[dataset.make.dropped] = join(dataDirectory, `${dataset.make.dropped}.hdf5`);
  }
  const jobs: SweepJob[] = [];
  const allSeeds = [...new Set([...spec.seeds, ...spec.datasets.flatMap((dataset) => dataset.seeds ?? [])])].sort((a, b) => a - b);
  for (const seed of allSeeds) {
    for (const dataset of spec.datasets.filter((entry) => entry.train && (entry.seeds ?? spec.seeds).includes(seed))) {
      for (const algorithm of spec.algorithms) {
        const label = algorithm.label ?? algorithm.algo;
        for (const point of gridPoints({ ...spec.grid, ...algorithm.grid })) {
          const jobName = `${label}-${dataset.name}-seed${seed}${pointSuffix(point)}`;
          const runDir = join(runsDirectory, jobName);
          jobs.push({
            name: jobName, dataset: dataset.name, algorithm: label, algo: algorithm.algo, seed, point, runDir,
            trainArgs: trainArguments(spec, dataset, algorithm, seed, point, datasetFiles[dataset.name] as string, runDir),
          });
        }
      }
    }
  }
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.name)) throw new SweepError(`two jobs would share the run directory ${job.name}; give the algorithms distinct labels`);
    seen.add(job.name);
  }
  return { spec, directory, runsDirectory, dataDirectory, datasetFiles, jobs };
}

function trainArguments(spec: SweepSpec, dataset: DatasetEntry, algorithm: SweepSpec['algorithms'][number], seed: number, point: Record<string, unknown>, file: string, runDir: string): string[] {
  const runFields: Record<string, unknown> = {
    steps: spec.budget.steps,
    evalEvery: spec.evaluation.every,
    evalEpisodes: spec.evaluation.episodes,
    evalSeed: spec.evaluation.seed,
    evalEnvs: spec.evaluation.envs,
    logEvery: spec.budget.logEvery,
    checkpointEvery: spec.budget.checkpointEvery,
  };
  const overrides: Record<string, unknown> = { ...algorithm.overrides };
  for (const [key, value] of Object.entries(point)) {
    if (key in RUN_FLAGS) runFields[key] = value;
    else overrides[key] = value;
  }
  const preset = algorithm.preset === true ? dataset.env : algorithm.preset;
  const args = ['--algo', algorithm.algo, '--dataset', file, '--env', dataset.env, '--seed', String(seed)];
  if (preset !== undefined) args.push('--preset', preset);
  for (const [key, value] of Object.entries(runFields)) {
    if (value !== undefined) args.push(RUN_FLAGS[key] as string, String(value));
  }
  if (spec.evaluation.keepBest === true) args.push('--keep-best');
  if (spec.evaluation.worker === true) args.push('--eval-worker');
  for (const [key, value] of Object.entries(overrides)) args.push('--set', `${key}=${JSON.stringify(value)}`);
  return [...args, '--out', runDir];
}
