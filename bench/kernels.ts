/**
 * Kernel benchmarks at the sizes of the reference workload: a 3-layer GPT with embed 128,
 * batch 64 x 60 tokens (3840 rows), one head of 128; and the QT variant (embed 256, 4 heads
 * of 64, batch 256). GEMM is reported in GFLOP/s with 1 and all threads; the other kernels in
 * ms per call, native against the TypeScript reference where that finishes in reasonable time.
 */
import type { AdamStep, AttentionShape, Backend } from '../src/engine/backend.js';
import { JsBackend } from '../src/engine/backends/js.js';
import { tryNativeBackend, tryWasmBackend } from '../src/engine/backends/index.js';
import type { NativeBackend } from '../src/engine/backends/native.js';
import type { BenchOptions, BenchRow, BenchSection } from './types.js';

const ROWS = 3840;
const EMBED = 128;

function filled(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 4294967296 - 0.5;
  }
  return out;
}

/** mean ms per call over at least `budgetMs` of calls, after one warm-up call */
function msPerCall(call: () => void, budgetMs: number): number {
  call();
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    call();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs);
  return elapsed / calls;
}

interface GemmShape {
  name: string;
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
}

/** forward X W, then dX = dY W^T and dW = X^T dY, for each Linear of a block */
function linearShapes(): GemmShape[] {
  const shapes: GemmShape[] = [];
  for (const [inputs, outputs] of [[EMBED, 3 * EMBED], [EMBED, 4 * EMBED], [4 * EMBED, EMBED]] as const) {
    shapes.push({ name: `[${ROWS}x${inputs}]x[${inputs}x${outputs}]`, transA: false, transB: false, m: ROWS, n: outputs, k: inputs });
    shapes.push({ name: `[${ROWS}x${outputs}]x[${inputs}x${outputs}]^T`, transA: false, transB: true, m: ROWS, n: inputs, k: outputs });
    shapes.push({ name: `[${ROWS}x${inputs}]^Tx[${ROWS}x${outputs}]`, transA: true, transB: false, m: inputs, n: outputs, k: ROWS });
  }
  return shapes;
}

/** the WebAssembly GEMM at the same shapes, on one thread and on all */
function wasmGemmRows(wasm: Backend, budgetMs: number): BenchRow[] {
  const allThreads = wasm.threads();
  const rows = linearShapes().map(({ name, transA, transB, m, n, k }) => {
    const a = filled(m * k, 1);
    const b = filled(k * n, 2);
    const c = new Float32Array(m * n);
    const gflops = (threads: number): number => {
      wasm.setThreads(threads);
      const ms = msPerCall(() => wasm.gemm(transA, transB, m, n, k, 1, a, transA ? m : k, b, transB ? k : n, 0, c, n), budgetMs);
      return (2 * m * n * k) / ms / 1e6;
    };
    const single = gflops(1);
    const multi = allThreads > 1 ? gflops(allThreads) : single;
    return { name: `wasm gemm ${name}`, gflops_1t: single, [`gflops_${allThreads}t`]: multi, speedup: multi / single };
  });
  wasm.setThreads(allThreads);
  return rows;
}

function gemmRows(native: NativeBackend, budgetMs: number): BenchRow[] {
  const allThreads = native.threads();
  const rows: BenchRow[] = [];
  for (const shape of linearShapes()) {
    const { transA, transB, m, n, k } = shape;
    const a = filled(m * k, 1);
    const b = filled(k * n, 2);
    const c = new Float32Array(m * n);
    const lda = transA ? m : k;
    const ldb = transB ? k : n;
    const gflops = (threads: number): number => {
      native.setThreads(threads);
      const ms = msPerCall(() => native.gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, n), budgetMs);
      return (2 * m * n * k) / ms / 1e6;
    };
    const single = gflops(1);
    const multi = gflops(allThreads);
    rows.push({ name: `gemm ${shape.name}`, gflops_1t: single, [`gflops_${allThreads}t`]: multi, speedup: multi / single });
  }
  native.setThreads(allThreads);
  return rows;
}

interface KernelCase {
  name: string;
  /** builds the call for one backend; buffers are made once, outside the timing */
  prepare: (backend: Backend) => () => void;
}

function attentionCase(label: string, shape: AttentionShape, backward: boolean): KernelCase {
  const { batch, tokens, heads, headDim } = shape;
  const width = heads * headDim;
  return {
    name: `attention${backward ? 'Backward' : ''} ${label} B${batch} T${tokens} H${heads} D${headDim}`,
    prepare: (backend) => {
      const qkv = filled(batch * tokens * 3 * width, 3);
      const probs = new Float32Array(batch * heads * tokens * tokens);
      const out = new Float32Array(batch * tokens * width);
      backend.attention(qkv, null, probs, out, shape);
      if (!backward) return () => backend.attention(qkv, null, probs, out, shape);
      const gradOut = filled(out.length, 4);
      const gradQkv = new Float32Array(qkv.length);
      return () => backend.attentionBackward(qkv, probs, gradOut, gradQkv, shape, false);
    },
  };
}

