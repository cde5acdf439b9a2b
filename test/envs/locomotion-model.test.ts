/**
 * The locomotion MJCF models read back from the compiled MuJoCo model and checked against the
 * spec's facts (d4rl.md 3.5): masses as stated, inertias and centres of mass from the capsule
 * geometry computed here independently of MuJoCo, and for the two models re-authored in local
 * coordinates, every capsule's end points and joint anchor in world space equal to gym's global
 * description.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import loadMujocoModule, { type MjData, type MjModel } from '@mujoco/mujoco';
import { halfCheetahXml, hopperXml, walker2dXml } from '../../src/envs/locomotion/models.js';

type Vec3 = readonly [number, number, number];

interface Capsule {
  /** centre in the body frame */
  centre: Vec3;
  /** unit axis in the body frame */
  axis: Vec3;
  radius: number;
  halfLength: number;
}

const DENSITY = 1000;
/** the full module: these checks need mj_forward and world-frame data the env wrapper does not expose */
const mj = await loadMujocoModule();

function capsuleMass({ radius, halfLength }: Capsule): number {
  return DENSITY * (Math.PI * radius * radius * 2 * halfLength + (4 / 3) * Math.PI * radius ** 3);
}

/**
 * Inertia tensor of a capsule about its centre: a cylinder plus two hemispheres, each hemisphere
 * (mass ms/2) contributing 83/320 ms r^2 about its own centroid, which lies 3r/8 beyond the cylinder end.
 */
function capsuleTensor(capsule: Capsule, mass: number): number[] {
  const { radius: r, halfLength } = capsule;
  const height = 2 * halfLength;
  const sphereVolume = (4 / 3) * Math.PI * r ** 3;
  const cylinderVolume = Math.PI * r * r * height;
  const sphereMass = (mass * sphereVolume) / (sphereVolume + cylinderVolume);
  const cylinderMass = mass - sphereMass;
  const axial = (cylinderMass * r * r) / 2 + (2 * sphereMass * r * r) / 5;
  const hemisphereOffset = halfLength + (3 * r) / 8;
  const perpendicular = (cylinderMass * (3 * r * r + height * height)) / 12 + sphereMass * ((83 / 320) * r * r + hemisphereOffset ** 2);
  const d = capsule.axis;
  const tensor: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) tensor.push(perpendicular * ((i === j ? 1 : 0) - d[i]! * d[j]!) + axial * d[i]! * d[j]!);
  return tensor;
}

/** mass, centre of mass and the rotation invariants (trace, sum of 2x2 principal minors, determinant) of the inertia about it */
function bodyInertials(capsules: readonly Capsule[], massScale: number): { mass: number; com: number[]; invariants: number[] } {
  const masses = capsules.map((c) => capsuleMass(c) * massScale);
  const mass = masses.reduce((a, b) => a + b, 0);
  const com = [0, 1, 2].map((k) => capsules.reduce((sum, c, g) => sum + masses[g]! * c.centre[k]!, 0) / mass);
  const tensor = new Array<number>(9).fill(0);
  capsules.forEach((capsule, g) => {
    const own = capsuleTensor(capsule, masses[g]!);
    const offset = [0, 1, 2].map((k) => capsule.centre[k]! - com[k]!);
    const squared = offset.reduce((a, b) => a + b * b, 0);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) tensor[3 * i + j]! += own[3 * i + j]! + masses[g]! * ((i === j ? squared : 0) - offset[i]! * offset[j]!);
    }
  });
  const t = (i: number, j: number): number => tensor[3 * i + j]!;
  const trace = t(0, 0) + t(1, 1) + t(2, 2);
  const minors = t(0, 0) * t(1, 1) - t(0, 1) ** 2 + t(1, 1) * t(2, 2) - t(1, 2) ** 2 + t(0, 0) * t(2, 2) - t(0, 2) ** 2;
  const det =
    t(0, 0) * (t(1, 1) * t(2, 2) - t(1, 2) * t(2, 1)) - t(0, 1) * (t(1, 0) * t(2, 2) - t(1, 2) * t(2, 0)) + t(0, 2) * (t(1, 0) * t(2, 1) - t(1, 1) * t(2, 0));
  return { mass, com, invariants: [trace, minors, det] };
}

const X: Vec3 = [1, 0, 0];
const Z: Vec3 = [0, 0, 1];
/** a capsule's axis after `axisangle="0 1 0 angle"` turns the z axis about y */
const aboutY = (angle: number): Vec3 => [Math.sin(angle), 0, Math.cos(angle)];

