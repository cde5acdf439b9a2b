#!/usr/bin/env bash
# On the lent GPU machine (see prepare.sh): the webgpu DT-step and QT-step against PyTorch eager
# on CUDA, then Reinformer on maze2d-umaze at the reference size for as long as the time allows
# (its steps/s gives the 50k-step wall time). What it reports lands in $OUT.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
mkdir -p /tmp/device && xz -dc .device/payload.tar.xz | tar -C /tmp/device -xf -
xz -dc .device/node.xz > /tmp/device/node && chmod +x /tmp/device/node
export STITCH_WASM_MODULE=/tmp/device/stitch.wasm
node=/tmp/device/node
out="${OUT:-/tmp/out}"; mkdir -p "$out"
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; $node --version
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'; } 2>&1 | tee "$out/versions.txt"
$node /tmp/device/stitch.mjs info 2>&1 | tee "$out/info.txt"
for w in dt-step qt-step; do
  STITCH_BACKEND=webgpu timeout 120 $node /tmp/device/engine-worker.mjs "$w" 30 2>&1 | tee "$out/webgpu-$w.json"
  timeout 120 python3 scripts/torch_bench.py --only "$w" --steps 30 --device cuda 2>&1 | tee "$out/torch-cuda-$w.json"
done
timeout 240 $node /tmp/device/stitch.mjs --backend webgpu train --algo reinformer --env maze2d-umaze --steps 50000 \
  --eval-every 0 --checkpoint-every 5000 --out "$out/reinformer-umaze" 2>&1 | tail -20 | tee "$out/reinformer.txt"
cp "$out/reinformer-umaze/metrics.jsonl" "$out/reinformer-metrics.jsonl" 2>/dev/null || true
