/**
 * The MuJoCo WebAssembly backend: @mujoco/mujoco, pinned to an exact version in package.json
 * because trajectories change between MuJoCo versions.
 *
 * The package's typings declare every array field (qpos, ctrl, ...) as `any`; those are checked
 * at run time and handed out as Float64Array.
 */
import loadMujocoModule, { type MainModule, type MjData, type MjModel } from '@mujoco/mujoco';

/** The part of the package's MainModule used here. */
export type MujocoModule = Pick<MainModule, 'mj_versionString' | 'mj_step' | 'mj_resetData' | 'MjModel' | 'MjData'>;

let modulePromise: Promise<MujocoModule> | undefined;

/** Instantiates the wasm module once per process (about 150 ms); later calls share it. */
export function loadMujoco(): Promise<MujocoModule> {
  modulePromise ??= loadMujocoModule();
  return modulePromise;
}

export async function mujocoVersion(): Promise<string> {
  return `@mujoco/mujoco (MuJoCo ${(await loadMujoco()).mj_versionString()})`;
}

function asFloat64View(value: unknown, field: string): Float64Array {
  if (!(value instanceof Float64Array)) throw new TypeError(`MuJoCo returned a non-Float64Array for ${field}`);
  return value;
}

/**
 * One model and one data, with cached views of qpos/qvel/ctrl. Each getter on MjData allocates a
 * new view, so the views are cached; a view is detached (byteLength 0) when wasm memory grows, in
 * which case it is fetched again.
 */
export class MujocoSim {
  readonly nq: number;
  readonly nv: number;
  readonly nu: number;
  private qposView: Float64Array;
  private qvelView: Float64Array;
  private ctrlView: Float64Array;
  private freed = false;

  private constructor(
    private readonly mj: MujocoModule,
    private readonly model: MjModel,
    private readonly data: MjData,
  ) {
    this.nq = model.nq;
    this.nv = model.nv;
    this.nu = model.nu;
    this.qposView = asFloat64View(data.qpos, 'qpos');
    this.qvelView = asFloat64View(data.qvel, 'qvel');
    this.ctrlView = asFloat64View(data.ctrl, 'ctrl');
  }

  /** Compiles an MJCF string; MuJoCo's own message is in the thrown error. */
  static fromXml(mj: MujocoModule, xml: string): MujocoSim {
    const model = mj.MjModel.from_xml_string(xml);
    let data: MjData;
    try {
      data = new mj.MjData(model);
    } catch (error) {
      model.delete();
      throw error;
    }
    return new MujocoSim(mj, model, data);
  }

  get qpos(): Float64Array {
    if (this.qposView.byteLength === 0) this.refreshViews();
    return this.qposView;
  }

  get qvel(): Float64Array {
    if (this.qvelView.byteLength === 0) this.refreshViews();
    return this.qvelView;
  }

  get ctrl(): Float64Array {
    if (this.ctrlView.byteLength === 0) this.refreshViews();
    return this.ctrlView;
  }

  step(): void {
    this.mj.mj_step(this.model, this.data);
  }

  resetData(): void {
    this.mj.mj_resetData(this.model, this.data);
  }

  /** GC never frees wasm objects, so every simulator must be disposed. Idempotent. */
  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.data.delete();
    this.model.delete();
  }

  private refreshViews(): void {
    this.qposView = asFloat64View(this.data.qpos, 'qpos');
    this.qvelView = asFloat64View(this.data.qvel, 'qvel');
    this.ctrlView = asFloat64View(this.data.ctrl, 'ctrl');
  }
}
