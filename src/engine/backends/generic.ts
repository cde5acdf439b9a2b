/**
 * The host implementations of the generic kernels (fill, block copies, element-wise math with
 * broadcasting, reductions, the weighted MSE). They are not hot in the models Stitch trains (loss
 * tensors and small slices), so every CPU backend (js, native, wasm) shares these loops; the
 * WebGPU backend has WGSL versions with the same semantics (webgpu/kernels.ts).
 */
import type { BinaryKind, BroadcastLayout, CopyBlocks, FloatArray, GenericKernels, ReduceLayout, UnaryKind } from '../backend.js';

/** for every element of `shape` (row-major), the offset sum_k coord_k * strides[k] */
export function layoutOffsets(shape: readonly number[], strides: readonly number[]): Int32Array {
  const rank = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  const offsets = new Int32Array(total);
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < total; i++) {
    offsets[i] = offset;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis] = counter[axis]! + 1;
      offset += strides[axis]!;
      if (counter[axis]! < shape[axis]!) break;
      offset -= strides[axis]! * shape[axis]!;
      counter[axis] = 0;
    }
  }
  return offsets;
}

/** true when the layout maps element i to offset i (no broadcast, no reduction) */
function isIdentity(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis]! !== 1 && strides[axis]! !== expected) return false;
    expected *= shape[axis]!;
  }
  return true;
}

function offsetsOrNull(shape: readonly number[], strides: readonly number[]): Int32Array | null {
  return isIdentity(shape, strides) ? null : layoutOffsets(shape, strides);
}

export function unaryValue(kind: UnaryKind, x: number, a: number, b: number): number {
  switch (kind) {
    case 'neg': return -x;
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'sqrt': return Math.sqrt(x);
    case 'square': return x * x;
    case 'abs': return Math.abs(x);
    case 'scale': return x * a;
    case 'addScalar': return x + a;
    case 'clip': return x < a ? a : x > b ? b : x;
    case 'expectileWeight': return Math.abs(a - (x < 0 ? 1 : 0));
  }
}

/** d f / d x from the input x and the output y */
export function unaryDerivative(kind: UnaryKind, x: number, y: number, a: number, b: number): number {
  switch (kind) {
    case 'neg': return -1;
    case 'exp': return y;
    case 'log': return 1 / x;
    case 'sqrt': return 0.5 / y;
    case 'square': return 2 * x;
    case 'abs': return Math.sign(x);
    case 'scale': return a;
    case 'addScalar': return 1;
    case 'clip': return x >= a && x <= b ? 1 : 0;
    case 'expectileWeight': return 0;
  }
}

export function binaryValue(kind: BinaryKind, x: number, y: number): number {
  switch (kind) {
    case 'add': return x + y;
    case 'sub': return x - y;
    case 'mul': return x * y;
    case 'div': return x / y;
    case 'minimum': return Math.min(x, y);
    case 'maximum': return Math.max(x, y);
  }
}

/** d(x op y)/dx or /dy; ties of minimum and maximum send the gradient to x */
export function binaryDerivative(kind: BinaryKind, input: 'a' | 'b', x: number, y: number): number {
  const first = input === 'a';
  switch (kind) {
    case 'add': return 1;
    case 'sub': return first ? 1 : -1;
    case 'mul': return first ? y : x;
    case 'div': return first ? 1 / y : -x / (y * y);
    case 'minimum': return (x <= y) === first ? 1 : 0;
    case 'maximum': return (x >= y) === first ? 1 : 0;
  }
}

