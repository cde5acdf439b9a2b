import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Maze2dEnv } from '../../src/envs/maze2d/env.js';
import { MAZE_STRINGS, mazeLayout, parseMaze } from '../../src/envs/maze2d/layouts.js';
import { pointMazeXml } from '../../src/envs/maze2d/model.js';
import { loadMujoco, MujocoSim } from '../../src/envs/mujoco.js';
import { envSpec, makeEnv } from '../../src/envs/registry.js';
import { Rng } from '../../src/engine/rng.js';

async function umaze(rewardType: 'sparse' | 'dense' = 'sparse'): Promise<Maze2dEnv> {
  return Maze2dEnv.create({ id: 'test-umaze', layout: mazeLayout('umaze'), rewardType, maxEpisodeSteps: 300 });
}

describe('maze layouts', () => {
  it('has D4RL goals and free-cell counts', () => {
    const expected = { open: [[2, 3], 15], umaze: [[1, 1], 7], medium: [[6, 6], 26], large: [[7, 9], 46] } as const;
    for (const [name, [goal, free]] of Object.entries(expected)) {
      const layout = mazeLayout(name as keyof typeof expected);
      assert.deepEqual(layout.goal, goal, name);
      assert.equal(layout.emptyAndGoalCells.length, free, name);
      assert.deepEqual(layout.emptyAndGoalCells.at(-1), goal, `${name}: the G cell comes last, after the sorted empty cells`);
    }
    assert.deepEqual(mazeLayout('large-eval').goal, [1, 9]);
    assert.equal(MAZE_STRINGS.large.length, 9);
    assert.equal(MAZE_STRINGS.large[0]?.length, 12);
  });

  it('rejects malformed mazes', () => {
    assert.throws(() => parseMaze('two-goals', ['####', '#GG#', '####']), /2 goal cells/);
    assert.throws(() => parseMaze('ragged', ['###', '#O#', '##']), /row 2/);
    assert.throws(() => parseMaze('odd', ['###', '#X#', '###']), /unknown symbol 'X'/);
  });

  it('without a G cell the first empty cell is the goal', () => {
    assert.deepEqual(parseMaze('no-goal', ['####', '#OO#', '####']).goal, [1, 1]);
  });

  it('builds one wall box per # and compiles in MuJoCo', async () => {
    const layout = mazeLayout('medium');
    const xml = pointMazeXml(layout);
    const walls = MAZE_STRINGS.medium.join('').split('').filter((c) => c === '#').length;
    assert.equal(xml.match(/type="box"/g)?.length, walls);
    const sim = MujocoSim.fromXml(await loadMujoco(), xml);
    assert.deepEqual([sim.nq, sim.nv, sim.nu], [2, 2, 2]);
    sim.dispose();
  });

  it('reports MuJoCo compile errors with their message', async () => {
    const bad = pointMazeXml(mazeLayout('umaze')).replace('<joint name="ball_x"', '<joint bogus="1" name="ball_x"');
    const mj = await loadMujoco();
    assert.throws(() => MujocoSim.fromXml(mj, bad), /bogus/);
  });
});

describe('Maze2D dynamics and coordinates', () => {
  it('one full-force step from rest gives the velocity the spec measured (implicit damping in Euler)', async () => {
    const env = await umaze();
    env.reset(0);
    env.setState([3, 2], [0, 0]);
    const { observation } = env.step([1, 0]);
    assert.ok(Math.abs((observation[2] as number) - 0.238164) < 1e-6, `vx ${observation[2]}`);
    assert.equal(observation[3], 0);
    env.close();
  });

  it('stops against the walls of cell (1, 1) at qpos 0.40 and 1.20 (walls span [i-0.7, i+0.3])', async () => {
    const env = await umaze();
    for (const [push, stop] of [
      [-1, 0.4],
      [1, 1.2],
    ] as const) {
      env.reset(0);
      env.setState([1, 1], [0, 0]);
      let observation: Float64Array = new Float64Array(4);
      for (let t = 0; t < 150; t++) observation = env.step([push, 0]).observation;
      assert.ok(Math.abs((observation[0] as number) - stop) < 0.01, `pushing ${push}: x = ${observation[0]}`);
      assert.ok(Math.abs(observation[1] as number - 1) < 1e-9, 'no motion across the push');
    }
    env.close();
  });

  it('clips the velocity to 5 before each step', async () => {
    const env = await makeEnv('maze2d-open-v0');
    const maze = env as Maze2dEnv;
    maze.reset(0);
    maze.setState([1, 1], [0, 0]);
    const speeds: number[] = [];
    for (let t = 0; t < 35; t++) speeds.push(maze.step([0, 1]).observation[3] as number);
    // the spec: the cap is reached after 22 full-force steps; afterwards each step starts from 5
    assert.ok((speeds[20] as number) < 5 && (speeds[22] as number) >= 5, speeds.join(' '));
    for (const v of speeds) assert.ok(v <= 5.25, `vy ${v}`);
    assert.equal(speeds[33], speeds[34]);
    env.close();
  });

  it('resets into a free cell with noise ±0.1 and small velocity', async () => {
    const env = await makeEnv('maze2d-umaze-v1');
    const layout = mazeLayout('umaze');
    for (let seed = 0; seed < 40; seed++) {
      const { observation } = env.reset(seed);
      const [x, y, vx, vy] = observation as unknown as [number, number, number, number];
      const cell = layout.emptyAndGoalCells.find(([i, j]) => Math.abs(x - i) <= 0.1 && Math.abs(y - j) <= 0.1);
      assert.ok(cell !== undefined, `start ${x}, ${y} is not within 0.1 of a free cell`);
      assert.ok(Math.abs(vx) < 0.6 && Math.abs(vy) < 0.6);
    }
    env.close();
  });
});

