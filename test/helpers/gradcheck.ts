/**
 * Gradient checks. `checkGradients` compares reverse-mode gradients with central finite
 * differences in float64 (on the reference kernels). `checkBackendAgrees` runs the same function
 * in float32 on the active backend and compares values and gradients with the float64 ones.
 */
import assert from 'node:assert/strict';
import { Rng, Tensor, tidy, withDefaultDType, type DType } from '../../src/engine/index.js';
import { hostArray } from '../../src/engine/tensor.js';

export interface InputSpec {
  shape: number[];
  /** values drawn from this generator; default standard normal */
  init?: (rng: Rng, index: number) => number;
  /** false for inputs that are data, not differentiated */
  requiresGrad?: boolean;
}

export type Build = (inputs: Tensor[]) => Tensor;

function makeInputs(specs: InputSpec[], seed: number, dtype: DType): Tensor[] {
  const rng = new Rng(seed);
  return specs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => (spec.init ? spec.init(rng, i) : rng.normal()));
    const t = Tensor.from(values, spec.shape, dtype);
    t.requiresGrad = spec.requiresGrad ?? true;
    return t;
  });
}

/** sum(out * projection): a scalar whose gradient exercises every output element */
function projected(out: Tensor, projection: Float64Array): number {
  let s = 0;
  for (let i = 0; i < out.size; i++) s += (out.data[i] as number) * (projection[i] as number);
  return s;
}

function projectionFor(size: number, seed: number): Float64Array {
  const rng = new Rng(seed + 1000);
  return Float64Array.from({ length: size }, () => rng.normal());
}

export interface GradientResult {
  value: number[];
  grads: Array<number[] | null>;
}

function analytic(build: Build, specs: InputSpec[], seed: number, dtype: DType): GradientResult {
  return withDefaultDType(dtype, () => {
    const inputs = makeInputs(specs, seed, dtype);
    const out = build(inputs);
    const projection = projectionFor(out.size, seed);
    const value = out.toArray();
    if (out.requiresGrad) out.backward(dtype === 'float32' ? Float32Array.from(projection) : projection);
    return {
      value,
      grads: inputs.map((t, i) => ((specs[i]?.requiresGrad ?? true) ? (t.grad && t.gradValid ? Array.from(hostArray(t.grad)) : new Array<number>(t.size).fill(0)) : null)),
    };
  });
}

export function checkGradients(build: Build, specs: InputSpec[], options: { seed?: number; eps?: number; tolerance?: number } = {}): void {
  const seed = options.seed ?? 1;
  const eps = options.eps ?? 1e-6;
  const tolerance = options.tolerance ?? 1e-6;
  const { grads } = tidy(() => analytic(build, specs, seed, 'float64'));
  withDefaultDType('float64', () => {
    specs.forEach((spec, inputIndex) => {
      if (spec.requiresGrad === false) return;
      const grad = grads[inputIndex] as number[];
      const size = spec.shape.reduce((a, b) => a * b, 1);
      for (let element = 0; element < size; element++) {
        const evaluate = (delta: number): number => tidy(() => {
          const inputs = makeInputs(specs, seed, 'float64');
          const target = inputs[inputIndex] as Tensor;
          target.data[element] = (target.data[element] as number) + delta;
          const out = build(inputs);
          return projected(out, projectionFor(out.size, seed));
        });
        const numeric = (evaluate(eps) - evaluate(-eps)) / (2 * eps);
        const got = grad[element] as number;
        const scaleRef = Math.max(1, Math.abs(numeric), Math.abs(got));
        assert.ok(
          Math.abs(numeric - got) <= tolerance * scaleRef,
          `input ${inputIndex} element ${element}: analytic ${got} vs numeric ${numeric}`,
        );
      }
    });
  });
}

/** float32 on the active backend against float64 on the reference kernels */
export function checkBackendAgrees(build: Build, specs: InputSpec[], options: { seed?: number; tolerance?: number } = {}): void {
  const seed = options.seed ?? 1;
  const tolerance = options.tolerance ?? 2e-4;
  const expected = tidy(() => analytic(build, specs, seed, 'float64'));
  const got = tidy(() => analytic(build, specs, seed, 'float32'));
  const compare = (a: number[], b: number[], what: string): void => {
    const magnitude = Math.max(1e-3, ...b.map(Math.abs));
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs((a[i] as number) - (b[i] as number)) <= tolerance * magnitude, `${what}[${i}]: float32 ${a[i]} vs float64 ${b[i]} (scale ${magnitude})`);
    }
  };
  compare(got.value, expected.value, 'value');
  got.grads.forEach((g, i) => {
    if (g !== null) compare(g, expected.grads[i] as number[], `grad of input ${i}`);
  });
}

/**
 * A module's gradients (its parameters and its inputs) against central finite differences in
 * float64. The module is built in float64 and run in eval mode (no dropout); `maxPerTensor`
 * elements of each tensor are checked, spread evenly. Returns how many elements were checked.
 */
export function checkModuleGradients<M extends { parameters(): Tensor[]; eval(): unknown }>(
  make: () => M,
  forward: (module: M, inputs: Tensor[]) => Tensor,
  specs: InputSpec[],
  options: { seed?: number; eps?: number; tolerance?: number; maxPerTensor?: number } = {},
): number {
  const seed = options.seed ?? 1;
  const eps = options.eps ?? 1e-6;
  const tolerance = options.tolerance ?? 1e-6;
  const maxPerTensor = options.maxPerTensor ?? 24;
  let checked = 0;
  withDefaultDType('float64', () => {
    const module = make();
    module.eval();
    const inputs = makeInputs(specs, seed, 'float64');
    const value = (): number => tidy(() => {
      const out = forward(module, inputs);
      return projected(out, projectionFor(out.size, seed));
    });
    tidy(() => {
      const out = forward(module, inputs);
      out.backward(projectionFor(out.size, seed));
    });
    const targets: Array<[string, Tensor]> = [
      ...module.parameters().map((p, i): [string, Tensor] => [`parameter ${i} ${formatName(p)}`, p]),
      ...inputs.filter((_, i) => specs[i]?.requiresGrad !== false).map((t, i): [string, Tensor] => [`input ${i}`, t]),
    ];
    for (const [label, tensor] of targets) {
      const analytic = tensor.grad !== null && tensor.gradValid ? Float64Array.from(hostArray(tensor.grad)) : new Float64Array(tensor.size);
      const stride = Math.max(1, Math.floor(tensor.size / maxPerTensor));
      for (let j = 0; j < tensor.size; j += stride) {
        const original = tensor.data[j] as number;
        tensor.data[j] = original + eps;
        const plus = value();
        tensor.data[j] = original - eps;
        const minus = value();
        tensor.data[j] = original;
        const numeric = (plus - minus) / (2 * eps);
        const got = analytic[j] as number;
        assert.ok(Math.abs(numeric - got) <= tolerance * Math.max(1, Math.abs(numeric)), `${label} element ${j}: analytic ${got} vs numeric ${numeric}`);
        checked++;
      }
    }
  });
  return checked;
}

function formatName(t: Tensor): string {
  return 'name' in t && typeof t.name === 'string' ? t.name : '';
}
