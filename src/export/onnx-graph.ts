/**
 * A small builder of ONNX graphs: named constants (initializers), nodes with generated output
 * names, and the standard ops a trajectory transformer needs, each written as the ONNX operator
 * (opset 20) that computes what the engine's op computes.
 */
import type { Activation } from '../engine/index.js';
import {
  OnnxAttributeType, OnnxDataType, type OnnxAttribute, type OnnxDimension, type OnnxElementType, type OnnxNode,
  type OnnxTensor, type OnnxValueInfo,
} from './onnx-proto.js';

export const ONNX_OPSET = 20;
/** the IR version that opset 20 requires */
export const ONNX_IR_VERSION = 9;

type AttributeValue = number | string | number[] | { float: number };

function attribute(name: string, value: AttributeValue): OnnxAttribute {
  if (typeof value === 'string') return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: OnnxAttributeType.INTS, ints: value };
  if (typeof value === 'number') return { name, type: OnnxAttributeType.INT, i: value };
  return { name, type: OnnxAttributeType.FLOAT, f: value.float };
}

export function valueInfo(name: string, elementType: OnnxElementType, dims: readonly OnnxDimension[], doc: string): OnnxValueInfo {
  return {
    name,
    doc_string: doc,
    type: { tensor_type: { elem_type: elementType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly used = new Set<string>();

  private fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** a float32 constant */
  floats(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    const values = Float32Array.from(data);
    if (values.length !== dims.reduce((n, d) => n * d, 1)) throw new RangeError(`constant ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
    const unique = this.fresh(name);
    this.initializers.push({ name: unique, dims: [...dims], data_type: OnnxDataType.FLOAT, raw_data: littleEndianBytes(values) });
    return unique;
  }

  /** an int64 constant */
  int64s(name: string, dims: readonly number[], data: readonly number[]): string {
    const values = BigInt64Array.from(data, (v) => BigInt(v));
    const unique = this.fresh(name);
    this.initializers.push({ name: unique, dims: [...dims], data_type: OnnxDataType.INT64, raw_data: littleEndianBytes(values) });
    return unique;
  }

  node(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    const output = outputName ?? this.fresh(`${opType.toLowerCase()}`);
    if (outputName !== undefined) this.used.add(outputName);
    this.nodes.push({
      input: [...inputs], output: [output], name: `${opType}_${this.nodes.length}`, op_type: opType,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return output;
  }

  /** x W^T + b for the engine's Linear weight [out, in] (stored transposed, [in, out], for MatMul) */
  linear(x: string, name: string, weight: ArrayLike<number>, outFeatures: number, inFeatures: number, bias: ArrayLike<number> | null): string {
    const transposed = new Float32Array(inFeatures * outFeatures);
    for (let o = 0; o < outFeatures; o++) for (let i = 0; i < inFeatures; i++) transposed[i * outFeatures + o] = weight[o * inFeatures + i] as number;
    const product = this.node('MatMul', [x, this.floats(`${name}.weight_t`, [inFeatures, outFeatures], transposed)]);
    return bias === null ? product : this.node('Add', [product, this.floats(`${name}.bias`, [outFeatures], bias)]);
  }

  layerNorm(x: string, name: string, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): string {
    const width = gamma.length;
    return this.node('LayerNormalization', [x, this.floats(`${name}.weight`, [width], gamma), this.floats(`${name}.bias`, [width], beta)], { axis: -1, epsilon: { float: eps } });
  }

  activation(x: string, kind: Activation): string {
    switch (kind) {
      case 'relu': return this.node('Relu', [x]);
      case 'tanh': return this.node('Tanh', [x]);
      case 'gelu_erf': return this.node('Gelu', [x], { approximate: 'none' });
      case 'gelu_tanh': return this.node('Gelu', [x], { approximate: 'tanh' });
      case 'mish': return this.node('Mish', [x]);
    }
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.node('Reshape', [x, this.int64s('shape', [shape.length], shape)]);
  }
}

function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(values.byteLength);
  const view = new DataView(bytes.buffer);
  if (values instanceof Float32Array) values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else values.forEach((v, i) => view.setBigInt64(8 * i, v, true));
  return bytes;
}
