import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Progress } from '../../src/train/progress.js';

function recorder(): { write: (text: string) => boolean; chunks: string[] } {
  const chunks: string[] = [];
  return { write: (text: string) => chunks.push(text) > 0, chunks };
}

describe('progress', () => {
  it('redraws one line on a terminal and keeps messages above it', () => {
    const stream = recorder();
    const progress = new Progress(stream, 10, 0, { interactive: true });
    progress.update(1, 'loss', 0.5);
    progress.message('eval step 1');
    progress.update(10, 'loss', 0.25);
    progress.finish();
    assert.match(stream.chunks[0]!, /^\r\x1b\[2Kstep  1\/10  .* steps\/s  loss 0\.5000  ETA /);
    assert.deepEqual(stream.chunks.slice(1, 3), ['\r\x1b[2K', 'eval step 1\n']);
    assert.match(stream.chunks[3]!, /^\r\x1b\[2Kstep 10\/10 .*loss 0\.2500/);
    assert.equal(stream.chunks.at(-1), '\n');
  });

  it('writes plain, rate-limited lines otherwise, always including the last step', () => {
    const stream = recorder();
    const progress = new Progress(stream, 100, 0, { interactive: false });
    for (let step = 1; step <= 100; step++) progress.update(step, 'action_loss', 1 / step);
    progress.finish();
    assert.equal(stream.chunks.length, 2, 'the first and the last step within the 5 s limit');
    assert.ok(stream.chunks.every((line) => line.endsWith('\n') && !line.includes('\r')));
    assert.match(stream.chunks[1]!, /^step 100\/100 .*action_loss 0\.01000 .*ETA 0s\n$/);
  });

  it('shows evaluation progress under the same rules: episodes, mean return so far, ETA; the last episode always', () => {
    const stream = recorder();
    const progress = new Progress(stream, 100, 0, { interactive: false });
    for (let done = 1; done <= 40; done++) {
      progress.evaluation(2000, { episodesDone: done, episodesTotal: 40, meanReturnSoFar: 61.2, etaSeconds: 65 * (1 - done / 40), condition: 'target 280' });
    }
    assert.deepEqual(stream.chunks, [
      'eval step 2000: 1/40 episodes  target 280: mean return 61.20 so far  ETA 1m03s\n',
      'eval step 2000: 40/40 episodes  target 280: mean return 61.20 so far  ETA 0s\n',
    ]);
    const live = recorder();
    const interactive = new Progress(live, 100, 0, { interactive: true });
    interactive.evaluation(null, { episodesDone: 0, episodesTotal: 4, meanReturnSoFar: null, etaSeconds: null, condition: 'max-return' });
    assert.deepEqual(live.chunks, ['\r\x1b[2Keval: 0/4 episodes']);
  });
});
