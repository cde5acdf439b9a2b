#!/usr/bin/env node
/**
 * Peak resident memory of `stitch data check` on every hostile data file of
 * test/data/hostile-files.ts (the figure in docs/reliability.md). Needs a build (npx tsc) and
 * GNU time at /usr/bin/time. Usage: node scripts/hostile-data-rss.mjs
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHostileDataFiles } from '../dist/test/data/hostile-files.js';

const dir = mkdtempSync(join(tmpdir(), 'stitch-hostile-'));
try {
  const cases = await buildHostileDataFiles(join(dir, 'files'));
  let peak = 0;
  for (const { label, path, status } of cases) {
    const result = spawnSync('/usr/bin/time', ['-f', 'maxrss_kib %M', process.execPath, 'dist/src/cli/main.js', 'data', 'check', path], { encoding: 'utf8' });
    const kib = Number(/maxrss_kib (\d+)/.exec(result.stderr)?.[1] ?? Number.NaN);
    peak = Math.max(peak, kib);
    const ok = result.status === status ? 'ok' : `UNEXPECTED exit ${result.status}`;
    console.log(`${(kib / 1024).toFixed(0).padStart(5)} MiB  exit ${result.status} ${ok}  ${label}`);
  }
  console.log(`${cases.length} hostile data files; peak RSS ${(peak / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
