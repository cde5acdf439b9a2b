/**
 * The committed wasm/stitch.wasm and wasm/stitch-relaxed.wasm are what their sources build to, bit for bit, with the pinned
 * toolchain (wasm/toolchain.json). Skips with a message when clang-16 or a pinned package is
 * missing or at another version, unless STITCH_REQUIRE_WASM_TOOLCHAIN=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const required = process.env.STITCH_REQUIRE_WASM_TOOLCHAIN === '1';

function toolchainProblem(): string | undefined {
  const pinned = (JSON.parse(readFileSync(join(root, 'wasm', 'toolchain.json'), 'utf8')) as { debianPackages: Record<string, string> }).debianPackages;
  for (const [name, version] of Object.entries(pinned)) {
    let installed = '';
    try {
      installed = execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      installed = '';
    }
    if (installed !== version) return `${name} ${installed === '' ? 'is not installed' : `is ${installed}`}, pinned ${version}`;
  }
  return undefined;
}

const problem = toolchainProblem();

it('the committed wasm/stitch.wasm and wasm/stitch-relaxed.wasm match their sources bit for bit', { skip: problem !== undefined && !required ? `wasm toolchain: ${problem}` : false }, () => {
  assert.equal(problem, undefined, `STITCH_REQUIRE_WASM_TOOLCHAIN=1 but ${problem}`);
  const dir = mkdtempSync(join(tmpdir(), 'stitch-wasm-'));
  try {
    const out = join(dir, 'stitch.wasm');
    const build = spawnSync(process.execPath, [join(root, 'wasm', 'build.mjs'), '--out', out], { cwd: root, encoding: 'utf8' });
    assert.equal(build.status, 0, `wasm/build.mjs failed: ${build.stderr}`);
    for (const name of ['stitch.wasm', 'stitch-relaxed.wasm']) {
      const rebuilt = readFileSync(join(dir, name));
      const committed = readFileSync(join(root, 'wasm', name));
      assert.ok(rebuilt.equals(committed), `wasm/${name} (${committed.length} bytes) differs from a rebuild of its sources (${rebuilt.length} bytes): run node wasm/build.mjs and commit the result`);
    }
    assert.ok(!readFileSync(join(dir, 'stitch.wasm')).equals(readFileSync(join(dir, 'stitch-relaxed.wasm'))), 'the relaxed build differs (its multiply-adds are fused)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
