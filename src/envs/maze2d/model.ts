import type { MazeLayout } from './layouts.js';

/**
 * Per-data arena. MuJoCo's default (about 13 MB per MjData for a model this small) caps one wasm
 * instance at about 150 environments; 1 MB leaves room for thousands and is far more than a ball
 * touching at most a few walls needs.
 */
export const MAZE_ARENA = '1M';

/**
 * D4RL's point-maze MJCF (d4rl/pointmaze/maze_model.py: point_maze), written from its parameters.
 * Differences: no textures or materials (they only affect rendering), and no
 * `coordinate="local"` (the only mode in MuJoCo 3, where the attribute no longer exists).
 * Wall cell (i, j) is a box at world (i+1, j+1) while the ball's body sits at (1.2, 1.2): in qpos
 * coordinates a wall spans [i-0.7, i+0.3], the D4RL offset kept on purpose.
 */
export function pointMazeXml(layout: MazeLayout): string {
  const walls: string[] = [];
  for (let i = 0; i < layout.height; i++) {
    for (let j = 0; j < layout.width; j++) {
      if (layout.isWall(i, j)) {
        walls.push(`    <geom conaffinity="1" type="box" name="wall_${i}_${j}" pos="${i + 1} ${j + 1} 0" size="0.5 0.5 0.2"/>`);
      }
    }
  }
  return `<mujoco model="point_maze_${layout.name}">
  <compiler inertiafromgeom="true" angle="radian"/>
  <option timestep="0.01" gravity="0 0 0" iterations="20" integrator="Euler"/>
  <size memory="${MAZE_ARENA}"/>
  <default>
    <joint damping="1" limited="false"/>
    <geom friction=".5 .1 .1" density="1000" margin="0.002" condim="1" contype="2" conaffinity="1"/>
  </default>
  <worldbody>
    <geom name="ground" type="plane" size="40 40 0.25" pos="0 0 -0.1" contype="1" conaffinity="0"/>
    <body name="particle" pos="1.2 1.2 0">
      <geom name="particle_geom" type="sphere" size="0.1" contype="1"/>
      <site name="particle_site" pos="0 0 0" size="0.2"/>
      <joint name="ball_x" type="slide" pos="0 0 0" axis="1 0 0"/>
      <joint name="ball_y" type="slide" pos="0 0 0" axis="0 1 0"/>
    </body>
    <site name="target_site" pos="0 0 0" size="0.2"/>
${walls.join('\n')}
  </worldbody>
  <actuator>
    <motor joint="ball_x" ctrlrange="-1 1" ctrllimited="true" gear="100"/>
    <motor joint="ball_y" ctrlrange="-1 1" ctrllimited="true" gear="100"/>
  </actuator>
</mujoco>
`;
}