/** The spec's local form of the shared torso and leg bodies; the world-space test below checks it against the global description. */
const TORSO: Capsule = { centre: [0, 0, 0], axis: Z, radius: 0.05, halfLength: 0.2 };
const THIGH: Capsule = { centre: [0, 0, -0.225], axis: Z, radius: 0.05, halfLength: 0.225 };
const LEG: Capsule = { centre: [0, 0, 0], axis: Z, radius: 0.04, halfLength: 0.25 };
const HOPPER_FOOT: Capsule = { centre: [-0.065, 0, 0.1], axis: X, radius: 0.06, halfLength: 0.195 };
const WALKER_FOOT: Capsule = { centre: [-0.1, 0, 0.1], axis: X, radius: 0.06, halfLength: 0.1 };

const CHEETAH_BODIES: readonly (readonly Capsule[])[] = [
  [
    { centre: [0, 0, 0], axis: X, radius: 0.046, halfLength: 0.5 },
    { centre: [0.6, 0, 0.1], axis: aboutY(0.87), radius: 0.046, halfLength: 0.15 },
  ],
  [{ centre: [0.1, 0, -0.13], axis: aboutY(-3.8), radius: 0.046, halfLength: 0.145 }],
  [{ centre: [-0.14, 0, -0.07], axis: aboutY(-2.03), radius: 0.046, halfLength: 0.15 }],
  [{ centre: [0.03, 0, -0.097], axis: aboutY(-0.27), radius: 0.046, halfLength: 0.094 }],
  [{ centre: [-0.07, 0, -0.12], axis: aboutY(0.52), radius: 0.046, halfLength: 0.133 }],
  [{ centre: [0.065, 0, -0.09], axis: aboutY(-0.6), radius: 0.046, halfLength: 0.106 }],
  [{ centre: [0.045, 0, -0.07], axis: aboutY(-0.6), radius: 0.046, halfLength: 0.07 }],
];

interface ModelCase {
  name: string;
  xml: () => string;
  /** bodies after the world body, in MJCF order */
  bodies: readonly (readonly Capsule[])[];
  /** the spec's masses, kg */
  masses: readonly number[];
  totalMass: number;
  /** settotalmass, when the model rescales its density-derived masses */
  settotalmass?: number;
  timestep: number;
  gears: readonly number[];
}

const MODELS: readonly ModelCase[] = [
  {
    name: 'hopper',
    xml: hopperXml,
    bodies: [[TORSO], [THIGH], [LEG], [HOPPER_FOOT]],
    masses: [3.66519, 4.05789, 2.78136, 5.31557],
    totalMass: 15.820014,
    timestep: 0.002,
    gears: [200, 200, 200],
  },
  {
    name: 'walker2d',
    xml: walker2dXml,
    bodies: [[TORSO], [THIGH], [LEG], [WALKER_FOOT], [THIGH], [LEG], [WALKER_FOOT]],
    masses: [3.66519, 4.05789, 2.78136, 3.16673, 4.05789, 2.78136, 3.16673],
    totalMass: 23.677137,
    timestep: 0.002,
    gears: [100, 100, 100, 100, 100, 100],
  },
  {
    name: 'halfcheetah',
    xml: halfCheetahXml,
    bodies: CHEETAH_BODIES,
    masses: [6.250209, 1.543515, 1.587448, 1.095397, 1.438075, 1.200837, 0.884519],
    totalMass: 14,
    settotalmass: 14,
    timestep: 0.01,
    gears: [120, 90, 60, 120, 60, 30],
  },
];

function floats(value: unknown, field: string): Float64Array {
  if (!(value instanceof Float64Array)) throw new TypeError(`${field} is not a Float64Array`);
  return value;
}

