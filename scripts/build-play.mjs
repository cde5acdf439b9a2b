#!/usr/bin/env node
// Bundles the policy player page (dist/src/play/page/main.js, compiled by
// `tsc -p src/play/page/tsconfig.json`) for browsers with esbuild: dist/play/app.js. The
// package.json `browser` field swaps the engine's native loader for its stand-in, so the bundle
// carries no Node built-in; @mujoco/mujoco's Node-only branch (`await import('module')`, never
// taken in a page) is left external.
import { build } from 'esbuild';

const result = await build({
  entryPoints: ['dist/src/play/page/main.js'],
  outfile: 'dist/play/app.js',
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  external: ['module'],
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((total, output) => total + output.bytes, 0);
console.log(`play: dist/play/app.js (${(bytes / 1024).toFixed(0)} KB)`);
