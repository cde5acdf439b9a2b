/**
 * Sweep files expand into the jobs they say: the committed sweeps/ files reproduce the matrices
 * docs/results.md was measured with (the run directory names and `stitch train` flags of the
 * retired scripts/run-results.mjs), grids multiply, per-dataset seeds replace the sweep's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSweep, expandSweep, parseSpec } from '../../src/sweep/spec.js';

describe('sweep files', () => {
  it('sweeps/*.yaml express the matrices behind docs/results.md', () => {
    const small = loadSweep('sweeps/maze2d-small.yaml', '/work');
    assert.equal(small.jobs.length, 12);
    assert.deepEqual(small.jobs.slice(0, 4).map((job) => job.name), ['dt-maze2d-umaze-v1-seed0', 'reinformer-maze2d-umaze-v1-seed0', 'dt-maze2d-medium-v1-seed0', 'reinformer-maze2d-medium-v1-seed0']);
    const dt = small.jobs[0]?.trainArgs.join(' ') ?? '';
    assert.match(dt, /--algo dt --dataset \/work\/runs\/results\/maze2d-small\/datasets\/maze2d-umaze-v1\.hdf5 --env maze2d-umaze-v1 --seed 0 --steps 4000 --eval-every 2000 --eval-episodes 100 /);
    assert.match(dt, /--set width=64 --set layers=2 --set batchSize=64 --set warmupSteps=200 --set heads=1 --set mlpWidth=256 --set lr=0\.001 --out \/work\/runs\/results\/maze2d-small\/dt-maze2d-umaze-v1-seed0$/);

    const qt = loadSweep('sweeps/maze2d-qt.yaml', '/work');
    assert.equal(qt.jobs.length, 6);
    assert.match(qt.jobs[0]?.trainArgs.join(' ') ?? '', /--algo qt .*--preset maze2d-umaze-v1 .*--set candidates=12 /);

    const coverage = loadSweep('sweeps/coverage.yaml', '/work');
    const ablation = loadSweep('sweeps/ablation.yaml', '/work');
    assert.equal(coverage.jobs.length, 4 * 3 * 3);
    assert.equal(ablation.jobs.length, 8 * 3 + 8);
    assert.equal(coverage.datasetFiles.heldout, '/work/runs/results/coverage/datasets/heldout.hdf5');
    // the coverage runs are four of the ablation's columns: same directories, same flags
    for (const job of coverage.jobs.filter((entry) => entry.dataset !== 'keep1' && !(entry.dataset === 'keep10' && entry.seed > 0))) {
      const twin = ablation.jobs.find((other) => other.name === job.name);
      assert.ok(twin !== undefined, job.name);
      assert.deepEqual(twin.trainArgs, job.trainArgs);
    }
    assert.ok(ablation.jobs.some((job) => job.name === 'rvdt-determ-keep10-seed0'));
    assert.ok(!ablation.jobs.some((job) => job.name === 'rvdt-keep10-seed1'));

    // the budget curves: evaluations every 5000 steps of 40000-step runs stand for budgets 5000..40000
    const budget = loadSweep('sweeps/budget-umaze.yaml', '/work');
    assert.deepEqual(budget.jobs.map((job) => job.name), [0, 1, 2].flatMap((seed) => [`reinformer-maze2d-umaze-v1-seed${seed}`, `dt-maze2d-umaze-v1-seed${seed}`]));
    assert.match(budget.jobs[0]?.trainArgs.join(' ') ?? '', /--steps 40000 --eval-every 5000 --eval-episodes 100 /);
    const rvdt = loadSweep('sweeps/budget-umaze-rvdt.yaml', '/work');
    assert.deepEqual(rvdt.jobs.map((job) => job.name), [0, 1, 2].map((seed) => `rvdt-maze2d-umaze-v1-seed${seed}`));
    assert.match(rvdt.jobs[0]?.trainArgs.join(' ') ?? '', /--steps 20000 --eval-every 4000 --eval-episodes 100 --eval-worker .*--set lrDecay=false .*--set variant="rvdt" /);

    // the maze2d-medium curves share one generated dataset; DT's trunk is the umaze curve's
    const mediumDt = loadSweep('sweeps/budget-medium-dt.yaml', '/work');
    const umazeDt = budget.jobs.find((job) => job.name === 'dt-maze2d-umaze-v1-seed0');
    assert.deepEqual(mediumDt.jobs.map((job) => job.name), [0, 1, 2].map((seed) => `dt-maze2d-medium-v1-seed${seed}`));
    const settings = (args: readonly string[] | undefined): string[] => (args ?? []).filter((_arg, i, all) => all[i - 1] === '--set');
    assert.deepEqual(settings(mediumDt.jobs[0]?.trainArgs), settings(umazeDt?.trainArgs));
    assert.match(mediumDt.jobs[0]?.trainArgs.join(' ') ?? '', /--steps 40000 --eval-every 5000 --eval-episodes 100 --eval-worker /);
    const mediumData = ['budget-medium-dt', 'budget-medium-reinformer', 'budget-medium-q']
      .map((name) => loadSweep(`sweeps/${name}.yaml`, '/work').jobs[0]?.trainArgs)
      .map((args) => args?.[args.indexOf('--dataset') + 1]);
    assert.equal(new Set(mediumData).size, 1);
    assert.match(mediumData[0] ?? '', /runs\/results\/budget-medium\/datasets\/maze2d-medium-v1\.hdf5$/);
  });

  it('grids multiply the jobs; run fields become flags and other fields --set', () => {
    const spec = parseSpec({
      name: 'g',
      datasets: [{ name: 'd', env: 'maze2d-umaze-v1', file: 'd.hdf5' }],
      algorithms: [{ algo: 'dt', grid: { context: [5, 10] } }],
      seeds: [3],
      budget: { steps: 10 },
      evaluation: { every: 0, episodes: 2 },
      grid: { evalEpisodes: [1, 4], lr: [0.1] },
    }, 'g.json');
    const sweep = expandSweep(spec, '/x');
    assert.deepEqual(sweep.jobs.map((job) => job.name), [
      'dt-d-seed3-evalEpisodes=1-lr=0.1-context=5', 'dt-d-seed3-evalEpisodes=1-lr=0.1-context=10',
      'dt-d-seed3-evalEpisodes=4-lr=0.1-context=5', 'dt-d-seed3-evalEpisodes=4-lr=0.1-context=10',
    ]);
    const args = sweep.jobs[3]?.trainArgs.join(' ') ?? '';
    assert.match(args, /--eval-episodes 4 /);
    assert.match(args, /--set lr=0\.1 --set context=10 /);
    assert.ok(!args.includes('--keep-best'));
    assert.ok(!args.includes('--eval-worker'));
    assert.equal(sweep.directory, '/x/runs/sweeps/g');
  });

  it('evaluation.keepBest gives every job --keep-best, evaluation.worker --eval-worker', () => {
    const spec = parseSpec({
      name: 'k',
      datasets: [{ name: 'd', env: 'maze2d-umaze-v1', file: 'd.hdf5' }],
      algorithms: [{ algo: 'qt' }],
      seeds: [0, 1],
      budget: { steps: 10 },
      evaluation: { every: 5, episodes: 2, keepBest: true, worker: true },
    }, 'k.json');
    const sweep = expandSweep(spec, '/x');
    assert.deepEqual(sweep.jobs.map((job) => job.trainArgs.includes('--keep-best')), [true, true]);
    assert.deepEqual(sweep.jobs.map((job) => job.trainArgs.includes('--eval-worker')), [true, true]);
  });
});
