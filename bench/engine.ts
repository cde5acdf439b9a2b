/**
 * DT-step and QT-step: our training step against PyTorch's, measured in the same run.
 * Each side runs in its own process so peak RSS is per workload.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchRow } from './types.js';
import { flopsPerStep, WORKLOADS } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const TORCH_PYTHON = '/usr/bin/python3';

interface WorkerResult {
  name: string;
  backend: string;
  threads: number;
  ms_per_step: number;
  peak_rss_mb: number;
  gemm_ceiling_gflops: number;
  /** webgpu only */
  adapter?: string;
  dispatches_per_step?: number;
  peak_device_mb?: number;
}

interface TorchResult {
  torch_ms_per_step: number;
  torch_peak_rss_mb: number;
  torch_threads: number;
  torch_version: string;
  /** the OpenBLAS core type PyTorch ran with (CPU only; null: auto-detected) */
  openblas_coretype?: string | null;
  /** --device cuda only */
  torch_device?: string;
  torch_peak_device_mb?: number;
  cuda_version?: string;
}

function cudaAvailable(): boolean {
  return spawnSync(TORCH_PYTHON, ['-c', 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'], { stdio: 'ignore' }).status === 0;
}

function lastJsonLine<T>(output: string): T | null {
  const line = output.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  return line === undefined ? null : (JSON.parse(line) as T);
}

function torchAvailable(): boolean {
  if (!existsSync(TORCH_PYTHON)) return false;
  return spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

function runTorch(name: string, steps: number, device: 'cpu' | 'cuda' = 'cpu'): TorchResult | null {
  const script = join(repo, 'scripts', 'torch_bench.py');
  if (!existsSync(script)) return null;
  const result = spawnSync(TORCH_PYTHON, [script, '--only', name, '--steps', String(steps), '--device', device], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (result.status !== 0) {
    console.error(`torch reference failed for ${name}: ${result.stderr.trim().split('\n').pop() ?? ''}`);
    return null;
  }
  return lastJsonLine<TorchResult>(result.stdout);
}

/** the wasm backend as it was before tensors lived in the module's memory and products fused their multiply-adds */
const WASM_COPYING_PLAIN = { STITCH_WASM_RESIDENT: '0', STITCH_WASM_RELAXED: '0' };

function runWorker(name: string, steps: number, backendName: string | undefined, threads?: number, extraEnv: Record<string, string> = {}): WorkerResult {
  const env = { ...process.env, ...extraEnv };
  if (backendName !== undefined) env.STITCH_BACKEND = backendName;
  if (threads !== undefined) env.STITCH_THREADS = String(threads);
  const worker = spawnSync(process.execPath, [join(here, 'engine-worker.js'), name, String(steps)], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  const ours = lastJsonLine<WorkerResult>(worker.stdout);
  if (worker.status !== 0 || ours === null) throw new Error(`engine worker failed for ${name} (${backendName ?? 'default backend'}): ${worker.stderr}`);
  return ours;
}

/**
 * --backend webgpu: each workload on the GPU (throughput of back-to-back steps, the device
 * drained at the end), with its dispatches per step and the device memory the runtime holds, next
 * to the default CPU backend and to PyTorch eager on CUDA when it is there (else on the CPU).
 */
function runWebGpu(options: BenchOptions): BenchRow[] {
  const steps = options.quick ? 10 : 30;
  const torchDevice = !options.noTorch && torchAvailable() ? (cudaAvailable() ? 'cuda' : 'cpu') : null;
  const rows: BenchRow[] = [];
  for (const workload of WORKLOADS) {
    const gpu = runWorker(workload.name, steps, 'webgpu');
    const cpu = runWorker(workload.name, steps, undefined);
    const flops = flopsPerStep(workload);
    const row: BenchRow = {
      name: workload.name,
      backend: gpu.backend,
      adapter: gpu.adapter ?? null,
      ms_per_step: gpu.ms_per_step,
      steps_per_s: 1000 / gpu.ms_per_step,
      achieved_tflops: flops / (gpu.ms_per_step * 1e9),
      gemm_ceiling_gflops: gpu.gemm_ceiling_gflops,
      dispatches_per_step: gpu.dispatches_per_step ?? null,
      peak_device_mb: gpu.peak_device_mb ?? null,
      [`${cpu.backend}_ms_per_step`]: cpu.ms_per_step,
      [`over_${cpu.backend}`]: gpu.ms_per_step / cpu.ms_per_step,
    };
    const torch = torchDevice === null ? null : runTorch(workload.name, steps, torchDevice);
    if (torch !== null) {
      row.torch_device = torch.torch_device ?? 'cpu';
      row.torch_ms_per_step = torch.torch_ms_per_step;
      if (torch.torch_peak_device_mb !== undefined) row.torch_peak_device_mb = torch.torch_peak_device_mb;
      row.torch_version = torch.torch_version;
      row.ratio = gpu.ms_per_step / torch.torch_ms_per_step;
    }
    rows.push(row);
  }
  return rows;
}

export async function run(options: BenchOptions): Promise<BenchRow[]> {
  if (options.backend === 'webgpu') return runWebGpu(options);
  const steps = options.quick ? 10 : 30;
  const withTorch = !options.noTorch && torchAvailable();
  const rows: BenchRow[] = [];
  for (const workload of WORKLOADS) {
    const ours = runWorker(workload.name, steps, undefined);
    // the WebAssembly kernels on the same workload, next to the default (native) backend: on all
    // cores, and on one when there are more
    const wasm = ours.backend === 'wasm' ? ours : runWorker(workload.name, steps, 'wasm');
    const wasmRuns: Array<{ result: WorkerResult; variant: string }> = [{ result: wasm, variant: '' }];
    if (wasm.threads > 1) wasmRuns.push({ result: runWorker(workload.name, steps, 'wasm', 1), variant: '' });
    // the same-run reference for what module-memory tensors and relaxed SIMD bring
    wasmRuns.push({ result: runWorker(workload.name, steps, 'wasm', wasm.threads, WASM_COPYING_PLAIN), variant: ' copying plain-simd' });
    const flops = flopsPerStep(workload);
    const row: BenchRow = {
      name: workload.name,
      backend: ours.backend,
      threads: ours.threads,
      ms_per_step: ours.ms_per_step,
      steps_per_s: 1000 / ours.ms_per_step,
      peak_rss_mb: ours.peak_rss_mb,
      gflop_per_step: flops / 1e9,
      achieved_gflops: flops / (ours.ms_per_step * 1e6),
      gemm_ceiling_gflops: ours.gemm_ceiling_gflops,
    };
    const torch = withTorch ? runTorch(workload.name, steps) : null;
    if (torch !== null) {
      row.torch_ms_per_step = torch.torch_ms_per_step;
      row.torch_peak_rss_mb = torch.torch_peak_rss_mb;
      row.torch_threads = torch.torch_threads;
      row.torch_openblas_coretype = torch.openblas_coretype ?? 'auto';
      row.ratio = ours.ms_per_step / torch.torch_ms_per_step;
      row.rss_ratio = ours.peak_rss_mb / torch.torch_peak_rss_mb;
    }
    rows.push(row);
    for (const { result: wasm, variant } of wasmRuns) {
      if (wasm === ours) continue;
      const wasmRow: BenchRow = {
        name: `${workload.name} wasm ${wasm.threads}t${variant}`,
        backend: wasm.backend,
        threads: wasm.threads,
        ms_per_step: wasm.ms_per_step,
        steps_per_s: 1000 / wasm.ms_per_step,
        peak_rss_mb: wasm.peak_rss_mb,
        achieved_gflops: flops / (wasm.ms_per_step * 1e6),
        gemm_ceiling_gflops: wasm.gemm_ceiling_gflops,
        [`over_${ours.backend}`]: wasm.ms_per_step / ours.ms_per_step,
      };
      if (torch !== null) wasmRow.ratio = wasm.ms_per_step / torch.torch_ms_per_step;
      rows.push(wasmRow);
    }
  }
  return rows;
}
