/**
 * Broadcasting arithmetic, unary math and reductions. Generic TypeScript: these serve losses and
 * small tensors; large same-shape additions go through the backend.
 */
import type { FloatArray } from '../backend.js';
import { assertSameDType, formatShape, record, Tensor } from '../tensor.js';
import { kernels } from './kernels.js';

export function broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For every element of `outShape`, the offset of the corresponding (broadcast) element of `shape`. */
function broadcastOffsets(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = rank - shape.length + i;
    strides[axis] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i] as number;
  }
  let total = 1;
  for (const d of outShape) total *= d;
  const offsets = new Int32Array(total);
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < total; i++) {
    offsets[i] = offset;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis] = (counter[axis] as number) + 1;
      offset += strides[axis] as number;
      if ((counter[axis] as number) < (outShape[axis] as number)) break;
      offset -= (strides[axis] as number) * (outShape[axis] as number);
      counter[axis] = 0;
    }
  }
  return offsets;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

type Binary = (x: number, y: number) => number;

interface BinaryOp {
  name: string;
  value: Binary;
  /** d(value)/dx and d(value)/dy */
  dx: Binary;
  dy: Binary;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const dtype = assertSameDType(op.name, a, b);
  const outShape = broadcastShape(op.name, a.shape, b.shape);
  const out = Tensor.empty(outShape, dtype);
  const n = out.size;
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  const direct = sameShape(a.shape, outShape) && sameShape(b.shape, outShape);
  const aOff = direct ? null : broadcastOffsets(a.shape, outShape);
  const bOff = direct ? null : broadcastOffsets(b.shape, outShape);
  if (aOff === null || bOff === null) for (let i = 0; i < n; i++) od[i] = op.value(ad[i] as number, bd[i] as number);
  else for (let i = 0; i < n; i++) od[i] = op.value(ad[aOff[i] as number] as number, bd[bOff[i] as number] as number);

  return record(op.name, out, [a, b], (grad, sink) => {
    const propagate = (input: Tensor, offsets: Int32Array | null, derivative: Binary): void => {
      sink(input, (buffer, accumulate) => {
        if (!accumulate) buffer.fill(0);
        for (let i = 0; i < n; i++) {
          const ia = aOff === null ? i : (aOff[i] as number);
          const ib = bOff === null ? i : (bOff[i] as number);
          const target = offsets === null ? i : (offsets[i] as number);
          buffer[target] = (buffer[target] as number) + (grad[i] as number) * derivative(ad[ia] as number, bd[ib] as number);
        }
      });
    };
    propagate(a, aOff, op.dx);
    propagate(b, bOff, op.dy);
  });
}

const ADD: BinaryOp = { name: 'add', value: (x, y) => x + y, dx: () => 1, dy: () => 1 };
const SUB: BinaryOp = { name: 'sub', value: (x, y) => x - y, dx: () => 1, dy: () => -1 };
const MUL: BinaryOp = { name: 'mul', value: (x, y) => x * y, dx: (_x, y) => y, dy: (x) => x };
const DIV: BinaryOp = { name: 'div', value: (x, y) => x / y, dx: (_x, y) => 1 / y, dy: (x, y) => -x / (y * y) };
// ties send the gradient to the first argument, as torch.minimum's subgradient choice does not matter here
const MIN: BinaryOp = { name: 'minimum', value: (x, y) => Math.min(x, y), dx: (x, y) => (x <= y ? 1 : 0), dy: (x, y) => (x <= y ? 0 : 1) };
const MAX: BinaryOp = { name: 'maximum', value: (x, y) => Math.max(x, y), dx: (x, y) => (x >= y ? 1 : 0), dy: (x, y) => (x >= y ? 0 : 1) };

/** a + b; same-shape float32 additions (residual connections) use the backend kernel */
export function add(a: Tensor, b: Tensor): Tensor {
  if (!sameShape(a.shape, b.shape)) return binary(ADD, a, b);
  const dtype = assertSameDType('add', a, b);
  const out = Tensor.empty(a.shape, dtype);
  const k = kernels(dtype);
  k.add(a.data, b.data, out.data, out.size);
  return record('add', out, [a, b], (grad, sink) => {
    const pass = (buffer: FloatArray, accumulate: boolean): void => {
      if (accumulate) k.axpy(1, grad, buffer, grad.length);
      else buffer.set(grad);
    };
    sink(a, pass);
    sink(b, pass);
  });
}

