#!/usr/bin/env node
/**
 * Builds wasm/stitch.wasm from wasm/*.c and the BLAS-free kernels of native/kernels/ with clang-16
 * (wasm32-wasi, SIMD128, wasi-libc for malloc and string functions), and wasm/stitch-relaxed.wasm,
 * the same sources with relaxed SIMD (the GEMM micro-kernel's multiply-adds fused), which Node
 * loads where the engine has relaxed SIMD (wasm-node.ts). The committed binaries are what users
 * run, so installing needs npm alone; this script is for developers and CI, which checks that the
 * committed binaries match their sources (test/engine/wasm-build.test.ts).
 *
 *   node wasm/build.mjs            rebuild wasm/stitch.wasm and wasm/stitch-relaxed.wasm
 *   node wasm/build.mjs --out F    build to F and F's -relaxed sibling instead (the check builds
 *                                  to a temporary directory)
 *
 * Exit code 2 with one line on stderr when clang-16 is missing or the build fails.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** order matters for a bit-identical binary: keep it fixed */
export const SOURCES = [
  'wasm/exports.c',
  'wasm/threads.c',
  'wasm/gemm_simd.c',
  'native/kernels/activation.c',
  'native/kernels/attention.c',
  'native/kernels/dropout.c',
  'native/kernels/elementwise.c',
  'native/kernels/embedding.c',
  'native/kernels/gemm.c',
  'native/kernels/layernorm.c',
  'native/kernels/optim.c',
];

export const FLAGS = [
  '--target=wasm32-wasi', '--sysroot=/usr', '-isystem', '/usr/include/wasm32-wasi',
  '-O3', '-msimd128', '-std=gnu11', '-fno-math-errno', '-fno-trapping-math',
  // OpenMP pragmas of native/kernels/ are ignored here: the wasm kernels run on the calling thread
  '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-unknown-pragmas', '-Wno-unused-variable', '-Werror',
  '-Iwasm/include', '-Inative/kernels',
  // a library, not a program: no _start, exports named in wasm/exports.c, no names or debug info
  '-nostartfiles', '-Wl,--no-entry', '-Wl,--strip-all', '-Wl,-L/usr/lib/wasm32-wasi',
  // 64 MiB to start (the DT step's arena fits without growing); grows up to 4 GiB
  '-Wl,--initial-memory=67108864', '-Wl,--max-memory=4294967296',
];

/** versions of the pinned Debian packages installed here, or undefined for those missing */
export function installedToolchain() {
  const pinned = JSON.parse(readFileSync(join(root, 'wasm', 'toolchain.json'), 'utf8')).debianPackages;
  const installed = {};
  for (const name of Object.keys(pinned)) {
    try {
      installed[name] = execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
    } catch {
      installed[name] = undefined;
    }
  }
  return { pinned, installed };
}

/** the relaxed-SIMD build's file beside `out`: stitch.wasm -> stitch-relaxed.wasm */
export function relaxedSibling(out) {
  return out.replace(/(\.wasm)?$/, '-relaxed.wasm');
}

export function buildWasm(out) {
  for (const [file, extra] of [[out, []], [relaxedSibling(out), ['-mrelaxed-simd']]]) {
    execFileSync('clang-16', [...FLAGS, ...extra, '-o', relative(root, file) || file, ...SOURCES], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1] : join(root, 'wasm', 'stitch.wasm');
  if (out === undefined) {
    process.stderr.write('wasm/build.mjs: --out needs a file name\n');
    process.exit(2);
  }
  const { pinned, installed } = installedToolchain();
  for (const [name, version] of Object.entries(pinned)) {
    if (installed[name] !== version) {
      process.stderr.write(`wasm/build.mjs: warning: ${name} is ${installed[name] ?? 'not installed'}, pinned ${version}; the binary may differ (apt-get install -y clang-16 lld-16 libclang-rt-16-dev-wasm32 wasi-libc)\n`);
    }
  }
  try {
    buildWasm(out);
  } catch (error) {
    const reason = error && typeof error === 'object' && 'code' in error && error.code === 'ENOENT' ? 'clang-16 not found' : 'clang-16 failed';
    process.stderr.write(`wasm/build.mjs: ${reason}\n`);
    process.exit(2);
  }
  process.stdout.write(`wasm/build.mjs: wrote ${relative(root, out)} and ${relative(root, relaxedSibling(out))}\n`);
}