describe('Maze2D rewards, limits and errors', () => {
  it('sparse reward is scored on the observation after the step', async () => {
    const env = await umaze('sparse');
    env.reset(0);
    // 0.49 from the goal, moving away at 5 m/s: the current position would earn 1, the next one does not
    env.setState([1, 1.49], [0, 5]);
    const away = env.step([0, 0]);
    assert.ok((away.observation[1] as number) > 1.5);
    assert.equal(away.reward, 0);
    env.setState([1, 1.53], [0, -5]);
    const toward = env.step([0, 0]);
    assert.ok((toward.observation[1] as number) < 1.5);
    assert.equal(toward.reward, 1);
    env.close();
  });

  it('dense reward is exp(-distance) of the next observation', async () => {
    const env = await umaze('dense');
    env.reset(3);
    const { observation, reward } = env.step([0.3, -0.2]);
    const distance = Math.hypot((observation[0] as number) - 1, (observation[1] as number) - 1);
    assert.ok(Math.abs(reward - Math.exp(-distance)) < 1e-12);
    env.close();
  });

  it('truncates at the registered limit, never terminates, and refuses to step past the end', async () => {
    for (const [id, limit] of [
      ['maze2d-open-v0', 150],
      ['maze2d-umaze-v1', 300],
      ['maze2d-medium-dense-v1', 600],
      ['maze2d-large-v1', 800],
    ] as const) {
      assert.equal(envSpec(id).maxEpisodeSteps, limit);
      const env = await makeEnv(id);
      env.reset(1);
      for (let t = 1; t <= limit; t++) {
        const result = env.step([0.1, -0.1]);
        assert.equal(result.terminated, false);
        assert.equal(result.truncated, t === limit, `${id} step ${t}`);
      }
      assert.throws(() => env.step([0, 0]), /episode has ended/);
      env.close();
    }
  });

  it('is deterministic under a seed and differs across seeds', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const env = await makeEnv('maze2d-medium-v1');
      const rng = new Rng(99);
      const trace = [...env.reset(seed).observation];
      for (let t = 0; t < 200; t++) trace.push(...env.step([rng.uniform() * 2 - 1, rng.uniform() * 2 - 1]).observation);
      env.close();
      return trace;
    };
    assert.deepEqual(await run(5), await run(5));
    assert.notDeepEqual(await run(5), await run(6));
  });

  it('rejects bad actions clearly', async () => {
    const env = await umaze();
    assert.throws(() => env.step([0, 0]), /before reset/);
    env.reset(0);
    assert.throws(() => env.step([Number.NaN, 0]), /component 0 is NaN/);
    assert.throws(() => env.step([0, Infinity]), /component 1 is Infinity/);
    assert.throws(() => env.step([0]), /must have 2 components, got 1/);
    assert.throws(() => env.step([0, 0, 0]), /must have 2 components, got 3/);
    // out-of-range values are clipped like D4RL, not rejected
    const clipped = env.step([50, 0]).observation[2] as number;
    env.reset(0);
    const full = env.step([1, 0]).observation[2] as number;
    assert.equal(clipped, full);
    env.close();
  });

  it('rejects unknown ids', async () => {
    await assert.rejects(() => makeEnv('maze2d-open-v1'), /unknown environment 'maze2d-open-v1'/);
  });
});
