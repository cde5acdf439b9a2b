import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/engine/rng.js';
import { LocomotionEnv, locomotionObservation } from '../../src/envs/locomotion/env.js';
import { hopperIsHealthy, locomotionTask, walker2dIsHealthy, type LocomotionTaskName } from '../../src/envs/locomotion/tasks.js';
import { loadMujoco, MujocoSim } from '../../src/envs/mujoco.js';
import { envSpec, makeEnv, makeVectorEnv } from '../../src/envs/registry.js';
import { normalizedScore } from '../../src/envs/scores.js';

async function makeTask(name: LocomotionTaskName, seed = 0): Promise<LocomotionEnv> {
  return LocomotionEnv.create({ task: locomotionTask(name), seed });
}

describe('locomotion registry and D4RL ids', () => {
  it('registers hopper-v4, halfcheetah-v4 and walker2d-v4 with Gymnasium v4 spaces and 1000-step episodes', async () => {
    const expected = { 'hopper-v4': [11, 3], 'halfcheetah-v4': [17, 6], 'walker2d-v4': [17, 6] } as const;
    for (const [id, [obsDim, actionDim]] of Object.entries(expected)) {
      const spec = envSpec(id);
      assert.deepEqual([spec.obsDim, spec.actionDim, spec.maxEpisodeSteps], [obsDim, actionDim, 1000], id);
      const env = await makeEnv(id);
      assert.deepEqual([env.observationSpace.shape[0], env.actionSpace.shape[0]], [obsDim, actionDim]);
      assert.deepEqual(Array.from(env.actionSpace.low), new Array<number>(actionDim).fill(-1));
      env.close();
    }
  });

  it('maps every D4RL v2 dataset id to its v4 task and the family reference scores', async () => {
    for (const [family, min, max] of [
      ['hopper', -20.272305, 3234.3],
      ['halfcheetah', -280.178953, 12135.0],
      ['walker2d', 1.629008, 4592.3],
    ] as const) {
      for (const kind of ['random', 'medium', 'medium-replay', 'medium-expert', 'expert', 'full-replay']) {
        const spec = envSpec(`${family}-${kind}-v2`);
        assert.equal(spec.aliasOf, `${family}-v4`);
        assert.deepEqual(spec.referenceScores, { min, max });
        assert.equal(spec.locomotion, envSpec(`${family}-v4`).locomotion);
      }
    }
    assert.ok(Math.abs(normalizedScore('hopper-medium-replay-v2', 3234.3) - 100) < 1e-9);
    const env = await makeEnv('hopper-medium-replay-v2');
    assert.equal(env.id, 'hopper-medium-replay-v2');
    assert.equal(env.observationSpace.shape[0], 11);
    env.close();
  });
});

