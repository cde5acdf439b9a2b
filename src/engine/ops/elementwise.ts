/**
 * Broadcasting arithmetic, unary math and reductions, each one kernel of the backend (the
 * generic kernels of backend.ts) forward and one per input backward.
 */
import { MAX_LAYOUT_RANK, type BinaryKind, type BroadcastLayout, type CopyBlocks, type ReduceLayout, type Storage, type UnaryKind } from '../backend.js';
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

/** row-major strides of `shape`, aligned to the last axes of a rank-`rank` shape; 0 on broadcast (size-1 or missing) axes */
function broadcastStrides(shape: readonly number[], rank: number): number[] {
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[rank - shape.length + i] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i] as number;
  }
  return strides;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkRank(op: string, shape: readonly number[]): void {
  if (shape.length > MAX_LAYOUT_RANK) throw new RangeError(`${op}: shapes of more than ${MAX_LAYOUT_RANK} axes are not supported (got ${formatShape(shape)})`);
}

interface BinaryOp {
  name: string;
  kind: BinaryKind;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const dtype = assertSameDType(op.name, a, b);
  const outShape = broadcastShape(op.name, a.shape, b.shape);
  checkRank(op.name, outShape);
  const out = Tensor.empty(outShape, dtype);
  const layout: BroadcastLayout = { shape: outShape, aStrides: broadcastStrides(a.shape, outShape.length), bStrides: broadcastStrides(b.shape, outShape.length) };
  const k = kernels(dtype);
  k.binary(op.kind, a.storage, b.storage, out.storage, layout);
  return record(op.name, out, [a, b], (grad, sink) => {
    sink(a, (buffer, accumulate) => k.binaryBackward(op.kind, a.storage, b.storage, grad, buffer, 'a', layout, accumulate));
    sink(b, (buffer, accumulate) => k.binaryBackward(op.kind, a.storage, b.storage, grad, buffer, 'b', layout, accumulate));
  });
}

const ADD: BinaryOp = { name: 'add', kind: 'add' };
const SUB: BinaryOp = { name: 'sub', kind: 'sub' };
const MUL: BinaryOp = { name: 'mul', kind: 'mul' };
const DIV: BinaryOp = { name: 'div', kind: 'div' };
// ties send the gradient to the first argument, as torch.minimum's subgradient choice does not matter here
const MIN: BinaryOp = { name: 'minimum', kind: 'minimum' };
const MAX: BinaryOp = { name: 'maximum', kind: 'maximum' };

/** a + b; same-shape float32 additions (residual connections) use the backend kernel */
export function add(a: Tensor, b: Tensor): Tensor {
  if (!sameShape(a.shape, b.shape)) return binary(ADD, a, b);
  const dtype = assertSameDType('add', a, b);
  const out = Tensor.empty(a.shape, dtype);
  const k = kernels(dtype);
  const n = out.size;
  k.add(a.storage, b.storage, out.storage, n);
  return record('add', out, [a, b], (grad, sink) => {
    const pass = (buffer: Storage, accumulate: boolean): void => {
      if (accumulate) k.axpy(1, grad, buffer, n);
      else k.copyBlocks(grad, buffer, wholeArray(n), false);
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

function unary(name: string, kind: UnaryKind, x: Tensor, a = 0, b = 0): Tensor {
  x.assertLive(name);
  const out = Tensor.empty(x.shape, x.dtype);
  const k = kernels(x.dtype);
  const n = x.size;
  k.unary(kind, x.storage, out.storage, n, a, b);
  return record(name, out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => k.unaryBackward(kind, x.storage, out.storage, grad, buffer, n, a, b, accumulate));
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', 'neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', 'exp', x);
export const log = (x: Tensor): Tensor => unary('log', 'log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', 'sqrt', x);
export const square = (x: Tensor): Tensor => unary('square', 'square', x);
export const abs = (x: Tensor): Tensor => unary('abs', 'abs', x);

export function scale(x: Tensor, factor: number): Tensor {
  return unary('scale', 'scale', x, factor);
}

export function addScalar(x: Tensor, value: number): Tensor {
  return unary('addScalar', 'addScalar', x, value);
}

/** clamp to [min, max]; the gradient passes only where the input is inside (as torch.clamp) */
export function clip(x: Tensor, min: number, max: number): Tensor {
  if (!(min <= max)) throw new RangeError(`clip: min ${min} > max ${max}`);
  return unary('clip', 'clip', x, min, max);
}

/** |m - 1[x < 0]|, the expectile loss's weight of each element; a constant (no gradient flows through it) */
export function expectileWeight(x: Tensor, expectile: number): Tensor {
  x.assertLive('expectileWeight');
  const out = Tensor.empty(x.shape, x.dtype);
  kernels(x.dtype).unary('expectileWeight', x.storage, out.storage, x.size, expectile, 0);
  return out;
}

/** one block covering the first n elements, for copyBlocks */
export function wholeArray(n: number): CopyBlocks {
  return { count: 1, width: n, srcOffset: 0, srcStride: n, dstOffset: 0, dstStride: n };
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
  checkRank('sum', x.shape);
  const reduced = new Set(normalizeAxes('sum', x.rank, axes));
  const keptShape = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !reduced.has(i));
  const out = Tensor.empty(outShape, x.dtype);
  // each input element lands at the offset its position has in the reduced shape
  const layout: ReduceLayout = { shape: x.shape, strides: broadcastStrides(keptShape, x.rank) };
  const k = kernels(x.dtype);
  k.reduceTo(x.storage, out.storage, layout, false);
  return record('sum', out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => k.expand(grad, buffer, layout, accumulate));
  });
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const reduced = normalizeAxes('mean', x.rank, axes);
  const count = reduced.reduce((n, a) => n * (x.shape[a] as number), 1);
  return scale(sum(x, axes, keepDims), 1 / count);
}
