#!/usr/bin/env python3
"""Times one Decision Transformer training step in PyTorch, the reference side of Stitch's benchmark.

    /usr/bin/python3 scripts/torch_bench.py [--steps 30] [--only dt-step] [--threads 2] [--device cuda]

A step is what Stitch's trainer does per gradient step: zero_grad, forward, loss, backward,
clip_grad_norm_(0.25), AdamW step. The batch is drawn once and reused, so data sampling is not
timed. Prints one JSON line per workload. Each workload runs in its own process (the script
re-invokes itself with --only) so that peak RSS is that workload's alone.

Settings are PyTorch's best on a CPU, as measured for the comparison: torch.set_num_threads(N)
for its OpenMP pool, OpenBLAS single-threaded (Debian's OpenBLAS is the pthreads build, whose own
threads would fight the OpenMP pool), and OPENBLAS_CORETYPE as the native backend picks it
(SkylakeX on AVX-512 CPUs, Haswell on AVX2 ones). Variables
already set in the environment are left alone.

With --device cuda the model, batch and optimizer live on the GPU (PyTorch eager, fp32, the
default TF32 setting of matrix products left off so the arithmetic matches Stitch's f32), each
timed step ends with torch.cuda.synchronize(), and peak memory is torch.cuda.max_memory_allocated.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

WORKLOADS = {
    "dt-step": dict(width=128, layers=3, heads=1, mlp_width=512, batch=64),
    "qt-step": dict(width=256, layers=4, heads=4, mlp_width=1024, batch=256),
}
# shared by both workloads: hopper-sized states/actions, K = 20 (60 tokens), DT's dropout and table
COMMON = dict(state_dim=17, act_dim=6, context=20, activation="gelu_tanh", max_timestep=1000, dropout=0.1)
WARMUP_STEPS = 5


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_core_type(flags):
    """The core type the native backend picks (chooseOpenBlasCoreType in src/engine/backends/native.ts):
    OpenBLAS 0.3.21 mis-detects some AVX-512 CPUs, and on AVX2 ones its Haswell kernels beat the
    auto-detected ones (DT-step 374 vs 428 ms measured on one), so PyTorch runs at its best too."""
    if {"avx512f", "avx512bw", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def configure_openblas():
    """Must run before torch is imported: OpenBLAS reads these when the library loads."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    core = openblas_core_type(cpu_flags())
    if core is not None:
        os.environ.setdefault("OPENBLAS_CORETYPE", core)


def bench_workload(name, steps, threads, device="cpu"):
    configure_openblas()
    import torch

    cuda = device == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_reference import CLIP_NORM, DecisionTransformer, DtConfig, make_optimizer, random_batch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = dict(WORKLOADS[name])
    batch_size = spec.pop("batch")
    cfg = DtConfig(**COMMON, **spec)
    model = DecisionTransformer(cfg).to(device).train()
    optimizer = make_optimizer(model)
    params = list(model.parameters())
    batch = {key: value.to(device) for key, value in random_batch(cfg, batch_size, torch.Generator().manual_seed(0)).items()}
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def step():
        optimizer.zero_grad()
        loss, _ = model.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
        optimizer.step()

    for _ in range(WARMUP_STEPS):
        step()
    sync()
    times_ms = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times_ms.append((time.perf_counter() - start) * 1000)
    extra = {}
    if cuda:
        extra = {
            "torch_device": torch.cuda.get_device_name(0),
            "torch_peak_device_mb": round(torch.cuda.max_memory_allocated() / 1048576, 1),
            "cuda_version": torch.version.cuda,
        }
    return {**extra,
        "name": name,
        "torch_ms_per_step": round(statistics.median(times_ms), 3),
        "torch_ms_min": round(min(times_ms), 3),
        # ru_maxrss is in KiB on Linux
        "torch_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "steps": steps,
        "batch": batch_size,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help=f"timed steps, after {WARMUP_STEPS} warm-up steps")
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="run one workload in this process")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch.set_num_threads")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the model trains")
    args = parser.parse_args()
    if args.steps < 1 or args.threads < 1:
        parser.error("--steps and --threads must be at least 1")
    if args.only is not None:
        print(json.dumps(bench_workload(args.only, args.steps, args.threads, args.device)), flush=True)
        return
    for name in WORKLOADS:
        # a fresh interpreter per workload, so ru_maxrss is that workload's peak
        subprocess.run([sys.executable, os.path.abspath(__file__), "--only", name,
                        "--steps", str(args.steps), "--threads", str(args.threads), "--device", args.device], check=True)


if __name__ == "__main__":
    main()