describe('locomotion observations', () => {
  it('starts from qpos0: torso height 1.25 for Hopper and Walker2d (rootz ref), zeros for HalfCheetah', async () => {
    for (const [name, qpos0] of [
      ['hopper', [0, 1.25, 0, 0, 0, 0]],
      ['walker2d', [0, 1.25, 0, 0, 0, 0, 0, 0, 0]],
      ['halfcheetah', new Array<number>(9).fill(0)],
    ] as const) {
      const env = await makeTask(name);
      assert.deepEqual(Array.from(env.initialPosition), qpos0, name);
      env.close();
    }
  });

  it('is qpos[1:] then qvel, clipped to ±10 for Hopper and Walker2d and unclipped for HalfCheetah', async () => {
    const qpos = [5, 1.2, 0.1, -0.2, -0.3, 0.4];
    const qvel = [1, -15, 12, 3, -4, 10.5];
    const env = await makeTask('hopper');
    env.reset(0);
    env.setState(qpos, qvel);
    assert.deepEqual(Array.from(env.observe()), [1.2, 0.1, -0.2, -0.3, 0.4, 1, -10, 10, 3, -4, 10]);
    env.close();
    const cheetah = locomotionTask('halfcheetah');
    const cheetahQpos = [7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    const cheetahQvel = [11, -12, 13, 0, 0, 0, 0, 0, 30];
    assert.deepEqual(Array.from(locomotionObservation(cheetah, cheetahQpos, cheetahQvel)), [...cheetahQpos.slice(1), ...cheetahQvel]);
    const walker = locomotionTask('walker2d');
    const walkerObs = locomotionObservation(walker, [0, 1.2, 0, 0, 0, 0, 0, 0, 0.5], [0, 0, 0, 0, 0, 0, 0, 0, -99]);
    assert.equal(walkerObs.length, 17);
    assert.equal(walkerObs[7], 0.5);
    assert.equal(walkerObs[16], -10);
  });
});

describe('locomotion rewards, term by term', () => {
  const cases = [
    { name: 'hopper', action: [0.5, -1, 0.2], frameSkip: 4, dt: 0.008, controlWeight: 1e-3, survive: 1 },
    { name: 'walker2d', action: [0.5, -1, 0.2, 0.3, 0, -0.7], frameSkip: 4, dt: 0.008, controlWeight: 1e-3, survive: 1 },
    { name: 'halfcheetah', action: [0.5, -1, 0.2, 0.3, 0, -0.7], frameSkip: 5, dt: 0.05, controlWeight: 0.1, survive: 0 },
  ] as const;

  for (const { name, action, frameSkip, dt, controlWeight, survive } of cases) {
    it(`${name}: forward (x_after - x_before)/${dt} + healthy ${survive} - ${controlWeight} * sum(a^2), after ${frameSkip} physics steps`, async () => {
      const task = locomotionTask(name);
      const env = await makeTask(name);
      env.reset(0);
      const qpos = Array.from(env.initialPosition);
      qpos[0] = 0.3;
      const qvel = new Array<number>(task.nv).fill(0);
      qvel[0] = 1.5;
      qvel[3] = -0.4;
      env.setState(qpos, qvel);
      const result = env.step(action);

      // the same state and control stepped by hand on a bare simulator
      const sim = MujocoSim.fromXml(await loadMujoco(), task.xml());
      sim.qpos.set(qpos);
      sim.qvel.set(qvel);
      sim.ctrl.set(action);
      for (let k = 0; k < frameSkip; k++) sim.step();
      const xAfter = sim.qpos[0] as number;
      assert.deepEqual(Array.from(result.observation), Array.from(locomotionObservation(task, sim.qpos, sim.qvel)), 'observation after frameSkip physics steps');
      sim.dispose();

      const forward = (xAfter - 0.3) / dt;
      const control = controlWeight * action.reduce<number>((sum, a) => sum + a * a, 0);
      assert.equal(result.info.x_position, xAfter);
      assert.equal(result.info.reward_forward, forward);
      assert.equal(result.info.x_velocity, forward);
      assert.equal(result.info.reward_ctrl, -control);
      assert.equal(result.info.reward_survive, survive);
      assert.ok(Math.abs(result.reward - (forward + survive - control)) < 1e-12, `reward ${result.reward}`);
      assert.ok(forward > 0.5, `moving forward at 1.5 m/s gives a positive forward term (${forward})`);
      assert.equal(result.terminated, false);
      env.close();
    });
  }

  it('charges the control cost on the clipped action (D4RL clips to [-1, 1] before the env)', async () => {
    const env = await makeTask('hopper');
    env.reset(0);
    const { info } = env.step([3, -2, 0]);
    assert.ok(Math.abs((info.reward_ctrl as number) + 2e-3) < 1e-15, `${info.reward_ctrl}`);
    env.close();
  });
});

describe('locomotion health, termination and limits', () => {
  const hopperQpos = (z: number, angle: number, joint = 0): Float64Array => Float64Array.from([0, z, angle, joint, 0, 0]);
  const still = new Float64Array(6);

  it('Hopper is healthy only for z > 0.7, |angle| < 0.2 and |state[2:]| < 100, all strict', () => {
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0), still), true);
    assert.equal(hopperIsHealthy(hopperQpos(0.7, 0), still), false);
    assert.equal(hopperIsHealthy(hopperQpos(0.7001, 0), still), true);
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0.2), still), false);
    assert.equal(hopperIsHealthy(hopperQpos(1.25, -0.1999), still), true);
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0, 100), still), false);
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0, -99.9), still), true);
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0), Float64Array.from([0, 0, 0, 0, 0, -100])), false);
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0), Float64Array.from([150, -150, 0, 0, 0, 0])), false, 'qvel[0:2] belong to state[2:] too');
    assert.equal(hopperIsHealthy(hopperQpos(1.25, 0), Float64Array.from([0, 0, 0, Number.NaN, 0, 0])), false);
    assert.equal(hopperIsHealthy(Float64Array.from([Number.POSITIVE_INFINITY, 1.25, 0, 0, 0, 0]), still), false);
    assert.equal(hopperIsHealthy(Float64Array.from([1e6, 1.25, 0, 0, 0, 0]), still), true, 'x itself is not bounded');
  });

  it('Walker2d is healthy only for 0.8 < z < 2.0 and -1 < angle < 1', () => {
    const walker = (z: number, angle: number): Float64Array => Float64Array.from([0, z, angle, 0, 0, 0, 0, 0, 0]);
    assert.equal(walker2dIsHealthy(walker(1.25, 0)), true);
    assert.equal(walker2dIsHealthy(walker(0.8, 0)), false);
    assert.equal(walker2dIsHealthy(walker(0.81, 0)), true);
    assert.equal(walker2dIsHealthy(walker(2.0, 0)), false);
    assert.equal(walker2dIsHealthy(walker(1.99, 0)), true);
    assert.equal(walker2dIsHealthy(walker(1.25, -1)), false);
    assert.equal(walker2dIsHealthy(walker(1.25, 0.999)), true);
    assert.equal(locomotionTask('halfcheetah').isHealthy(Float64Array.from([0, -5, 3, 0, 0, 0, 0, 0, 0]), new Float64Array(9)), true);
  });

  it('an unhealthy state terminates the episode, still paying the healthy bonus on that step', async () => {
    for (const [name, qpos] of [
      ['hopper', [0, 0.5, 0, 0, 0, 0]],
      ['hopper', [0, 1.25, 0.5, 0, 0, 0]],
      ['walker2d', [0, 2.5, 0, 0, 0, 0, 0, 0, 0]],
      ['walker2d', [0, 1.25, -1.5, 0, 0, 0, 0, 0, 0]],
    ] as const) {
      const env = await makeTask(name);
      env.reset(0);
      env.setState(qpos, new Array<number>(qpos.length).fill(0));
      const result = env.step(new Array<number>(env.task.actionDim).fill(0));
      assert.deepEqual([result.terminated, result.truncated, result.info.reward_survive], [true, false, 1], `${name} ${qpos.join(',')}`);
      assert.throws(() => env.step(new Array<number>(env.task.actionDim).fill(0)), /episode has ended/);
      env.close();
    }
  });

  it('HalfCheetah never terminates and is truncated at exactly 1000 steps', async () => {
    const env = await makeTask('halfcheetah');
    env.reset(0);
    const zero = new Array<number>(6).fill(0);
    for (let t = 1; t < 1000; t++) {
      const result = env.step(zero);
      assert.ok(!result.terminated && !result.truncated, `ended early at step ${t}`);
    }
    const last = env.step(zero);
    assert.deepEqual([last.terminated, last.truncated], [false, true]);
    env.close();
  });

  it('rejects actions of the wrong length or with non-finite values, and steps before reset', async () => {
    const env = await makeTask('walker2d');
    assert.throws(() => env.step([0, 0, 0, 0, 0, 0]), /before reset/);
    env.reset(0);
    assert.throws(() => env.step([0, 0, 0]), RangeError);
    assert.throws(() => env.step([0, 0, Number.NaN, 0, 0, 0]), RangeError);
    assert.throws(() => env.setState([0, 1], [0]), RangeError);
    env.close();
  });
});