/** The generic kernels on host arrays, for every CPU backend (HostTensorBackend calls them). */
export const hostGenericKernels: GenericKernels<FloatArray> = {
  fill(x: FloatArray, value: number, n: number): void {
    x.fill(value, 0, n);
  },

  copyBlocks(src: FloatArray, dst: FloatArray, blocks: CopyBlocks, accumulate: boolean): void {
    const { count, width, srcOffset, srcStride, dstOffset, dstStride } = blocks;
    for (let o = 0; o < count; o++) {
      const from = srcOffset + o * srcStride;
      const to = dstOffset + o * dstStride;
      if (!accumulate) dst.set(src.subarray(from, from + width), to);
      else for (let i = 0; i < width; i++) dst[to + i] = dst[to + i]! + src[from + i]!;
    }
  },

  unary(kind: UnaryKind, x: FloatArray, out: FloatArray, n: number, a: number, b: number): void {
    for (let i = 0; i < n; i++) out[i] = unaryValue(kind, x[i]!, a, b);
  },

  unaryBackward(kind: UnaryKind, x: FloatArray, y: FloatArray, gradOut: FloatArray, gradX: FloatArray, n: number, a: number, b: number, accumulate: boolean): void {
    for (let i = 0; i < n; i++) {
      const g = gradOut[i]! * unaryDerivative(kind, x[i]!, y[i]!, a, b);
      gradX[i] = accumulate ? gradX[i]! + g : g;
    }
  },

  binary(kind: BinaryKind, a: FloatArray, b: FloatArray, out: FloatArray, layout: BroadcastLayout): void {
    const aOff = offsetsOrNull(layout.shape, layout.aStrides);
    const bOff = offsetsOrNull(layout.shape, layout.bStrides);
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = binaryValue(kind, a[aOff === null ? i : aOff[i]!]!, b[bOff === null ? i : bOff[i]!]!);
  },

  binaryBackward(
    kind: BinaryKind, a: FloatArray, b: FloatArray, gradOut: FloatArray, gradInput: FloatArray,
    input: 'a' | 'b', layout: BroadcastLayout, accumulate: boolean,
  ): void {
    const aOff = offsetsOrNull(layout.shape, layout.aStrides);
    const bOff = offsetsOrNull(layout.shape, layout.bStrides);
    const targets = input === 'a' ? aOff : bOff;
    if (!accumulate) gradInput.fill(0);
    const n = gradOut.length;
    for (let i = 0; i < n; i++) {
      const x = a[aOff === null ? i : aOff[i]!]!;
      const y = b[bOff === null ? i : bOff[i]!]!;
      const target = targets === null ? i : targets[i]!;
      gradInput[target] = gradInput[target]! + gradOut[i]! * binaryDerivative(kind, input, x, y);
    }
  },

  reduceTo(x: FloatArray, out: FloatArray, layout: ReduceLayout, accumulate: boolean): void {
    const targets = layoutOffsets(layout.shape, layout.strides);
    if (!accumulate) out.fill(0);
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      out[t] = out[t]! + x[i]!;
    }
  },

  expand(x: FloatArray, out: FloatArray, layout: ReduceLayout, accumulate: boolean): void {
    const sources = layoutOffsets(layout.shape, layout.strides);
    for (let i = 0; i < sources.length; i++) {
      const g = x[sources[i]!]!;
      out[i] = accumulate ? out[i]! + g : g;
    }
  },

  mseRows(pred: FloatArray, target: FloatArray, weights: FloatArray | null, out: FloatArray, rows: number, cols: number, normalizer: number): void {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const w = weights === null ? 1 : weights[r]!;
      if (w === 0) continue;
      let rowSum = 0;
      for (let c = 0; c < cols; c++) {
        const d = pred[r * cols + c]! - target[r * cols + c]!;
        rowSum += d * d;
      }
      total += w * rowSum;
    }
    out[0] = normalizer > 0 ? total / normalizer : 0;
  },

  mseRowsBackward(
    pred: FloatArray, target: FloatArray, weights: FloatArray | null, gradOut: FloatArray, gradInput: FloatArray,
    rows: number, cols: number, normalizer: number, sign: 1 | -1, accumulate: boolean,
  ): void {
    const g = normalizer > 0 ? (2 * gradOut[0]!) / normalizer : 0;
    for (let r = 0; r < rows; r++) {
      const w = weights === null ? 1 : weights[r]!;
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const value = sign * g * w * (pred[i]! - target[i]!);
        gradInput[i] = accumulate ? gradInput[i]! + value : value;
      }
    }
  },
};
