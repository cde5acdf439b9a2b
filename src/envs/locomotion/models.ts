/**
 * MJCF models of the Gymnasium v4 locomotion tasks, written from the facts in the D4RL spec
 * (section 3.5). gym's hopper.xml and walker2d.xml use compiler coordinate="global", which MuJoCo
 * 3 rejects, so Hopper and Walker2d are authored in local coordinates the way Gymnasium >= 0.29
 * ships them: same geoms and joints in world space, hence the same masses, inertias and dynamics.
 *
 * Left out everywhere: lights, cameras, textures, materials and rgba (rendering only), and
 * HalfCheetah's `<size nstack nuser_geom>` (gone in MuJoCo 3; `<size memory>` replaces nstack).
 */

/**
 * Per-data arena. MuJoCo's default (about 13 MB per MjData) caps a 2 GiB wasm instance at about
 * 150 environments; these planar walkers have at most a handful of contacts, for which 1 MB is
 * ample and leaves room for thousands of environments.
 */
export const LOCOMOTION_ARENA = '1M';

/** The floor plane and the three planar root joints every task shares (rootz ref sets qpos0 to the torso height). */
function rootJoints(torsoHeight: number, rootzRef: boolean): string {
  const ref = rootzRef ? ` ref="${torsoHeight}"` : '';
  return `      <joint name="rootx" type="slide" axis="1 0 0" pos="0 0 0" armature="0" damping="0" stiffness="0" limited="false"/>
      <joint name="rootz" type="slide" axis="0 0 1" pos="0 0 0"${ref} armature="0" damping="0" stiffness="0" limited="false"/>
      <joint name="rooty" type="hinge" axis="0 1 0" pos="0 0 0" armature="0" damping="0" stiffness="0" limited="false"/>`;
}

/** quat of a capsule lying along x (rotation of -90 degrees about y), as Gymnasium's local models write it */
const HORIZONTAL = '0.7071068 0 -0.7071068 0';

/** A foot in the spec's local form: body origin, joint and capsule centre relative to the leg / foot body. */
interface FootGeometry {
  /** x of the foot body in the leg frame; the joint sits at (-bodyX, 0, 0.1), i.e. at world x 0 */
  bodyX: number;
  /** x of the capsule centre in the foot frame */
  geomX: number;
  halfLength: number;
  friction: number;
}

/**
 * Thigh, leg and foot of Hopper and of each Walker2d leg, nested under the torso whose capsule
 * spans z 1.05..1.45. Global description: thigh capsule z 1.05..0.6 (joint at 1.05), leg capsule
 * z 0.6..0.1 (joint at 0.6), foot capsule along x at z 0.1 (joint at (0, 0, 0.1)). All three
 * hinges turn about -y.
 */
function legXml(suffix: string, foot: FootGeometry, indent: string): string {
  return `${indent}<body name="thigh${suffix}" pos="0 0 -0.2">
${indent}  <joint name="thigh${suffix}_joint" type="hinge" axis="0 -1 0" pos="0 0 0" range="-150 0"/>
${indent}  <geom name="thigh${suffix}_geom" type="capsule" size="0.05 0.225" pos="0 0 -0.225" friction="0.9"/>
${indent}  <body name="leg${suffix}" pos="0 0 -0.7">
${indent}    <joint name="leg${suffix}_joint" type="hinge" axis="0 -1 0" pos="0 0 0.25" range="-150 0"/>
${indent}    <geom name="leg${suffix}_geom" type="capsule" size="0.04 0.25" friction="0.9"/>
${indent}    <body name="foot${suffix}" pos="${foot.bodyX} 0 -0.35">
${indent}      <joint name="foot${suffix}_joint" type="hinge" axis="0 -1 0" pos="${-foot.bodyX} 0 0.1" range="-45 45"/>
${indent}      <geom name="foot${suffix}_geom" type="capsule" size="0.06 ${foot.halfLength}" pos="${foot.geomX} 0 0.1" quat="${HORIZONTAL}" friction="${foot.friction}"/>
${indent}    </body>
${indent}  </body>
${indent}</body>`;
}