describe('locomotion reset noise and determinism', () => {
  it('Hopper and Walker2d: qpos0 + U(-0.005, 0.005) and qvel U(-0.005, 0.005)', async () => {
    for (const name of ['hopper', 'walker2d'] as const) {
      const env = await makeTask(name);
      const qpos0 = env.initialPosition;
      let largest = 0;
      for (let seed = 0; seed < 100; seed++) {
        env.reset(seed);
        const { qpos, qvel } = env.state();
        for (let i = 0; i < qpos.length; i++) largest = Math.max(largest, Math.abs((qpos[i] as number) - (qpos0[i] as number)));
        for (const v of qvel) largest = Math.max(largest, Math.abs(v));
      }
      assert.ok(largest <= 0.005 && largest > 0.0049, `${name}: largest deviation ${largest}`);
      env.close();
    }
  });

  it('HalfCheetah: qpos U(-0.1, 0.1) and qvel 0.1 * N(0, 1)', async () => {
    const env = await makeTask('halfcheetah');
    let largestPosition = 0;
    const velocities: number[] = [];
    for (let seed = 0; seed < 200; seed++) {
      env.reset(seed);
      const { qpos, qvel } = env.state();
      for (const q of qpos) largestPosition = Math.max(largestPosition, Math.abs(q));
      velocities.push(...qvel);
    }
    assert.ok(largestPosition <= 0.1 && largestPosition > 0.099, `largest position noise ${largestPosition}`);
    const mean = velocities.reduce((a, b) => a + b, 0) / velocities.length;
    const std = Math.sqrt(velocities.reduce((a, v) => a + (v - mean) ** 2, 0) / velocities.length);
    assert.ok(Math.abs(mean) < 0.01 && Math.abs(std - 0.1) < 0.006, `velocity noise mean ${mean}, std ${std}`);
    assert.ok(Math.max(...velocities.map(Math.abs)) > 0.25, 'normal noise has tails beyond a uniform ±0.1');
    env.close();
  });

  it('a seed fixes the episode; the vectorized form matches single environments seeded seed + i', async () => {
    const actions = new Rng(5);
    const steps = 30;
    const actionRows = Array.from({ length: steps }, () => Float32Array.from({ length: 3 * 6 }, () => actions.uniform() * 2 - 1));
    const vec = await makeVectorEnv('walker2d-v4', 3);
    const first = vec.reset(40);
    const vectorRewards: number[][] = [[], [], []];
    for (const row of actionRows) {
      const result = vec.step(row);
      for (let i = 0; i < 3; i++) if (result.active[i] === 1) vectorRewards[i]!.push(result.rewards[i] as number);
    }
    vec.close();
    for (let i = 0; i < 3; i++) {
      const env = await makeEnv('walker2d-v4');
      const { observation } = env.reset(40 + i);
      assert.deepEqual(Array.from(observation), Array.from(first.subarray(i * 17, (i + 1) * 17)));
      const rewards: number[] = [];
      for (const row of actionRows) {
        const result = env.step(row.subarray(i * 6, (i + 1) * 6));
        rewards.push(result.reward);
        if (result.terminated || result.truncated) break;
      }
      assert.deepEqual(rewards, vectorRewards[i], `env ${i}`);
      env.close();
    }
    const a = await makeEnv('hopper-v4');
    const b = await makeEnv('hopper-v4');
    assert.deepEqual(a.reset(3).observation, b.reset(3).observation);
    assert.notDeepEqual(a.reset(4).observation, b.reset(3).observation);
    a.close();
    b.close();
  });
});
