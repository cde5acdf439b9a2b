/**
 * The native kernels without Node: compiles native/test/kernels_test.c with the kernel files and
 * compiler flags of binding.gyp (so it tests what the addon is built from), runs it, and fails
 * on any check it reports. Skips, saying why, when there is no C compiler or OpenBLAS, unless
 * STITCH_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const nativeRequired = process.env.STITCH_REQUIRE_NATIVE === '1';
const compiler = process.env.CC ?? 'cc';

const bindingSchema = z.object({
  targets: z.array(z.object({
    sources: z.array(z.string()),
    include_dirs: z.array(z.string()),
    cflags_c: z.array(z.string()),
    libraries: z.array(z.string()),
  })),
});

interface KernelBuild {
  sources: string[];
  /** cflags_c and include_dirs, before the files */
  compileFlags: string[];
  /** libraries, after the files */
  libraries: string[];
}

/** The addon's build settings, less its Node-API files. */
function kernelBuild(): KernelBuild {
  const binding = bindingSchema.parse(JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')));
  const target = binding.targets[0];
  assert.ok(target, 'binding.gyp has no target');
  const sources = target.sources.filter((source) => source.startsWith('native/kernels/')).map((source) => join(root, source));
  assert.ok(sources.length > 0, 'binding.gyp lists no native/kernels/ sources');
  const compileFlags = [...target.cflags_c, ...target.include_dirs.map((dir) => `-I${join(root, dir)}`)];
  return { sources, compileFlags, libraries: target.libraries };
}

const workDir = mkdtempSync(join(tmpdir(), 'stitch-kernels-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

function compile(build: KernelBuild, sources: string[], output: string): { ok: boolean; log: string } {
  const args = [...build.compileFlags, '-o', output, ...sources, ...build.libraries];
  const result = spawnSync(compiler, args, { encoding: 'utf8', timeout: 120_000 });
  if (result.error) return { ok: false, log: result.error.message };
  return { ok: result.status === 0, log: `${result.stdout}${result.stderr}`.trim() };
}

/** Why the kernels cannot be built here (no compiler, no OpenBLAS), or undefined when they can. */
function missingToolchain(build: KernelBuild): string | undefined {
  const probe = join(workDir, 'probe.c');
  writeFileSync(probe, '#include <cblas.h>\nint main(void) { return openblas_get_num_threads() > 0 ? 0 : 1; }\n');
  const result = compile(build, [probe], join(workDir, 'probe'));
  if (result.ok) return undefined;
  return `cannot build against OpenBLAS with ${compiler} (needs a C compiler and libopenblas-dev): ${result.log.split('\n').slice(-3).join(' ')}`;
}

const build = kernelBuild();
const missing = missingToolchain(build);

it('the native kernels pass their C test driver (native/test/kernels_test.c)', (t) => {
  if (missing !== undefined) {
    if (nativeRequired) assert.fail(`STITCH_REQUIRE_NATIVE=1: ${missing}`);
    t.skip(missing);
    return;
  }
  const driver = join(workDir, 'kernels_test');
  const compiled = compile(build, [join(root, 'native', 'test', 'kernels_test.c'), ...build.sources], driver);
  assert.ok(compiled.ok, `the C test driver did not compile:\n${compiled.log}`);
  const run = spawnSync(driver, [], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.error, undefined, `the C test driver did not run: ${run.error?.message}`);
  const output = `${run.stdout}${run.stderr}`.trim();
  assert.equal(run.status, 0, `the C test driver reported failures:\n${output}`);
  assert.match(output, /^\d+ checks, 0 failed$/m);
});
