/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian bytes. It stores no code, so a
 * file from anyone is safe to load; PyTorch users read it with safetensors.torch.load_file.
 * Every field is checked on load: a hostile or truncated file gives an error, never a huge allocation.
 */
import type { FloatArray } from '../engine/index.js';

export type StoredDType = 'F32' | 'F64' | 'I32';

export interface StoredTensor {
  dtype: StoredDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<StoredDType, number> = { F32: 4, F64: 8, I32: 4 };
/**
 * Headers beyond this are refused. The reference reader allows 100 MB, but parsing a 99 MB header
 * took 2.1 GB, and a 16 MiB header of small objects still takes about 560 MB to parse. Stitch's
 * largest own header is a checkpoint of the epoch sampler, whose state lists every episode: about
 * 8 bytes per episode, so 16 MiB holds 2M episodes.
 */
export const MAX_HEADER_BYTES = 16 << 20;

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

function dtypeOfArray(data: StoredTensor['data']): StoredDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  return 'I32';
}

export function storedFromFloat(data: FloatArray, shape: readonly number[]): StoredTensor {
  return { dtype: dtypeOfArray(data), shape: [...shape], data };
}

export function encodeSafetensors(tensors: ReadonlyMap<string, StoredTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  // sorted by name, as the reference writer does, so equal contents give equal files
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name) as StoredTensor;
    const bytes = t.data.length * BYTES[t.dtype];
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length) throw new SafetensorsError(`tensor ${name}: shape [${t.shape}] needs ${expected} values, has ${t.data.length}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = JSON.stringify(header);
  // pad with spaces (one byte each) so the data starts 8-byte aligned; TextEncoder, not Buffer, so this runs in a page too
  const unpadded = new TextEncoder().encode(json).length;
  const headerBytes = new TextEncoder().encode(json + ' '.repeat((8 - ((8 + unpadded) % 8)) % 8));
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name) as StoredTensor;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, position);
    position += bytes.length;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The header length from the first 8 bytes, checked against the cap and the file's size. */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8 || first8.length < 8) throw new SafetensorsError(`${source}: too short to be a safetensors file (${fileSize} bytes)`);
  const headerLength = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    throw new SafetensorsError(`${source}: header length ${headerLength} exceeds the file (${fileSize} bytes) or the ${MAX_HEADER_BYTES}-byte limit; the file is truncated or not safetensors`);
  }
  return Number(headerLength);
}

interface TensorEntry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  begin: number;
  end: number;
}

/** What a header declares, every field checked against a data section of `dataLength` bytes. */
export interface SafetensorsHeader {
  metadata: Record<string, string>;
  entries: TensorEntry[];
  /** the end of the last tensor's bytes in the data section: what must be read */
  dataEnd: number;
}

export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number, source: string): SafetensorsHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (error) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isRecord(header)) throw new SafetensorsError(`${source}: header is not a JSON object`);
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(entry)) throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${source}: metadata "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isRecord(entry)) throw new SafetensorsError(`${source}: entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (dtype !== 'F32' && dtype !== 'F64' && dtype !== 'I32') {
      throw new SafetensorsError(`${source}: tensor "${name}" has dtype ${JSON.stringify(dtype)}; Stitch reads F32, F64 and I32`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${source}: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`${source}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLength) {
      throw new SafetensorsError(`${source}: tensor "${name}" spans bytes [${begin}, ${end}) but the data section has ${dataLength}; the file is truncated or corrupt`);
    }
    if ((end - begin) !== count * BYTES[dtype]) {
      throw new SafetensorsError(`${source}: tensor "${name}" of shape [${shape}] needs ${count * BYTES[dtype]} bytes, has ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const ranges = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < ranges.length; i++) {
    const previous = ranges[i - 1] as TensorEntry;
    const current = ranges[i] as TensorEntry;
    if (current.begin < previous.end) throw new SafetensorsError(`${source}: tensors "${previous.name}" and "${current.name}" overlap`);
  }
  return { metadata, entries, dataEnd: ranges.reduce((most, entry) => Math.max(most, entry.end), 0) };
}

/** The tensors of a checked header from its data section (at least `header.dataEnd` bytes). */
export function extractTensors(header: SafetensorsHeader, data: Uint8Array): SafetensorsFile {
  const tensors = new Map<string, StoredTensor>();
  for (const { name, dtype, shape, begin, end } of header.entries) {
    // an explicit copy: Buffer#slice returns a view whose .buffer is the whole file
    const copy = new Uint8Array(end - begin);
    copy.set(data.subarray(begin, end));
    const values = dtype === 'F32' ? new Float32Array(copy.buffer) : dtype === 'F64' ? new Float64Array(copy.buffer) : new Int32Array(copy.buffer);
    tensors.set(name, { dtype, shape, data: values });
  }
  return { tensors, metadata: header.metadata };
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const headerLength = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, source);
  const dataStart = 8 + headerLength;
  const header = parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, source);
  return extractTensors(header, bytes.subarray(dataStart));
}