function close(actual: number, expected: number, tolerance: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: ${actual} vs ${expected}`);
}

describe('locomotion models read back from MuJoCo', () => {
  for (const model of MODELS) {
    it(`${model.name}: masses, centres of mass, inertias, timestep and gears`, () => {
      const compiled = mj.MjModel.from_xml_string(model.xml());
      try {
        assert.equal(compiled.nbody, model.bodies.length + 1);
        close(compiled.opt.timestep, model.timestep, 0, 'timestep');
        assert.deepEqual(Array.from(floats(compiled.actuator_gear, 'actuator_gear')).filter((_, i) => i % 6 === 0), model.gears);
        const masses = floats(compiled.body_mass, 'body_mass');
        const ipos = floats(compiled.body_ipos, 'body_ipos');
        const inertia = floats(compiled.body_inertia, 'body_inertia');
        const rawTotal = model.bodies.flat().reduce((sum, c) => sum + capsuleMass(c), 0);
        const scale = model.settotalmass === undefined ? 1 : model.settotalmass / rawTotal;
        let total = 0;
        model.bodies.forEach((capsules, index) => {
          const body = index + 1;
          const label = `${model.name} body ${body}`;
          const expected = bodyInertials(capsules, scale);
          close(masses[body]!, model.masses[index]!, 5e-6, `${label} mass vs the spec`);
          close(masses[body]!, expected.mass, 1e-9, `${label} mass vs the capsule volume`);
          for (let k = 0; k < 3; k++) close(ipos[3 * body + k]!, expected.com[k]!, 1e-9, `${label} centre of mass ${k}`);
          const [a, b, c] = [inertia[3 * body]!, inertia[3 * body + 1]!, inertia[3 * body + 2]!];
          const actual = [a + b + c, a * b + b * c + c * a, a * b * c];
          actual.forEach((value, k) => close(value, expected.invariants[k]!, 1e-9 * Math.max(1, Math.abs(value)), `${label} inertia invariant ${k}`));
          total += masses[body]!;
        });
        close(total, model.totalMass, 2e-6, `${model.name} total mass`);
      } finally {
        compiled.delete();
      }
    });
  }
});

/**
 * gym's global description (z up, all in the x-z plane): capsule end points and joint anchors.
 * Hopper's foot runs from x -0.13 to 0.26, Walker2d's from 0 to 0.2, both at z 0.1.
 */
const GLOBAL_TORSO = { from: [0, 0, 1.45], to: [0, 0, 1.05] };
const GLOBAL_THIGH = { from: [0, 0, 1.05], to: [0, 0, 0.6] };
const GLOBAL_LEG = { from: [0, 0, 0.6], to: [0, 0, 0.1] };
const ROOT_ANCHOR = [0, 0, 1.25];
const LEG_ANCHORS = [
  [0, 0, 1.05],
  [0, 0, 0.6],
  [0, 0, 0.1],
];

const GLOBAL_MODELS = [
  {
    name: 'hopper',
    xml: hopperXml,
    capsules: [GLOBAL_TORSO, GLOBAL_THIGH, GLOBAL_LEG, { from: [-0.13, 0, 0.1], to: [0.26, 0, 0.1] }],
    anchors: [ROOT_ANCHOR, ROOT_ANCHOR, ROOT_ANCHOR, ...LEG_ANCHORS],
    frictions: [0.9, 0.9, 0.9, 2.0],
  },
  {
    name: 'walker2d',
    xml: walker2dXml,
    capsules: [GLOBAL_TORSO, GLOBAL_THIGH, GLOBAL_LEG, { from: [0, 0, 0.1], to: [0.2, 0, 0.1] }, GLOBAL_THIGH, GLOBAL_LEG, { from: [0, 0, 0.1], to: [0.2, 0, 0.1] }],
    anchors: [ROOT_ANCHOR, ROOT_ANCHOR, ROOT_ANCHOR, ...LEG_ANCHORS, ...LEG_ANCHORS],
    frictions: [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.9],
  },
];

describe('Hopper and Walker2d in local coordinates match the global description', () => {
  for (const model of GLOBAL_MODELS) {
    it(`${model.name}: capsule end points, joint anchors and foot frictions at qpos0`, () => {
      const compiled: MjModel = mj.MjModel.from_xml_string(model.xml());
      const data: MjData = new mj.MjData(compiled);
      try {
        mj.mj_forward(compiled, data);
        const geomPos = floats(data.geom_xpos, 'geom_xpos');
        const geomMat = floats(data.geom_xmat, 'geom_xmat');
        const size = floats(compiled.geom_size, 'geom_size');
        const friction = floats(compiled.geom_friction, 'geom_friction');
        model.capsules.forEach(({ from, to }, index) => {
          const geom = index + 1; // geom 0 is the floor
          const half = size[3 * geom + 1]!;
          // the capsule axis is the third column of its rotation matrix
          const ends = [-1, 1].map((sign) => [0, 1, 2].map((k) => geomPos[3 * geom + k]! + sign * half * geomMat[9 * geom + 3 * k + 2]!));
          const matches = (a: number[], b: number[]): boolean => a.every((v, k) => Math.abs(v - b[k]!) < 1e-9);
          const same = (matches(ends[0]!, from) && matches(ends[1]!, to)) || (matches(ends[0]!, to) && matches(ends[1]!, from));
          assert.ok(same, `${model.name} capsule ${geom}: ends ${JSON.stringify(ends)} vs ${JSON.stringify([from, to])}`);
          close(friction[3 * geom]!, model.frictions[index]!, 0, `${model.name} capsule ${geom} friction`);
        });
        const anchors = floats(data.xanchor, 'xanchor');
        model.anchors.forEach((anchor, joint) => {
          for (let k = 0; k < 3; k++) close(anchors[3 * joint + k]!, anchor[k]!, 1e-9, `${model.name} joint ${joint} anchor ${k}`);
        });
      } finally {
        data.delete();
        compiled.delete();
      }
    });
  }
});
