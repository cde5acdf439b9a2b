/**
 * The broadcast and reduction layouts (backend.ts: BroadcastLayout, ReduceLayout) as kernel
 * parameters and WGSL index arithmetic. A layout is padded at the front to MAX_LAYOUT_RANK axes
 * (size 1, stride 0), so one pipeline serves every rank and the index code is unrolled at
 * generation time: no dynamic indexing of uniforms, which WGSL makes awkward.
 *
 * Two walks exist:
 * - forward (binary, expand): one thread per element i of the layout's shape decodes i into
 *   coordinates and sums coordinate * stride per operand;
 * - preimages (reduceTo, the gradient of a broadcast operand): one thread per TARGET element j
 *   finds the coordinates j stands for on its non-zero-stride axes (j / stride % size: the
 *   operand is contiguous, possibly with its axes permuted), then iterates the zero-stride axes
 *   in row-major order, which visits the source elements i that map to j in increasing i: the
 *   reference's summation order, with no atomics.
 */
import { MAX_LAYOUT_RANK } from '../backend.js';
import type { Param } from './runtime.js';

const RANK = MAX_LAYOUT_RANK;
const axes = Array.from({ length: RANK }, (_, axis) => axis);
const u32 = (value: number): Param => ({ u32: value });

/** the number of elements of a shape (1 for rank 0) */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/** elements of the operand a layout reads with `strides`: the product of its non-zero-stride axes */
export function operandCount(shape: readonly number[], strides: readonly number[]): number {
  return shape.reduce((product, size, axis) => (strides[axis] === 0 ? product : product * size), 1);
}

function checkLayout(name: string, shape: readonly number[], strides: readonly (readonly number[])[]): void {
  if (shape.length > RANK) throw new RangeError(`${name}: ${shape.length} axes exceed MAX_LAYOUT_RANK = ${RANK}`);
  for (const list of strides) {
    if (list.length !== shape.length) throw new RangeError(`${name}: ${list.length} strides for ${shape.length} axes`);
    if (list.some((stride) => !Number.isInteger(stride) || stride < 0)) throw new RangeError(`${name}: strides must be non-negative integers`);
  }
}

/** `values` padded at the front to RANK entries with `fill` */
function pad(values: readonly number[], fill: number): number[] {
  return [...new Array<number>(RANK - values.length).fill(fill), ...values];
}

/** WGSL Params fields `prefix0: u32, ..., prefix5: u32` */
export function axisFields(...prefixes: string[]): string[] {
  return prefixes.flatMap((prefix) => axes.map((axis) => `${prefix}${axis}: u32`));
}

/** the forward walk's parameters: the shape, then one stride list per operand (fields s, then the given prefixes) */
export function forwardParams(name: string, shape: readonly number[], strides: readonly (readonly number[])[]): Param[] {
  checkLayout(name, shape, strides);
  return [...pad(shape, 1), ...strides.flatMap((list) => pad(list, 0))].map(u32);
}

/**
 * WGSL that decodes `index` over the shape fields `s0..s5` and declares, per stride prefix p,
 * `let off_p = sum_k coord_k * P.p<k>`.
 */
export function forwardOffsets(index: string, prefixes: readonly string[]): string {
  const lines = [`var rem = ${index};`];
  const terms = new Map<string, string[]>(prefixes.map((prefix) => [prefix, []]));
  for (const axis of [...axes].reverse()) {
    lines.push(`let c${axis} = rem % P.s${axis}; rem = rem / P.s${axis};`);
    for (const prefix of prefixes) terms.get(prefix)!.push(`c${axis} * P.${prefix}${axis}`);
  }
  for (const prefix of prefixes) lines.push(`let off_${prefix} = ${terms.get(prefix)!.join(' + ')};`);
  return lines.join('\n  ');
}

/**
 * The preimage walk's parameters for a target read with `targetStrides`: the iteration count,
 * then per axis the divisor and modulus that give the target's coordinate (1 and 1 on a reduced
 * axis), the reduced axes' sizes (1 elsewhere), the source's row-major strides, then each of
 * `operandStrides` padded (fields count, d, m, r, o, then the given prefixes).
 */
export function preimageParams(
  name: string, shape: readonly number[], targetStrides: readonly number[], operandStrides: readonly (readonly number[])[] = [],
): Param[] {
  checkLayout(name, shape, [targetStrides, ...operandStrides]);
  const size = pad(shape, 1);
  const target = pad(targetStrides, 0);
  const reduced = axes.map((axis) => (target[axis] === 0 ? size[axis]! : 1));
  const rowMajor = new Array<number>(RANK);
  let stride = 1;
  for (const axis of [...axes].reverse()) {
    rowMajor[axis] = stride;
    stride *= size[axis]!;
  }
  const divisor = axes.map((axis) => (target[axis] === 0 ? 1 : target[axis]!));
  const modulus = axes.map((axis) => (target[axis] === 0 ? 1 : size[axis]!));
  const count = elementCount(reduced);
  return [count, ...divisor, ...modulus, ...reduced, ...rowMajor, ...operandStrides.flatMap((list) => pad(list, 0))].map(u32);
}

export const PREIMAGE_FIELDS = ['count: u32', ...axisFields('d', 'm', 'r', 'o')];

/**
 * WGSL: a loop over the source elements that map to target element `index`, in increasing
 * source index. In the body `src` is the source's row-major index and, per prefix p,
 * `off_p` the offset the layout's stride list p gives that element.
 */
export function preimageLoop(index: string, prefixes: readonly string[], body: string): string {
  const base = axes.map((axis) => `let base${axis} = (${index} / P.d${axis}) % P.m${axis};`);
  const coords = [...axes].reverse().map((axis) => `let c${axis} = base${axis} + rem % P.r${axis}; rem = rem / P.r${axis};`);
  const offsets = prefixes.map((prefix) => `let off_${prefix} = ${axes.map((axis) => `c${axis} * P.${prefix}${axis}`).join(' + ')};`);
  return `${base.join('\n  ')}
  for (var step = 0u; step < P.count; step++) {
    var rem = step;
    ${coords.join('\n    ')}
    let src = ${axes.map((axis) => `c${axis} * P.o${axis}`).join(' + ')};
    ${offsets.join('\n    ')}
    ${body}
  }`;
}
