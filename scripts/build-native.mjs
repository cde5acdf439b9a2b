#!/usr/bin/env node
// Builds the optional native addon (OpenBLAS kernels). Installation must succeed without it:
// on failure this prints why and exits 0, and Stitch runs on the TypeScript kernels.
// With --strict (npm run build:native) a failed build is an error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

if (!existsSync(join(root, 'binding.gyp'))) process.exit(0);
if (process.env.STITCH_SKIP_NATIVE === '1') {
  console.log('stitch: STITCH_SKIP_NATIVE=1, not building the native addon');
  process.exit(0);
}

const npmCli = process.env.npm_execpath;
const gypArgs = ['rebuild', '--release'];
// node-gyp ships with npm; prefer npm's copy so no extra download is needed
const candidates = [];
if (npmCli) {
  const gyp = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(gyp)) candidates.push([process.execPath, [gyp, ...gypArgs]]);
}
const globalGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
if (existsSync(globalGyp)) candidates.push([process.execPath, [globalGyp, ...gypArgs]]);
candidates.push(['node-gyp', gypArgs]);

for (const [cmd, args] of candidates) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: strict ? 'inherit' : 'pipe', encoding: 'utf8' });
  if (result.error) continue;
  if (result.status === 0) {
    console.log('stitch: native addon built (OpenBLAS kernels)');
    process.exit(0);
  }
  const tail = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-6).join('\n');
  const message = `stitch: the native addon did not build; Stitch will use the slower TypeScript kernels.\n` +
    `  Needs a C compiler and OpenBLAS (Debian: apt-get install build-essential libopenblas-dev).\n${tail}`;
  if (strict) { console.error(message); process.exit(1); }
  console.warn(message);
  process.exit(0);
}
const message = 'stitch: node-gyp not found; Stitch will use the slower TypeScript kernels.';
if (strict) { console.error(message); process.exit(1); }
console.warn(message);