export const sub = (a: Tensor, b: Tensor): Tensor => binary(SUB, a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary(MUL, a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary(DIV, a, b);
export const minimum = (a: Tensor, b: Tensor): Tensor => binary(MIN, a, b);
export const maximum = (a: Tensor, b: Tensor): Tensor => binary(MAX, a, b);

interface UnaryOp {
  name: string;
  value: (x: number) => number;
  /** derivative from the input and the output value */
  derivative: (x: number, y: number) => number;
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  x.assertLive(op.name);
  const out = Tensor.empty(x.shape, x.dtype);
  const xd = x.data;
  const od = out.data;
  for (let i = 0; i < x.size; i++) od[i] = op.value(xd[i] as number);
  return record(op.name, out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => {
      for (let i = 0; i < grad.length; i++) {
        const g = (grad[i] as number) * op.derivative(xd[i] as number, od[i] as number);
        buffer[i] = accumulate ? (buffer[i] as number) + g : g;
      }
    });
  });
}

export const neg = (x: Tensor): Tensor => unary({ name: 'neg', value: (v) => -v, derivative: () => -1 }, x);
export const exp = (x: Tensor): Tensor => unary({ name: 'exp', value: Math.exp, derivative: (_v, y) => y }, x);
export const log = (x: Tensor): Tensor => unary({ name: 'log', value: Math.log, derivative: (v) => 1 / v }, x);
export const sqrt = (x: Tensor): Tensor => unary({ name: 'sqrt', value: Math.sqrt, derivative: (_v, y) => 0.5 / y }, x);
export const square = (x: Tensor): Tensor => unary({ name: 'square', value: (v) => v * v, derivative: (v) => 2 * v }, x);
export const abs = (x: Tensor): Tensor => unary({ name: 'abs', value: Math.abs, derivative: (v) => Math.sign(v) }, x);

export function scale(x: Tensor, factor: number): Tensor {
  return unary({ name: 'scale', value: (v) => v * factor, derivative: () => factor }, x);
}

export function addScalar(x: Tensor, value: number): Tensor {
  return unary({ name: 'addScalar', value: (v) => v + value, derivative: () => 1 }, x);
}

/** clamp to [min, max]; the gradient passes only where the input is inside (as torch.clamp) */
export function clip(x: Tensor, min: number, max: number): Tensor {
  if (!(min <= max)) throw new RangeError(`clip: min ${min} > max ${max}`);
  return unary({
    name: 'clip',
    value: (v) => (v < min ? min : v > max ? max : v),
    derivative: (v) => (v >= min && v <= max ? 1 : 0),
  }, x);
}

function normalizeAxes(op: string, rank: number, axes: number | readonly number[] | undefined): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((axis) => {
    const a = axis < 0 ? axis + rank : axis;
    if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} out of range for rank ${rank}`);
    return a;
  });
}

/** sum over the given axes (all when omitted) */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  x.assertLive('sum');
  const reduced = new Set(normalizeAxes('sum', x.rank, axes));
  const keptShape = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !reduced.has(i));
  const out = Tensor.zeros(outShape, x.dtype);
  // each input element lands at the offset its position has in the reduced shape
  const targets = broadcastOffsets(keptShape, x.shape);
  const xd = x.data;
  const od = out.data;
  for (let i = 0; i < x.size; i++) {
    const t = targets[i] as number;
    od[t] = (od[t] as number) + (xd[i] as number);
  }
  return record('sum', out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => {
      for (let i = 0; i < buffer.length; i++) {
        const g = grad[targets[i] as number] as number;
        buffer[i] = accumulate ? (buffer[i] as number) + g : g;
      }
    });
  });
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const reduced = normalizeAxes('mean', x.rank, axes);
  const count = reduced.reduce((n, a) => n * (x.shape[a] as number), 1);
  return scale(sum(x, axes, keepDims), 1 / count);
}
