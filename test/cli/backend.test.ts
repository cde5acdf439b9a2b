import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../../src/engine/backends/index.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function stitch(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('backend selection', () => {
  it('falls back to the WebAssembly kernels when the addon is missing, and says why', () => {
    const { status, stdout } = stitch(['info'], { STITCH_NATIVE_ADDON: '/nonexistent/stitch_native.node', STITCH_BACKEND: 'auto' });
    assert.equal(status, 0);
    assert.match(stdout, /wasm backend, \d+ thread\(s\), wasm32 SIMD128 kernels \(relaxed SIMD: fused multiply-add\) \(native unavailable: native addon not built \(\/nonexistent\/stitch_native\.node missing/);
  });

  it('falls back to the TypeScript kernels when the addon and the wasm module are missing, and says why', () => {
    const { status, stdout } = stitch(['info'], {
      STITCH_NATIVE_ADDON: '/nonexistent/stitch_native.node', STITCH_WASM_MODULE: '/nonexistent/stitch.wasm', STITCH_BACKEND: 'auto',
    });
    assert.equal(status, 0);
    assert.match(stdout, /js backend, 1 thread\(s\) \(native unavailable: native addon not built \(\/nonexistent\/stitch_native\.node missing.*; wasm unavailable: WebAssembly kernels missing \(\/nonexistent\/stitch\.wasm\)\)/);
  });

  it('selects wasm with --backend wasm or STITCH_BACKEND=wasm, even when the addon is built', () => {
    for (const [args, env] of [[['--backend', 'wasm', 'info'], {}], [['info'], { STITCH_BACKEND: 'wasm' }]] as const) {
      const { status, stdout } = stitch([...args], env);
      assert.equal(status, 0);
      assert.match(stdout, /^stitch: wasm backend, \d+ thread\(s\), wasm32 SIMD128 kernels \(relaxed SIMD: fused multiply-add\)$/m);
    }
    const two = stitch(['--backend', 'wasm', 'info'], { STITCH_THREADS: '2' });
    assert.match(two.stdout, /^stitch: wasm backend, 2 thread\(s\), wasm32 SIMD128 kernels \(relaxed SIMD: fused multiply-add\)$/m);
    // the plain build when asked (its results are the same on every machine)
    const plain = stitch(['--backend', 'wasm', 'info'], { STITCH_WASM_RELAXED: '0' });
    assert.match(plain.stdout, /^stitch: wasm backend, \d+ thread\(s\), wasm32 SIMD128 kernels$/m);
  });

  it('--threads sets the thread count, and rejects a bad count in one line', () => {
    const { status, stdout } = stitch(['--backend', 'wasm', '--threads', '2', 'info'], { STITCH_THREADS: '1' });
    assert.equal(status, 0);
    assert.match(stdout, /^stitch: wasm backend, 2 thread\(s\)/m);
    const one = stitch(['info', '--threads', '1'], { STITCH_BACKEND: 'wasm' });
    assert.match(one.stdout, /^stitch: wasm backend, 1 thread\(s\)/m);
    const bad = stitch(['--threads', 'many', 'info'], {});
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'stitch: --threads must be an integer >= 1 (got many)\n');
  });

  it('--backend overrides STITCH_BACKEND and rejects unknown names in one line', () => {
    const chosen = stitch(['--backend', 'js', 'info'], { STITCH_BACKEND: 'wasm' });
    assert.match(chosen.stdout, /^stitch: js backend/);
    const { status, stderr } = stitch(['--backend', 'gpu', 'info'], {});
    assert.equal(status, 2);
    assert.match(stderr, /^stitch: STITCH_BACKEND must be webgpu, native, wasm, js or auto \(got "gpu"\)/);
  });

  it('refuses STITCH_BACKEND=native without the addon, in one line', () => {
    const { status, stderr } = stitch(['info'], { STITCH_NATIVE_ADDON: '/nonexistent/stitch_native.node', STITCH_BACKEND: 'native' });
    assert.equal(status, 2);
    assert.match(stderr, /^stitch: the native backend is not available: native addon not built/);
    assert.equal(stderr.trim().split('\n').length, 1);
  });

  it('rejects an unknown backend name', () => {
    const { status, stderr } = stitch(['info'], { STITCH_BACKEND: 'gpu' });
    assert.equal(status, 2);
    assert.match(stderr, /STITCH_BACKEND must be webgpu, native, wasm, js or auto \(got "gpu"\)/);
  });

  it('reports the native backend with its BLAS when the addon is built', (t) => {
    const native = createBackend('auto');
    if (native.backend.name !== 'native') {
      if (process.env.STITCH_REQUIRE_NATIVE === '1') assert.fail(`native addon required but unavailable: ${native.fallbackReason}`);
      t.skip(`native addon unavailable: ${native.fallbackReason}`);
      return;
    }
    const { status, stdout } = stitch(['info'], { STITCH_BACKEND: 'auto', STITCH_THREADS: '2' });
    assert.equal(status, 0);
    assert.match(stdout, /native backend, 2 thread\(s\), OpenBLAS .* core=\w+/);
  });
});