function kernelCases(): KernelCase[] {
  const hidden = ROWS * 4 * EMBED;
  const adamStep: AdamStep = {
    lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, decoupled: true,
    biasCorrection1: 0.1, biasCorrection2: 0.001,
  };
  const parameterCount = 3 * 12 * EMBED * EMBED + 2 * 1024 * EMBED;
  const gpt: AttentionShape = { batch: 64, tokens: 60, heads: 1, headDim: 128, causal: true, dropout: 0.1, seed: 7 };
  const qt: AttentionShape = { batch: 256, tokens: 60, heads: 4, headDim: 64, causal: true, dropout: 0.1, seed: 7 };
  return [
    {
      name: `layerNorm ${ROWS}x${EMBED}`,
      prepare: (backend) => {
        const x = filled(ROWS * EMBED, 5);
        const gamma = filled(EMBED, 6);
        const out = new Float32Array(x.length);
        const mean = new Float32Array(ROWS);
        const rstd = new Float32Array(ROWS);
        return () => backend.layerNorm(x, gamma, gamma, out, mean, rstd, ROWS, EMBED, 1e-5);
      },
    },
    {
      name: `layerNormBackward ${ROWS}x${EMBED}`,
      prepare: (backend) => {
        const x = filled(ROWS * EMBED, 5);
        const gamma = filled(EMBED, 6);
        const out = new Float32Array(x.length);
        const mean = new Float32Array(ROWS);
        const rstd = new Float32Array(ROWS);
        backend.layerNorm(x, gamma, gamma, out, mean, rstd, ROWS, EMBED, 1e-5);
        const gradGamma = new Float32Array(EMBED);
        return () => backend.layerNormBackward(x, gamma, mean, rstd, out, x.slice(), gradGamma, gradGamma, ROWS, EMBED, false);
      },
    },
    ...(['gelu_tanh', 'gelu_erf'] as const).flatMap((kind): KernelCase[] => [
      {
        name: `${kind} ${ROWS}x${4 * EMBED}`,
        prepare: (backend) => {
          const x = filled(hidden, 8);
          const out = new Float32Array(hidden);
          return () => backend.activation(kind, x, out, hidden);
        },
      },
      {
        name: `${kind} backward ${ROWS}x${4 * EMBED}`,
        prepare: (backend) => {
          const x = filled(hidden, 8);
          const gradOut = filled(hidden, 9);
          const gradX = new Float32Array(hidden);
          return () => backend.activationBackward(kind, x, gradOut, gradX, hidden, false);
        },
      },
    ]),
    {
      name: `dropout ${ROWS}x${EMBED}`,
      prepare: (backend) => {
        const x = filled(ROWS * EMBED, 10);
        const out = new Float32Array(x.length);
        return () => backend.dropout(x, out, x.length, 0.1, 123);
      },
    },
    attentionCase('gpt', gpt, false),
    attentionCase('gpt', gpt, true),
    attentionCase('qt', qt, false),
    attentionCase('qt', qt, true),
    {
      name: `adamUpdate ${parameterCount} params`,
      prepare: (backend) => {
        const param = filled(parameterCount, 11);
        const grad = filled(parameterCount, 12);
        const m = new Float32Array(parameterCount);
        const v = new Float32Array(parameterCount);
        return () => backend.adamUpdate(param, grad, m, v, parameterCount, adamStep);
      },
    },
  ];
}

export const run: BenchSection = async (options: BenchOptions) => {
  const native = tryNativeBackend();
  if (native instanceof Error) return [{ name: 'kernels', skipped: `native backend unavailable: ${native.message}` }];
  const budgetMs = options.quick ? 40 : 250;
  const rows: BenchRow[] = [{ name: 'blas', info: native.blasInfo() }];
  rows.push(...gemmRows(native, budgetMs));
  const wasm = tryWasmBackend();
  if (!(wasm instanceof Error)) rows.push(...wasmGemmRows(wasm, budgetMs));
  const js = new JsBackend();
  for (const kernel of kernelCases()) {
    const nativeMs = msPerCall(kernel.prepare(native), budgetMs);
    const jsMs = msPerCall(kernel.prepare(js), budgetMs);
    const row: BenchRow = { name: kernel.name, native_ms: nativeMs, js_ms: jsMs, js_over_native: jsMs / nativeMs };
    if (!(wasm instanceof Error)) {
      row.wasm_ms = msPerCall(kernel.prepare(wasm), budgetMs);
      row.wasm_over_native = row.wasm_ms / nativeMs;
    }
    rows.push(row);
  }
  return rows;
};
