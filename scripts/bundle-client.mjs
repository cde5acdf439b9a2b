#!/usr/bin/env node
// Bundles the report pages' browser code (src/report/client/main.ts, typed TypeScript) into one
// script that src/report/page.ts inlines in every page. esbuild, because it bundles TypeScript
// in well under a second with no configuration; type checking is tsc's job (tsconfig.client.json).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/report/client/main.ts'],
  outfile: 'dist/src/report/client.bundle.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
