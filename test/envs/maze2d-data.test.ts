import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readD4rlHdf5 } from '../../src/data/hdf5.js';
import { Rng } from '../../src/engine/rng.js';
import { gridCell, planCells, roundHalfEven, WaypointController } from '../../src/envs/maze2d/controller.js';
import { resolveMazeDataset } from '../../src/envs/maze2d/datasets.js';
import { generateMazeDataset, type GeneratedDataset } from '../../src/envs/maze2d/generate.js';
import { mazeLayout } from '../../src/envs/maze2d/layouts.js';
import { renderMazeSvg, sampleDatasetSegments } from '../../src/envs/maze2d/render.js';

describe('grid planner and controller', () => {
  it('rounds like Python and plans the U around the wall', () => {
    assert.deepEqual([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(2.5), roundHalfEven(-0.5), roundHalfEven(2.51)], [0, 2, 2, 0, 3]);
    assert.deepEqual(gridCell(2.6, 0.4), [3, 0]);
    const cells = planCells(mazeLayout('umaze'), [3, 1], [1, 1]);
    assert.deepEqual(cells, [[3, 2], [3, 3], [2, 3], [1, 3], [1, 2], [1, 1]]);
    assert.deepEqual(planCells(mazeLayout('umaze'), [1, 1], [1, 1]), [[1, 1]], 'already there: one no-op waypoint');
  });

  it('jitters intermediate waypoints toward the corridor centre and ends exactly on the target', () => {
    const controller = new WaypointController(mazeLayout('large'), new Rng(1));
    const { action } = controller.act(1, 1, 0, 0, 7, 9);
    assert.ok(Math.abs(action[0] as number) <= 1 && Math.abs(action[1] as number) <= 1);
    const plan = controller.plan;
    assert.deepEqual(plan.at(-1), [7, 9]);
    for (const [x, y] of plan.slice(0, -1)) {
      const dx = Math.round(x) - x;
      const dy = Math.round(y) - y;
      assert.ok(dx >= 0 && dx <= 0.2 && dy >= 0 && dy <= 0.2, `${x}, ${y}`);
    }
  });
});

describe('D4RL generation recipe (maze2d-umaze, 100k steps)', () => {
  const steps = 100_000;
  let data: GeneratedDataset;
  const layout = mazeLayout('umaze');
  before(async () => {
    data = await generateMazeDataset({ datasetId: 'maze2d-umaze-v1', layout, maxEpisodeSteps: 300, rewardType: 'sparse', steps, seed: 11 });
  });

  it('has the D4RL layout', () => {
    assert.equal(data.observations.length, steps * 4);
    assert.equal(data.actions.length, steps * 2);
    assert.equal(data.rewards.length, steps);
    assert.deepEqual(Object.keys(data.infos).sort(), ['goal', 'qpos', 'qvel']);
    assert.ok(data.terminals.every((x) => x === 0), 'Maze2D has no terminal states');
    for (const a of data.actions) assert.ok(a >= -1 && a <= 1);
  });

  it('segment statistics match what the recipe implies', () => {
    const boundaries: number[] = [];
    data.timeouts.forEach((flag, t) => flag === 1 && boundaries.push(t));
    const lengths = boundaries.map((t, k) => t - (k === 0 ? -1 : (boundaries[k - 1] as number)));
    const mean = steps / boundaries.length;
    // Minari's re-creation of this recipe (spec 1.10) has 13,210 segments per 1M steps: 75.7 steps each.
    assert.ok(mean > 60 && mean < 92, `mean segment ${mean}`);
    assert.ok(Math.max(...lengths) <= 301, 'a segment is cut at the 300-step limit');
    // A new target that rounds to the cell just reached is solved on the next row: a 1-step
    // segment. With 7 equally likely cells that happens for 1/7 of the segments.
    const oneStep = lengths.filter((n) => n === 1).length / lengths.length;
    assert.ok(Math.abs(oneStep - 1 / 7) < 0.035, `1-step fraction ${oneStep}`);
    // Goals are drawn uniformly: each cell is the target of about 1/7 of the segments.
    const goalCells = boundaries.map((t) => gridCell(data.infos.goal!.data[t * 2] as number, data.infos.goal!.data[t * 2 + 1] as number).join(','));
    const atG = goalCells.filter((c) => c === '1,1').length / goalCells.length;
    assert.ok(Math.abs(atG - 1 / 7) < 0.035, `G-cell target fraction ${atG}`);
  });

  it('repeats the observation on the row after each boundary (D4RL loop quirk) while infos/qpos moves on', () => {
    let checked = 0;
    for (let t = 0; t + 1 < steps && checked < 200; t++) {
      if (data.timeouts[t] !== 1) continue;
      assert.deepEqual([...data.observations.subarray((t + 1) * 4, (t + 2) * 4)], [...data.observations.subarray(t * 4, (t + 1) * 4)]);
      checked++;
    }
    assert.ok(checked > 100);
    const qpos = data.infos.qpos!.data;
    let differs = 0;
    for (let t = 0; t + 1 < steps; t++) if (data.timeouts[t] === 1 && qpos[(t + 1) * 2] !== data.observations[(t + 1) * 4]) differs++;
    assert.ok(differs > 100, 'the simulator state after a boundary is not the repeated observation');
  });

  it('rewards are relabelled against the fixed goal from observations[t] (one step ahead of the env)', () => {
    let ones = 0;
    for (let t = 0; t < steps; t++) {
      const d = Math.hypot((data.observations[t * 4] as number) - 1, (data.observations[t * 4 + 1] as number) - 1);
      assert.equal(data.rewards[t], d <= 0.5 ? 1 : 0);
      ones += data.rewards[t] as number;
    }
    // The ball passes the G corner only when it is the target (1/7 of segments) and leaves as soon
    // as it arrives, so it spends well under 1/7 of the time within 0.5 of it.
    const fraction = ones / steps;
    assert.ok(fraction > 0.03 && fraction < 0.13, `reward-1 fraction ${fraction}`);
  });

  it('is deterministic under a seed; action noise changes the actions', async () => {
    const make = (seed: number, noisy: boolean): Promise<GeneratedDataset> =>
      generateMazeDataset({ datasetId: 'maze2d-umaze-v1', layout, maxEpisodeSteps: 300, rewardType: 'dense', steps: 3000, seed, noisy });
    const a = await make(2, false);
    assert.deepEqual(a.observations, (await make(2, false)).observations);
    assert.notDeepEqual(a.observations, (await make(3, false)).observations);
    const noisy = await make(2, true);
    const jitter = (d: GeneratedDataset): number => d.actions.reduce((sum, x, i) => (i >= 2 ? sum + Math.abs(x - (d.actions[i - 2] as number)) : sum), 0);
    assert.ok(jitter(noisy) > 3 * jitter(a), `${jitter(noisy)} vs ${jitter(a)}`);
    for (let t = 0; t < 3000; t++) assert.ok(Math.abs((a.rewards[t] as number) - Math.exp(-Math.hypot((a.observations[t * 4] as number) - 1, (a.observations[t * 4 + 1] as number) - 1))) < 1e-6);
  });

  it('draws segments over the maze', () => {
    const paths = sampleDatasetSegments(data, 5, new Rng(0));
    assert.equal(paths.length, 5);
    const svg = renderMazeSvg(layout, { paths, title: 'umaze <test>' });
    assert.equal(svg.match(/<polyline/g)?.length, 5);
    assert.equal(svg.match(/fill="#3b3b3b"/g)?.length, 18, 'one square per wall cell');
    assert.ok(svg.includes('umaze &lt;test&gt;'));
  });
});

