/**
 * Before any job runs: the sweep directory (its spec and job index, refused when it holds another
 * sweep) and the datasets of `make:` recipes, generated once with the CLI's own `stitch data make`
 * and `stitch data thin`, and shared by every job (and by other sweeps pointing at the same data
 * directory).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic-file.js';
import { SweepError, type Sweep, type SweepJob } from './spec.js';

export const SPEC_FILE = 'sweep.json';
export const INDEX_FILE = 'jobs.json';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** jobs.json keeps every job as the sweep planned it */
export type JobIndexEntry = SweepJob;

export interface JobIndex {
  format: 'stitch-sweep-index';
  formatVersion: 1;
  name: string;
  runsDirectory: string;
  datasetFiles: Record<string, string>;
  heldOut: string | null;
  jobs: JobIndexEntry[];
}

export function jobIndex(sweep: Sweep): JobIndex {
  const heldOut = sweep.spec.evaluation.heldOut;
  return {
    format: 'stitch-sweep-index',
    formatVersion: 1,
    name: sweep.spec.name,
    runsDirectory: sweep.runsDirectory,
    datasetFiles: sweep.datasetFiles,
    heldOut: heldOut === undefined ? null : (sweep.datasetFiles[heldOut] ?? null),
    jobs: sweep.jobs,
  };
}

/**
 * Writes DIRECTORY/sweep.json and jobs.json, or checks that an existing sweep directory holds this
 * very sweep (the same command run again continues it).
 */
export function prepareSweepDirectory(sweep: Sweep): void {
  const specPath = join(sweep.directory, SPEC_FILE);
  const spec = `${JSON.stringify(sweep.spec, null, 2)}\n`;
  const index = `${JSON.stringify(jobIndex(sweep), null, 2)}\n`;
  if (existsSync(specPath)) {
    const previous = readFileSync(join(sweep.directory, INDEX_FILE), 'utf8');
    if (previous !== index) throw new SweepError(`${sweep.directory} holds another sweep (its ${INDEX_FILE} differs); give this one another directory`);
    return;
  }
  mkdirSync(sweep.directory, { recursive: true });
  writeFileAtomic(join(sweep.directory, INDEX_FILE), index);
  writeFileAtomic(specPath, spec);
}

export function readJobIndex(sweepDir: string): JobIndex {
  const path = join(sweepDir, INDEX_FILE);
  if (!existsSync(path)) throw new SweepError(`${sweepDir}: not a sweep directory (no ${INDEX_FILE})`);
  return JSON.parse(readFileSync(path, 'utf8')) as JobIndex;
}

function runCli(args: string[], what: string): void {
  const result = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    const line = result.stderr.trim().split('\n').filter((l) => l.startsWith('stitch:')).pop() ?? result.stderr.trim().split('\n').pop() ?? '';
    throw new SweepError(`${what} failed: ${line}`);
  }
}

/**
 * Makes every missing recipe dataset, in the order listed (a thinned dataset after its source).
 * Each is written under a temporary name and renamed, so a crash never leaves a half file that a
 * later run would take for the dataset.
 */
export function makeDatasets(sweep: Sweep, log: (line: string) => void): void {
  for (const dataset of sweep.spec.datasets) {
    const recipe = dataset.make;
    const file = sweep.datasetFiles[dataset.name] as string;
    if (recipe === undefined) {
      if (!existsSync(file)) throw new SweepError(`datasets ${dataset.name}: ${file} does not exist`);
      continue;
    }
    const dropped = recipe.dropped === undefined ? undefined : sweep.datasetFiles[recipe.dropped] as string;
    if (existsSync(file) && (dropped === undefined || existsSync(dropped))) continue;
    mkdirSync(dirname(file), { recursive: true });
    const partial = `${file}.partial.hdf5`;
    const droppedPartial = dropped === undefined ? undefined : `${dropped}.partial.hdf5`;
    for (const path of [partial, droppedPartial]) if (path !== undefined) rmSync(path, { force: true });
    if (recipe.generate !== undefined) {
      log(`making dataset ${dataset.name}: stitch data make ${recipe.generate}`);
      runCli(['data', 'make', recipe.generate, '--out', partial, '--seed', String(recipe.seed),
        ...(recipe.steps === undefined ? [] : ['--steps', String(recipe.steps)]), ...(recipe.noisy === true ? ['--noisy'] : [])], `datasets ${dataset.name}: make`);
    } else {
      const source = sweep.datasetFiles[recipe.thin as string] as string;
      log(`making dataset ${dataset.name}: stitch data thin ${recipe.thin}`);
      runCli(['data', 'thin', source, '--out', partial, '--seed', String(recipe.seed), '--keep', String(recipe.keep),
        ...(recipe.threshold === undefined ? [] : ['--threshold', String(recipe.threshold)]),
        ...(recipe.topFraction === undefined ? [] : ['--top-fraction', String(recipe.topFraction)]),
        ...(droppedPartial === undefined ? [] : ['--dropped', droppedPartial])], `datasets ${dataset.name}: thin`);
    }
    if (dropped !== undefined && droppedPartial !== undefined) renameSync(droppedPartial, dropped);
    renameSync(partial, file);
  }
}
