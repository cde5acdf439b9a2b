#!/usr/bin/env bash
# Prepares .device/ (ignored) for one run on a lent GPU machine, which has CUDA and PyTorch but no
# Node: an xz copy of this machine's node, the benchmark worker and the CLI bundled by esbuild (all
# npm dependencies inlined except Dawn's binding), Dawn's linux-x64 binding, and the Vulkan loader
# .debs (.gl/, as the device README describes). Then, with the device tool:
#   run carry=[".device", ".gl"] command="bash scripts/device/run.sh" timeout_s=540
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build >/dev/null
rm -rf .device && mkdir -p .device/node_modules/webgpu
xz -T2 -6 -c "$(command -v node)" > .device/node.xz
bundle() { npx esbuild "$1" --bundle --platform=node --format=esm --outfile="$2" --log-level=warning \
  --external:webgpu --external:onnxruntime-node --external:playwright-core \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"; }
bundle dist/bench/engine-worker.js .device/engine-worker.mjs
bundle dist/src/cli/main.js .device/stitch.mjs
cp node_modules/webgpu/package.json node_modules/webgpu/index.js .device/node_modules/webgpu/
mkdir -p .device/node_modules/webgpu/dist && cp -r node_modules/webgpu/dist/linux-x64 .device/node_modules/webgpu/dist/
cp wasm/stitch.wasm .device/
if [ ! -d .gl ]; then
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null && (cd .gl && apt-get $o download libvulkan1 >/dev/null)
fi
du -sh .device .gl
