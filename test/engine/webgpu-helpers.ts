/** Shared by the WebGPU tests: the test device, random data and tolerance checks. */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { backend, setBackend, type TensorBackend } from '../../src/engine/index.js';
import { WebGpuBackend } from '../../src/engine/backends/webgpu.js';
import { createNodeWebGpuBackend } from '../../src/engine/backends/webgpu-node.js';
import { seededRandom } from '../helpers/random.js';

/**
 * Node's WebGPU backend (Dawn; SwiftShader on a machine without a GPU), or why there is none as a
 * `skip` reason for node:test. With STITCH_REQUIRE_WEBGPU=1 a missing device throws instead, so CI
 * that has one cannot pass by skipping.
 */
export async function testWebGpu(): Promise<{ gpu: WebGpuBackend; skip: false } | { gpu: null; skip: string }> {
  const created = await createNodeWebGpuBackend();
  if (created instanceof WebGpuBackend) return { gpu: created, skip: false };
  const skip = `no WebGPU device: ${created.reason}`;
  if (process.env.STITCH_REQUIRE_WEBGPU === '1') throw new Error(`STITCH_REQUIRE_WEBGPU=1 but ${skip}`);
  return { gpu: null, skip };
}

/** mulberry32 (test/helpers/random.ts): failures reproduce */
export const randomSource = seededRandom;

/**
 * Call inside a describe: `device` is the active backend from before the suite's first test until
 * after its last, then the one it replaced is active again. Returns that replaced backend (known
 * once the suite runs), for tests that compare with it.
 */
export function activeDuringSuite(device: TensorBackend): () => TensorBackend {
  let previous: TensorBackend | undefined;
  before(() => {
    previous = backend();
    setBackend(device);
  });
  after(() => {
    if (previous !== undefined) setBackend(previous);
  });
  return () => {
    assert.ok(previous !== undefined, 'the suite has not started');
    return previous;
  };
}

/** n float32 values uniform in [-scale, scale) */
export function randomArray(random: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

export function toFloat64(data: Float32Array): Float64Array {
  return Float64Array.from(data);
}

/**
 * Fails with the worst element when |actual - expected| > atol + rtol * |expected| anywhere
 * (or, when `bound` is given, > bound[i]).
 */
export function assertClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: { rtol: number; atol: number; bound?: ArrayLike<number> }, label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const allowed = tolerance.bound !== undefined ? (tolerance.bound[i] as number) : tolerance.atol + tolerance.rtol * Math.abs(e);
    const error = Math.abs(a - e);
    if (!(error <= allowed) && (worst < 0 || error - allowed > worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(error) ? Infinity : error - allowed;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (tolerance exceeded by ${worstExcess})`);
  }
}