/**
 * Hopper: torso, thigh, leg and a foot from x -0.13 to 0.26 (friction 2.0); RK4 at 0.002 s; joint
 * armature 1 and damping 1; soft contacts solimp .8 .8 .01, margin 0.001; three motors, gear 200.
 * Total mass 15.820014 kg.
 */
export function hopperXml(): string {
  return `<mujoco model="hopper">
  <compiler angle="degree" inertiafromgeom="true"/>
  <option integrator="RK4" timestep="0.002"/>
  <size memory="${LOCOMOTION_ARENA}"/>
  <default>
    <joint armature="1" damping="1" limited="true"/>
    <geom conaffinity="1" condim="1" contype="1" margin="0.001" solimp=".8 .8 .01" solref=".02 1"/>
    <motor ctrllimited="true" ctrlrange="-.4 .4"/>
  </default>
  <worldbody>
    <geom name="floor" type="plane" pos="0 0 0" size="20 20 .125" conaffinity="1" condim="3"/>
    <body name="torso" pos="0 0 1.25">
${rootJoints(1.25, true)}
      <geom name="torso_geom" type="capsule" size="0.05 0.2" friction="0.9"/>
${legXml('', { bodyX: 0.13, geomX: -0.065, halfLength: 0.195, friction: 2.0 }, '      ')}
    </body>
  </worldbody>
  <actuator>
    <motor name="thigh_joint" joint="thigh_joint" gear="200" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="leg_joint" joint="leg_joint" gear="200" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="foot_joint" joint="foot_joint" gear="200" ctrllimited="true" ctrlrange="-1.0 1.0"/>
  </actuator>
</mujoco>
`;
}

/**
 * Walker2d: Hopper's torso with two legs whose feet run from x 0 to 0.2; the right foot has
 * friction 0.9 and the left 1.9 (the v2/v3/v4 asymmetry; v5 uses 1.9 for both). RK4 at 0.002 s;
 * joint armature 0.01, damping 0.1; geom friction .7 .1 .1 by default; six motors, gear 100.
 * Total mass 23.677137 kg.
 */
export function walker2dXml(): string {
  return `<mujoco model="walker2d">
  <compiler angle="degree" inertiafromgeom="true"/>
  <option integrator="RK4" timestep="0.002"/>
  <size memory="${LOCOMOTION_ARENA}"/>
  <default>
    <joint armature="0.01" damping=".1" limited="true"/>
    <geom conaffinity="0" condim="3" contype="1" density="1000" friction=".7 .1 .1"/>
  </default>
  <worldbody>
    <geom name="floor" type="plane" pos="0 0 0" size="40 40 40" conaffinity="1" condim="3"/>
    <body name="torso" pos="0 0 1.25">
${rootJoints(1.25, true)}
      <geom name="torso_geom" type="capsule" size="0.05 0.2" friction="0.9"/>
${legXml('', { bodyX: 0.2, geomX: -0.1, halfLength: 0.1, friction: 0.9 }, '      ')}
${legXml('_left', { bodyX: 0.2, geomX: -0.1, halfLength: 0.1, friction: 1.9 }, '      ')}
    </body>
  </worldbody>
  <actuator>
    <motor name="thigh_joint" joint="thigh_joint" gear="100" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="leg_joint" joint="leg_joint" gear="100" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="foot_joint" joint="foot_joint" gear="100" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="thigh_left_joint" joint="thigh_left_joint" gear="100" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="leg_left_joint" joint="leg_left_joint" gear="100" ctrllimited="true" ctrlrange="-1.0 1.0"/>
    <motor name="foot_left_joint" joint="foot_left_joint" gear="100" ctrllimited="true" ctrlrange="-1.0 1.0"/>
  </actuator>
</mujoco>
`;
}

/** one HalfCheetah limb segment: a body with its hinge at the origin and one capsule */
interface CheetahSegment {
  name: string;
  bodyPos: string;
  damping: number;
  stiffness: number;
  range: string;
  geomPos: string;
  /** rotation about y, radians */
  geomAngle: number;
  halfLength: number;
}

