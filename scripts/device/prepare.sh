#!/usr/bin/env bash
# Prepares .device/ (ignored) for one run on a lent GPU machine, which has CUDA and PyTorch but no
# Node: an xz copy of this machine's node, and one xz archive holding the benchmark worker and the
# CLI bundled by esbuild (every npm dependency inlined except Dawn's binding), Dawn's linux-x64
# binding, and what the bundles load from beside them (the wasm kernels, MuJoCo's WebAssembly, the
# report's chart library and client). The Vulkan loader .debs go to .gl/, as the device README
# describes. Everything stays under the 64 MiB a run may carry (about 35 MB). Then, with the
# device tool: run carry=[".device", ".gl"] command="bash scripts/device/run.sh" timeout_s=540
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
bundle() { npx esbuild "$1" --bundle --platform=node --format=esm --outfile="$2" --log-level=warning \
  --external:webgpu --external:onnxruntime-node --external:playwright-core \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"; }
bundle dist/bench/engine-worker.js "$stage/engine-worker.mjs"
bundle dist/src/cli/main.js "$stage/stitch.mjs"
mkdir -p "$stage/node_modules/webgpu/dist" "$stage/node_modules/uplot/dist"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$stage/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$stage/node_modules/webgpu/dist/"
cp node_modules/uplot/package.json "$stage/node_modules/uplot/"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$stage/node_modules/uplot/dist/"
cp wasm/stitch.wasm node_modules/@mujoco/mujoco/mujoco.wasm dist/src/report/client.bundle.js "$stage/"
rm -rf .device && mkdir -p .device
tar -C "$stage" -cf - . | xz -T2 -6 > .device/payload.tar.xz
xz -T2 -6 -c "$(command -v node)" > .device/node.xz
if [ ! -d .gl ]; then
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null && (cd .gl && apt-get $o download libvulkan1 >/dev/null)
fi
du -sh .device .gl
