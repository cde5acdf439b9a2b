import { Rng } from '../engine/rng.js';
import { WaypointController } from './maze2d/controller.js';
import type { EnvSpec } from './registry.js';

/**
 * A policy acting on a whole batch of environments. Evaluation calls beginEpisode when an
 * environment starts an episode, with the episode's index in the run and a seed that depends only
 * on that index, so results do not depend on how many environments run side by side.
 */
export interface VectorPolicy {
  beginEpisode(envIndex: number, episodeIndex: number, episodeSeed: number): void;
  /** writes actions [n, actionDim] for the rows where active[i] is 1 */
  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void;
  /** the rewards of the step just taken, for the rows where active[i] is 1 (return-conditioned policies count down their target) */
  observeRewards?(rewards: Float64Array, active: Uint8Array): void;
}

export const BUILTIN_POLICIES = ['random', 'zero', 'expert', 'planner'] as const;
export type BuiltinPolicyName = (typeof BUILTIN_POLICIES)[number];

/** uniform over the action box */
class RandomPolicy implements VectorPolicy {
  private readonly rngs: Rng[] = [];
  constructor(private readonly spec: EnvSpec) {}

  beginEpisode(envIndex: number, _episodeIndex: number, episodeSeed: number): void {
    this.rngs[envIndex] = new Rng(episodeSeed);
  }

  act(_observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const { actionDim, actionLow, actionHigh } = this.spec;
    for (let i = 0; i < active.length; i++) {
      if (active[i] !== 1) continue;
      const rng = this.rngs[i] as Rng;
      for (let k = 0; k < actionDim; k++) {
        const low = actionLow[k] as number;
        actions[i * actionDim + k] = low + rng.uniform() * ((actionHigh[k] as number) - low);
      }
    }
  }
}

class ZeroPolicy implements VectorPolicy {
  beginEpisode(): void {}

  act(_observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    actions.fill(0);
    void active;
  }
}

/**
 * D4RL's waypoint controller steering to the task's fixed goal (Maze2D only), in one of two modes:
 * - 'reference' reproduces how D4RL measured REF_MAX_SCORE: its script plans a route in the first
 *   episode only and then keeps aiming straight at the goal (see WaypointController.assumeRouteDone).
 *   This is the `expert` policy; it scores near 100 by construction of the normalization.
 * - 'replan' plans a fresh route every episode (the `planner` policy): a stronger navigator, well
 *   above 100, which is why learned policies can exceed 100 on Maze2D.
 */
class MazeExpertPolicy implements VectorPolicy {
  private readonly controllers: WaypointController[] = [];
  constructor(
    private readonly spec: EnvSpec & Required<Pick<EnvSpec, 'maze'>>,
    private readonly mode: 'reference' | 'replan',
  ) {}

  beginEpisode(envIndex: number, episodeIndex: number, episodeSeed: number): void {
    const controller = new WaypointController(this.spec.maze.layout, new Rng(episodeSeed));
    const [goalX, goalY] = this.spec.maze.layout.goal;
    if (this.mode === 'reference' && episodeIndex > 0) controller.assumeRouteDone(goalX, goalY);
    this.controllers[envIndex] = controller;
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    const [goalX, goalY] = this.spec.maze.layout.goal;
    for (let i = 0; i < active.length; i++) {
      if (active[i] !== 1) continue;
      const o = i * this.spec.obsDim;
      const { action } = (this.controllers[i] as WaypointController).act(
        observations[o] as number,
        observations[o + 1] as number,
        observations[o + 2] as number,
        observations[o + 3] as number,
        goalX,
        goalY,
      );
      actions[i * 2] = action[0] as number;
      actions[i * 2 + 1] = action[1] as number;
    }
  }
}

export function isBuiltinPolicy(name: string): name is BuiltinPolicyName {
  return (BUILTIN_POLICIES as readonly string[]).includes(name);
}

export function makeBuiltinPolicy(name: BuiltinPolicyName, spec: EnvSpec): VectorPolicy {
  switch (name) {
    case 'random':
      return new RandomPolicy(spec);
    case 'zero':
      return new ZeroPolicy();
    case 'expert':
    case 'planner': {
      const maze = spec.maze;
      if (maze === undefined) throw new RangeError(`no scripted ${name} for ${spec.id}; it exists for Maze2D tasks only`);
      return new MazeExpertPolicy({ ...spec, maze }, name === 'expert' ? 'reference' : 'replan');
    }
  }
}