describe('dataset names', () => {
  it('resolves D4RL names to recipes', () => {
    assert.deepEqual(resolveMazeDataset('maze2d-umaze'), { datasetId: 'maze2d-umaze-v1', envId: 'maze2d-umaze-v1', rewardType: 'sparse', defaultSteps: 1_000_000 });
    assert.equal(resolveMazeDataset('maze2d-large-dense-v1')?.envId, 'maze2d-large-dense-v1');
    assert.equal(resolveMazeDataset('maze2d-medium-sparse-v1')?.defaultSteps, 2_000_000);
    assert.equal(resolveMazeDataset('maze2d-large')?.defaultSteps, 4_000_000);
    assert.equal(resolveMazeDataset('maze2d-open')?.envId, 'maze2d-open-v0');
    assert.equal(resolveMazeDataset('maze2d-open-v1'), undefined);
    assert.equal(resolveMazeDataset('hopper-medium-v2'), undefined);
  });
});

describe('CLI', () => {
  const cli = join(process.cwd(), 'dist/src/cli/main.js');
  it('env run --json prints the summary keys', () => {
    const run = spawnSync(process.execPath, [cli, 'env', 'run', 'maze2d-umaze-v1', '--policy', 'zero', '--episodes', '2', '--json'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    // camelCase, as every JSON the CLI prints (docs/cli.md)
    for (const key of ['meanReturn', 'stdReturn', 'normalizedScore', 'normalizedStd', 'episodes']) assert.ok(key in summary, key);
    assert.equal(summary.episodes, 2);
  });

  it('env run rejects a bad policy and data make writes a readable D4RL file', async () => {
    const bad = spawnSync(process.execPath, [cli, 'env', 'run', 'maze2d-umaze-v1', '--policy', 'greedy'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--policy must be one of random, zero, expert, planner/);
    const dir = mkdtempSync(join(tmpdir(), 'stitch-maze-'));
    try {
      const out = join(dir, 'umaze.hdf5');
      const make = spawnSync(process.execPath, [cli, 'data', 'make', 'maze2d-umaze-dense', '--out', out, '--steps', '3000', '--seed', '5', '--svg', join(dir, 'u.svg')], { encoding: 'utf8' });
      assert.equal(make.status, 0, make.stderr);
      const arrays = await readD4rlHdf5(out);
      assert.equal(arrays.rewards.length, 3000);
      assert.equal(arrays.obsDim, 4);
      assert.equal(arrays.infos?.goal?.dim, 2);
      assert.equal(arrays.attributes?.reward_type, 'dense');
      assert.ok(readFileSync(join(dir, 'u.svg'), 'utf8').startsWith('<svg'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
