/**
 * `stitch train` with neither --algo nor --dataset: the main job (docs/results.md, issue 19). A
 * short budget here (--steps, --eval-every, --eval-episodes still apply); the whole job's scores
 * and time are measured in docs/results.md. The dataset is generated into a temporary cache.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removedAtExit } from '../helpers/temp.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

describe('the embedded default', () => {
  const dir = removedAtExit('stitch-default-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains QT on a generated maze2d-umaze with the main job\'s settings, evaluating on a worker thread and keeping the best policy', () => {
    const run = join(dir, 'run');
    const result = spawnSync(process.execPath, [cli, 'train', '--steps', '20', '--eval-every', '10', '--eval-episodes', '2', '--out', run], {
      encoding: 'utf8', env: { ...process.env, CI: '1', STITCH_CACHE: join(dir, 'cache') },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /generating maze2d-umaze-v1 dataset \(cached for later runs\)/);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
      algo: string; env: string; evalEvery: number; evalEpisodes: number; keepBest: boolean; evalWorker: boolean; algorithm: Record<string, unknown>;
    };
    assert.equal(config.algo, 'qt');
    assert.equal(config.env, 'maze2d-umaze-v1');
    assert.equal(config.keepBest, true);
    assert.equal(config.evalWorker, true);
    assert.deepEqual(
      [config.algorithm.width, config.algorithm.layers, config.algorithm.heads, config.algorithm.mlpWidth, config.algorithm.batchSize,
        config.algorithm.actorLr, config.algorithm.eta, config.algorithm.iterations, config.algorithm.stepsPerIteration, config.algorithm.candidates],
      [64, 2, 1, 256, 64, 0.001, 1.5, 100, 80, 12],
    );
    assert.equal(readFileSync(join(run, 'evaluations.jsonl'), 'utf8').trim().split('\n').length, 2);
    assert.ok(existsSync(join(run, 'policy-best.safetensors')));
    assert.match(result.stdout, /best policy: .*policy-best\.safetensors/);
  });
});