function cheetahChain(segments: readonly CheetahSegment[], indent: string): string {
  const [segment, ...rest] = segments;
  if (segment === undefined) return '';
  const inner = rest.length > 0 ? `\n${cheetahChain(rest, `${indent}  `)}` : '';
  return `${indent}<body name="${segment.name}" pos="${segment.bodyPos}">
${indent}  <joint name="${segment.name}" type="hinge" axis="0 1 0" pos="0 0 0" damping="${segment.damping}" stiffness="${segment.stiffness}" range="${segment.range}"/>
${indent}  <geom name="${segment.name}" type="capsule" size="0.046 ${segment.halfLength}" pos="${segment.geomPos}" axisangle="0 1 0 ${segment.geomAngle}"/>${inner}
${indent}</body>`;
}

const BACK_LEG: readonly CheetahSegment[] = [
  { name: 'bthigh', bodyPos: '-.5 0 0', damping: 6, stiffness: 240, range: '-.52 1.05', geomPos: '.1 0 -.13', geomAngle: -3.8, halfLength: 0.145 },
  { name: 'bshin', bodyPos: '.16 0 -.25', damping: 4.5, stiffness: 180, range: '-.785 .785', geomPos: '-.14 0 -.07', geomAngle: -2.03, halfLength: 0.15 },
  { name: 'bfoot', bodyPos: '-.28 0 -.14', damping: 3, stiffness: 120, range: '-.4 .785', geomPos: '.03 0 -.097', geomAngle: -0.27, halfLength: 0.094 },
];

const FRONT_LEG: readonly CheetahSegment[] = [
  { name: 'fthigh', bodyPos: '.5 0 0', damping: 4.5, stiffness: 180, range: '-1 .7', geomPos: '-.07 0 -.12', geomAngle: 0.52, halfLength: 0.133 },
  { name: 'fshin', bodyPos: '-.14 0 -.24', damping: 3, stiffness: 120, range: '-1.2 .87', geomPos: '.065 0 -.09', geomAngle: -0.6, halfLength: 0.106 },
  { name: 'ffoot', bodyPos: '.13 0 -.18', damping: 1.5, stiffness: 60, range: '-.5 .5', geomPos: '.045 0 -.07', geomAngle: -0.6, halfLength: 0.07 },
];

/** motor gears in actuator order: bthigh, bshin, bfoot, fthigh, fshin, ffoot */
const CHEETAH_GEARS: readonly (readonly [string, number])[] = [
  ['bthigh', 120],
  ['bshin', 90],
  ['bfoot', 60],
  ['fthigh', 120],
  ['fshin', 60],
  ['ffoot', 30],
];

/**
 * HalfCheetah (gym's half_cheetah.xml, already local): Euler at 0.01 s; joints with armature .1,
 * stiffness and damping per joint, soft limits; geoms friction .4 .1 .1, solimp 0 .8 .01;
 * settotalmass 14 rescales the density-derived masses and inertias.
 */
export function halfCheetahXml(): string {
  const motors = CHEETAH_GEARS.map(([joint, gear]) => `    <motor name="${joint}" joint="${joint}" gear="${gear}"/>`).join('\n');
  return `<mujoco model="cheetah">
  <compiler angle="radian" inertiafromgeom="true" settotalmass="14"/>
  <option gravity="0 0 -9.81" timestep="0.01"/>
  <size memory="${LOCOMOTION_ARENA}"/>
  <default>
    <joint armature=".1" damping=".01" limited="true" solimplimit="0 .8 .03" solreflimit=".02 1" stiffness="8"/>
    <geom conaffinity="0" condim="3" contype="1" friction=".4 .1 .1" solimp="0.0 0.8 0.01" solref="0.02 1"/>
    <motor ctrllimited="true" ctrlrange="-1 1"/>
  </default>
  <worldbody>
    <geom name="floor" type="plane" pos="0 0 0" size="40 40 40" conaffinity="1" condim="3"/>
    <body name="torso" pos="0 0 .7">
${rootJoints(0.7, false)}
      <geom name="torso" type="capsule" fromto="-.5 0 0 .5 0 0" size="0.046"/>
      <geom name="head" type="capsule" pos=".6 0 .1" axisangle="0 1 0 .87" size="0.046 .15"/>
${cheetahChain(BACK_LEG, '      ')}
${cheetahChain(FRONT_LEG, '      ')}
    </body>
  </worldbody>
  <actuator>
${motors}
  </actuator>
</mujoco>
`;
}
