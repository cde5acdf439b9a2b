/**
 * Issue 16: training code never imports the report, the dashboard or the CLI (the CLI writes the
 * report after training returns), and the report and dashboard read run files through
 * train/run-files.ts, not through the training loop.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const importsOf = (path: string): string[] => [...readFileSync(path, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((match) => match[1]!);

const sources = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.ts')).map((name) => join(dir, name));

describe('train layer imports', () => {
  it('src/train imports nothing from report, dashboard or cli', () => {
    for (const file of sources('src/train')) {
      const upward = importsOf(file).filter((target) => /^\.\.\/(report|dashboard|cli)\//.test(target));
      assert.deepEqual(upward, [], file);
    }
  });

  it('report and dashboard take run-file names and readers from train/run-files.ts, never from the trainer', () => {
    for (const file of [...sources('src/report'), ...sources('src/dashboard')]) {
      assert.ok(!importsOf(file).includes('../train/trainer.js'), file);
    }
  });
});
