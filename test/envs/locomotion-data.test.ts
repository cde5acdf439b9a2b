import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateLocomotionDataset, resolveLocomotionDataset } from '../../src/envs/locomotion/generate.js';
import { locomotionTask } from '../../src/envs/locomotion/tasks.js';

describe('locomotion dataset generation', () => {
  it('resolves hopper-random[-v4], halfcheetah-random, walker2d-random and nothing else', () => {
    assert.equal(resolveLocomotionDataset('hopper-random')?.datasetId, 'hopper-random-v4');
    assert.equal(resolveLocomotionDataset('walker2d-random-v4')?.task.envId, 'walker2d-v4');
    assert.equal(resolveLocomotionDataset('halfcheetah-random-v4')?.task.name, 'halfcheetah');
    assert.equal(resolveLocomotionDataset('hopper-random-v2'), undefined, "D4RL's random-v2 came from a SAC policy; not what this makes");
    assert.equal(resolveLocomotionDataset('hopper-medium-v4'), undefined);
    assert.equal(resolveLocomotionDataset('maze2d-umaze-v1'), undefined);
  });

  it('Hopper: episodes end in a terminal on an unhealthy state, rows chain and rewards are the env terms', async () => {
    const task = locomotionTask('hopper');
    const steps = 3000;
    const data = await generateLocomotionDataset({ datasetId: 'hopper-random-v4', task, steps, seed: 11 });
    assert.equal(data.observations.length, steps * 11);
    assert.equal(data.nextObservations.length, steps * 11);
    assert.equal(data.infos.qpos?.dim, 6);
    const row = (array: Float32Array, dim: number, t: number): Float32Array => array.subarray(t * dim, (t + 1) * dim);
    let terminals = 0;
    for (let t = 0; t < steps; t++) {
      const terminal = data.terminals[t] === 1;
      const timeout = data.timeouts[t] === 1;
      assert.ok(!(terminal && timeout), `row ${t} has both flags`);
      const next = row(data.nextObservations, 11, t);
      const [z, angle] = [next[0] as number, next[1] as number];
      const velocityAtClip = next.subarray(5).some((v) => Math.abs(v) === 10);
      if (terminal) {
        terminals++;
        assert.ok(!(z > 0.7 && Math.abs(angle) < 0.2) || velocityAtClip, `row ${t} terminal while z ${z}, angle ${angle}`);
      } else {
        assert.ok(z > 0.7 && Math.abs(angle) < 0.2, `row ${t} not terminal while z ${z}, angle ${angle}`);
      }
      if (t + 1 === steps) break;
      if (terminal || timeout) {
        // the next row starts a fresh episode from qpos0 + U(-0.005, 0.005)
        const qpos = row(data.infos.qpos!.data, 6, t + 1);
        assert.ok(Math.abs((qpos[1] as number) - 1.25) <= 0.005 + 1e-6 && Math.abs(qpos[0] as number) <= 0.005 + 1e-6, `row ${t + 1} does not start at qpos0`);
      } else {
        assert.deepEqual(row(data.observations, 11, t + 1), next, `row ${t + 1} does not continue row ${t}`);
        const xBefore = data.infos.qpos!.data[t * 6] as number;
        const xAfter = data.infos.qpos!.data[(t + 1) * 6] as number;
        const action = row(data.actions, 3, t);
        const expected = (xAfter - xBefore) / 0.008 + 1 - 1e-3 * action.reduce((sum, a) => sum + a * a, 0);
        assert.ok(Math.abs((data.rewards[t] as number) - expected) < 2e-3, `row ${t}: reward ${data.rewards[t]} vs ${expected}`);
        for (const a of action) assert.ok(a >= -1 && a <= 1);
      }
    }
    assert.ok(terminals > 50, `random Hopper falls within ~25 steps; got ${terminals} terminals in ${steps} rows`);
    assert.equal(data.terminals[steps - 1]! + data.timeouts[steps - 1]!, 1, 'the last row closes its episode');
    assert.equal(data.attributes.env_id, 'hopper-v4');

    const again = await generateLocomotionDataset({ datasetId: 'hopper-random-v4', task, steps: 200, seed: 11 });
    assert.deepEqual(again.observations, data.observations.subarray(0, 200 * 11));
    assert.deepEqual(again.actions, data.actions.subarray(0, 200 * 3));
  });

  it('HalfCheetah: no terminals, a timeout every 1000 rows and one where the budget cuts the episode', async () => {
    const data = await generateLocomotionDataset({ datasetId: 'halfcheetah-random-v4', task: locomotionTask('halfcheetah'), steps: 2500, seed: 0 });
    assert.equal(data.terminals.reduce((a, b) => a + b, 0), 0);
    const timeouts = [...data.timeouts.keys()].filter((t) => data.timeouts[t] === 1);
    assert.deepEqual(timeouts, [999, 1999, 2499]);
    assert.equal(data.attributes.episodes, 3);
  });
});
