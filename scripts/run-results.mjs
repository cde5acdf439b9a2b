#!/usr/bin/env node
/**
 * Runs an evidence matrix (algorithms x datasets x seeds) through the real CLI and prints a
 * markdown table of final normalized scores (mean +- std over seeds), training time and steps/s.
 *
 *   node scripts/run-results.mjs --matrix maze2d-small --out runs/results [--parallel 2]
 *
 * Finished runs (with eval.json) are skipped, so an interrupted matrix can be continued.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SMALL_NETWORK = { width: 64, layers: 2, batchSize: 64, warmupSteps: 200 };
const MATRICES = {
  // docs/results.md, issue 5: DT and Reinformer on generated Maze2D at a 2-core budget
  'maze2d-small': {
    datasets: [
      { env: 'maze2d-umaze-v1', maze: 'maze2d-umaze', rows: 1_000_000 },
      { env: 'maze2d-medium-v1', maze: 'maze2d-medium', rows: 2_000_000 },
    ],
    algorithms: [
      { algo: 'dt', overrides: { ...SMALL_NETWORK, heads: 1, mlpWidth: 256, lr: 1e-3 } },
      { algo: 'reinformer', overrides: { ...SMALL_NETWORK, heads: 4, lr: 1e-3 } },
    ],
    seeds: [0, 1, 2],
    steps: 4000,
    evalEvery: 2000,
    evalEpisodes: 100,
  },
};

function argument(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

const matrixName = argument('--matrix', 'maze2d-small');
const matrix = MATRICES[matrixName];
if (matrix === undefined) throw new Error(`unknown matrix ${matrixName}; known: ${Object.keys(MATRICES).join(', ')}`);
const out = argument('--out', join('runs', 'results', matrixName));
const parallel = Number(argument('--parallel', '2'));
const cli = join('dist', 'src', 'cli', 'main.js');
mkdirSync(join(out, 'datasets'), { recursive: true });

for (const dataset of matrix.datasets) {
  dataset.file = join(out, 'datasets', `${dataset.maze}-${dataset.rows}.hdf5`);
  if (existsSync(dataset.file)) continue;
  const made = spawnSync(process.execPath, [cli, 'data', 'make', dataset.maze, '--out', dataset.file, '--steps', String(dataset.rows), '--seed', '0'], { stdio: 'inherit' });
  if (made.status !== 0) throw new Error(`could not make ${dataset.file}`);
}

const jobs = [];
for (const dataset of matrix.datasets) {
  for (const { algo, overrides } of matrix.algorithms) {
    for (const seed of matrix.seeds) {
      const runDir = join(out, `${algo}-${dataset.env}-seed${seed}`);
      const sets = Object.entries(overrides).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);
      jobs.push({
        algo, env: dataset.env, seed, runDir,
        args: [cli, 'train', '--algo', algo, '--dataset', dataset.file, '--env', dataset.env, '--seed', String(seed),
          '--steps', String(matrix.steps), '--eval-every', String(matrix.evalEvery), '--eval-episodes', String(matrix.evalEpisodes),
          ...sets, '--out', runDir],
      });
    }
  }
}

async function runJob(job) {
  if (existsSync(join(job.runDir, 'eval.json'))) return;
  const args = existsSync(join(job.runDir, 'config.json')) ? [cli, 'train', '--resume', job.runDir] : job.args;
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, STITCH_THREADS: '1', CI: '1' } });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${job.runDir}: exit ${code}`))));
  });
}

const queue = [...jobs];
await Promise.all(Array.from({ length: parallel }, async () => {
  for (let job = queue.shift(); job !== undefined; job = queue.shift()) await runJob(job);
}));

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const rows = [];
for (const dataset of matrix.datasets) {
  for (const { algo } of matrix.algorithms) {
    const runs = jobs.filter((j) => j.algo === algo && j.env === dataset.env).map((j) => {
      const evaluation = JSON.parse(readFileSync(join(j.runDir, 'eval.json'), 'utf8'));
      const metrics = readFileSync(join(j.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const last = metrics[metrics.length - 1];
      return { last: evaluation.last.normalized_score, best: evaluation.best.normalized_score, seconds: last.time_s, rate: mean(metrics.map((m) => m.steps_per_s)) };
    });
    const fmt = (xs) => `${mean(xs).toFixed(1)} ± ${std(xs).toFixed(1)}`;
    rows.push(`| ${dataset.env} | ${algo} | ${fmt(runs.map((r) => r.last))} | ${fmt(runs.map((r) => r.best))} | ${runs.map((r) => r.last.toFixed(1)).join(', ')} | ${mean(runs.map((r) => r.seconds)).toFixed(0)} | ${mean(runs.map((r) => r.rate)).toFixed(1)} |`);
  }
}
console.log(`matrix ${matrixName}: ${matrix.steps} steps, ${matrix.evalEpisodes} evaluation episodes, seeds ${matrix.seeds.join(', ')}\n`);
console.log('| task | algorithm | last (mean ± std over seeds) | best | last per seed | train s/run | steps/s |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
