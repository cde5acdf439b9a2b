/**
 * Modules own parameters and sub-modules under names that mirror the PyTorch references
 * (`blocks.0.attn.c_attn.weight`), so a Stitch checkpoint and a PyTorch state_dict map one to one.
 */
import { Parameter, type DType, getDefaultDType, wholeArray } from '../engine/index.js';
import { isHostStorage } from '../engine/backend.js';
import { kernels } from '../engine/ops/kernels.js';

export abstract class Module {
  training = true;
  private readonly ownParameters = new Map<string, Parameter>();
  private readonly submodules = new Map<string, Module>();

  protected addParameter(name: string, shape: readonly number[], dtype: DType = getDefaultDType()): Parameter {
    if (this.ownParameters.has(name) || this.submodules.has(name)) throw new Error(`duplicate name "${name}" in ${this.constructor.name}`);
    const parameter = Parameter.create(shape, name, dtype);
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  protected addModule<M extends Module>(name: string, module: M): M {
    if (this.ownParameters.has(name) || this.submodules.has(name)) throw new Error(`duplicate name "${name}" in ${this.constructor.name}`);
    this.submodules.set(name, module);
    return module;
  }

  /** parameters with their dotted names, in registration order */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    for (const [name, p] of this.ownParameters) out.push([`${prefix}${name}`, p]);
    for (const [name, m] of this.submodules) out.push(...m.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** training mode turns dropout on */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.submodules.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** copy every parameter value from a module of the same structure (EMA targets, checkpoints) */
  copyFrom(other: Module): void {
    const source = new Map(other.namedParameters());
    for (const [name, p] of this.namedParameters()) {
      const q = source.get(name);
      if (q === undefined || q.size !== p.size) throw new Error(`copyFrom: parameter ${name} missing or of another size`);
      // parameters are made in host memory whatever the backend (a device run places them after construction)
      if (isHostStorage(p.storage) && isHostStorage(q.storage)) p.storage.set(q.storage);
      else kernels(p.dtype).copyBlocks(q.storage, p.storage, wholeArray(p.size), false);
    }
  }

  /** moves every parameter to where the active backend keeps data (a device); nothing on the CPU backends */
  place(): void {
    for (const p of this.parameters()) p.place();
  }
}
