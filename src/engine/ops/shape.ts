/** Reshape (a view), slicing and joining along an axis, and embedding lookups. */
import { assertSameDType, formatShape, hostIndices, record, shapeSize, Tensor } from '../tensor.js';
import { wholeArray } from './elementwise.js';
import { kernels } from './kernels.js';

function resolveAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Same values, new shape (one dimension may be -1). Shares the buffer; the gradient passes through. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.assertLive('reshape');
  const unknown = shape.indexOf(-1);
  let resolved = [...shape];
  if (unknown >= 0) {
    const known = shape.reduce((n, d, i) => (i === unknown ? n : n * d), 1);
    if (known === 0 || x.size % known !== 0) throw new RangeError(`reshape: cannot reshape ${formatShape(x.shape)} to ${formatShape(shape)}`);
    resolved = shape.map((d, i) => (i === unknown ? x.size / known : d));
  }
  if (shapeSize(resolved) !== x.size) throw new RangeError(`reshape: cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`);
  const out = new Tensor(x.storage, resolved, { borrowsData: true });
  const k = kernels(x.dtype);
  return record('reshape', out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => k.copyBlocks(grad, buffer, wholeArray(x.size), accumulate));
  });
}

/** Elements [start, end) of one axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  x.assertLive('slice');
  const a = resolveAxis('slice', axis, x.rank);
  const dim = x.shape[a] as number;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dim || start > end) {
    throw new RangeError(`slice: [${start}, ${end}) out of range for axis ${a} of ${formatShape(x.shape)}`);
  }
  const inner = shapeSize(x.shape.slice(a + 1));
  const outer = shapeSize(x.shape.slice(0, a));
  const width = (end - start) * inner;
  const out = Tensor.empty(x.shape.map((d, i) => (i === a ? end - start : d)), x.dtype);
  const k = kernels(x.dtype);
  k.copyBlocks(x.storage, out.storage, { count: outer, width, srcOffset: start * inner, srcStride: dim * inner, dstOffset: 0, dstStride: width }, false);
  return record('slice', out, [x], (grad, sink) => {
    sink(x, (buffer, accumulate) => {
      if (!accumulate) k.fill(buffer, 0, x.size);
      k.copyBlocks(grad, buffer, { count: outer, width, srcOffset: 0, srcStride: width, dstOffset: start * inner, dstStride: dim * inner }, true);
    });
  });
}

/** Join tensors along an existing axis (all other dimensions equal). */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new RangeError('concat: no tensors');
  const first = tensors[0] as Tensor;
  const dtype = assertSameDType('concat', ...tensors);
  const a = resolveAxis('concat', axis, first.rank);
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new RangeError(`concat: shapes ${tensors.map((x) => formatShape(x.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const inner = shapeSize(first.shape.slice(a + 1));
  const outer = shapeSize(first.shape.slice(0, a));
  const widths = tensors.map((t) => (t.shape[a] as number) * inner);
  const rowWidth = widths.reduce((s, w) => s + w, 0);
  const out = Tensor.empty(first.shape.map((d, i) => (i === a ? rowWidth / inner : d)), dtype);
  const k = kernels(dtype);
  let column = 0;
  tensors.forEach((t, index) => {
    const width = widths[index] as number;
    k.copyBlocks(t.storage, out.storage, { count: outer, width, srcOffset: 0, srcStride: width, dstOffset: column, dstStride: rowWidth }, false);
    column += width;
  });
  return record('concat', out, [...tensors], (grad, sink) => {
    let offset = 0;
    tensors.forEach((t, index) => {
      const width = widths[index] as number;
      const start = offset;
      sink(t, (buffer, accumulate) => {
        k.copyBlocks(grad, buffer, { count: outer, width, srcOffset: start, srcStride: rowWidth, dstOffset: 0, dstStride: width }, accumulate);
      });
      offset += width;
    });
  });
}

/** Join tensors of one shape along a new axis: stack([r, s, a], 2) on [B, K, h] gives [B, K, 3, h]. */
export function stack(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new RangeError('stack: no tensors');
  const shape = (tensors[0] as Tensor).shape;
  const a = resolveAxis('stack', axis, shape.length + 1);
  const expanded = [...shape.slice(0, a), 1, ...shape.slice(a)];
  for (const t of tensors) {
    if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new RangeError(`stack: shapes differ: ${tensors.map((x) => formatShape(x.shape)).join(', ')}`);
    }
  }
  return concat(tensors.map((t) => reshape(t, expanded)), a);
}

/** One index of an axis, removing that axis: select(x [B, K, 3, h], 2, 1) gives [B, K, h]. */
export function select(x: Tensor, axis: number, index: number): Tensor {
  const a = resolveAxis('select', axis, x.rank);
  return reshape(slice(x, a, index, index + 1), x.shape.filter((_, i) => i !== a));
}

/** Rows of `table` [V, H] at `indices`, shaped [...indexShape, H]. */
export function embedding(table: Tensor, indices: Int32Array, indexShape: readonly number[] = [indices.length]): Tensor {
  table.assertLive('embedding');
  if (table.rank !== 2) throw new RangeError(`embedding: table must be [V, H], got ${formatShape(table.shape)}`);
  const [rows, width] = table.shape as [number, number];
  if (shapeSize(indexShape) !== indices.length) throw new RangeError(`embedding: ${indices.length} indices for shape ${formatShape(indexShape)}`);
  for (let i = 0; i < indices.length; i++) {
    const id = indices[i] as number;
    if (id < 0 || id >= rows) throw new RangeError(`embedding: index ${id} at position ${i} is outside the table of ${rows} rows`);
  }
  const out = Tensor.empty([...indexShape, width], table.dtype);
  const k = kernels(table.dtype);
  const index = hostIndices(table.dtype, indices);
  k.gatherRows(table.storage, index, out.storage, width);
  return record('embedding', out, [table], (grad, sink) => {
    sink(table, (buffer, accumulate) => {
      if (!accumulate) k.fill(buffer, 0, table.size);
      k.scatterAddRows(grad, index, buffer, width);
    });
  });
}
