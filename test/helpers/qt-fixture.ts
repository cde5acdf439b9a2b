/**
 * QT's reference fixtures (qt_step.safetensors, scripts/make_qt_fixtures.py), as
 * test/algos/qt-parity.test.ts checks them on the CPU and test/engine/webgpu-critic.test.ts on the
 * device: the fixture's environment sizes and QT with the reference's coin replayed.
 */
import type { PolicyContext } from '../../src/algos/algorithm.js';
import type { QNumerator } from '../../src/algos/parts/critic.js';
import { QtAlgorithm, type QtConfig } from '../../src/algos/qt.js';
import { Rng } from '../../src/engine/index.js';

/** the fixtures' state and action sizes */
export const S = 3;
export const A = 2;
export const qtFixtureContext: PolicyContext = {
  obsDim: S, actionDim: A, stateMean: new Float32Array(S), stateStd: new Float32Array(S).fill(1),
  actionLow: [-1, -1], actionHigh: [1, 1], maxEpisodeSteps: 100,
};

/** QT with the reference's coin fixed to the draw the fixture's step made */
export class ReplayedCoinQt extends QtAlgorithm {
  constructor(config: QtConfig, private readonly numerator: QNumerator) {
    super(config, qtFixtureContext, new Rng(0));
  }

  protected override drawNumerator(): QNumerator {
    return this.numerator;
  }
}
