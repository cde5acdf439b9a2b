/**
 * The deployment module bundles for a browser: esbuild with `platform: 'browser'` from
 * dist/src/deploy/index.js. It must carry no training code (train/, optimizers, the gradient step,
 * the critic-regularized update) and no Node built-in at all: the engine's native backend is
 * mapped to ./native-unavailable.js by the package.json `browser` field, so the page runs on the
 * TypeScript kernels.
 */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { build, type Plugin } from 'esbuild';

const entry = fileURLToPath(new URL('../../src/deploy/index.js', import.meta.url));
const distRoot = fileURLToPath(new URL('../../', import.meta.url));

async function bundle(entryPoint = entry) {
  const nodeImports: Array<{ module: string; importer: string }> = [];
  const builtins = new Set(builtinModules);
  const recordNodeBuiltins: Plugin = {
    name: 'record-node-builtins',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, '').split('/')[0] ?? '';
        if (!args.path.startsWith('node:') && !builtins.has(bare)) return undefined;
        nodeImports.push({ module: args.path, importer: relative(distRoot, args.importer) });
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    entryPoints: [entryPoint], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, metafile: true,
    plugins: [recordNodeBuiltins], logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0];
  assert.ok(output !== undefined);
  const bytesFrom = new Map(Object.entries(output.inputs).map(([path, input]) => [relative(distRoot, path), input.bytesInOutput]));
  return { nodeImports, bytesFrom, bytes: output.bytes };
}

describe('deployment bundle (esbuild, platform browser)', () => {
  it('carries no training code and no Node built-in (the native backend stays out)', async () => {
    const { nodeImports, bytesFrom, bytes } = await bundle();
    assert.deepEqual(nodeImports, [], 'Node built-ins in the browser bundle');
    for (const path of ['src/engine/backends/native.js', 'src/engine/backends/native-loader.js']) assert.equal(bytesFrom.has(path), false, `${path} is bundled`);
    assert.ok((bytesFrom.get('src/engine/backends/native-unavailable.js') ?? 0) > 0, 'the browser stand-in of the native loader is bundled');
    const training = [...bytesFrom].filter(([path, size]) => size > 0 && (
      path.startsWith('src/train/') || ['src/nn/optim.js', 'src/nn/step.js', 'src/algos/parts/critic-regularized.js'].includes(path)
    ));
    assert.deepEqual(training, [], 'training code in the bundle');
    // the policy classes are there: every algorithm acts from this bundle
    for (const path of ['src/deploy/policy.js', 'src/algos/parts/candidate-acting.js', 'src/algos/parts/return-conditioned-policy.js', 'src/algos/reinformer.js']) {
      assert.ok((bytesFrom.get(path) ?? 0) > 0, `${path} is bundled`);
    }
    assert.ok(bytes > 0);
  });

  it('the player page (deploy module, environments, MuJoCo glue) has no Node built-in but MuJoCo\'s Node-only branch', async () => {
    const { nodeImports, bytesFrom } = await bundle(fileURLToPath(new URL('../../src/play/page/main.js', import.meta.url)));
    // @mujoco/mujoco's loader imports 'module' only when it runs in Node (scripts/build-play.mjs leaves it external)
    assert.deepEqual(nodeImports.map(({ module, importer }) => `${module} from ${importer.replace(/^.*node_modules\//, '')}`), ['module from @mujoco/mujoco/mujoco.js']);
    for (const path of ['src/deploy/policy.js', 'src/envs/maze2d/env.js', 'src/envs/mujoco.js']) assert.ok((bytesFrom.get(path) ?? 0) > 0, `${path} is bundled`);
  });
});
