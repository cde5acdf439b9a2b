/**
 * QT's per-dataset settings: every dataset of the reference's run.sh (charleshsc/QT cb9e1a4, spec
 * 4.6), shared as data by QT, RDT (without η) and RVDT.
 */
import type { QtFamilyConfig } from './parts/qt-family.js';

/** return scale and evaluation targets (raw units) per environment family, from the reference's experiment.py */
const FAMILIES = {
  hopper: { returnScale: 1000, targetReturns: [3600, 1800] },
  halfcheetah: { returnScale: 1000, targetReturns: [12000, 9000, 6000] },
  walker2d: { returnScale: 1000, targetReturns: [5000, 4000, 2500] },
  pen: { returnScale: 1000, targetReturns: [12000, 6000] },
  hammer: { returnScale: 1000, targetReturns: [12000, 6000, 3000] },
  door: { returnScale: 100, targetReturns: [2000, 1000, 500] },
  kitchen: { returnScale: 100, targetReturns: [500, 250] },
  maze2d: { returnScale: 10, targetReturns: [300, 200, 150, 100, 50, 20] },
  antmaze: { returnScale: 1, targetReturns: [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3] },
} satisfies Record<string, Partial<QtFamilyConfig>>;

/**
 * One run.sh line: η, grad_norm, max_iters (the cosine's T_max) and early_epoch (training stops
 * after iteration early_epoch, so early_epoch + 1 iterations run; null: all max_iters).
 */
function runLine(
  family: keyof typeof FAMILIES, eta: number, clipNorm: number, iterations: number, earlyEpoch: number | null,
  extra: Partial<QtFamilyConfig> = {},
): Partial<QtFamilyConfig> {
  const stepsPerIteration = extra.stepsPerIteration ?? 1000;
  const iterationsRun = earlyEpoch === null ? iterations : earlyEpoch + 1;
  return { ...FAMILIES[family], eta, clipNorm, iterations, stepsPerIteration, steps: iterationsRun * stepsPerIteration, ...extra };
}

/** Every dataset of the reference's run.sh (spec 4.6); gym -v2, maze2d -v1 (open -v0), adroit -v1, kitchen and antmaze -v0. */
export const QT_PRESETS: Record<string, Partial<QtFamilyConfig>> = {
  'halfcheetah-medium-expert-v2': runLine('halfcheetah', 0.4, 15, 10, null, { stepsPerIteration: 10_000 }),
  'hopper-medium-expert-v2': runLine('hopper', 1.0, 9, 500, 100),
  'walker2d-medium-expert-v2': runLine('walker2d', 2.0, 5, 500, 100),
  'halfcheetah-medium-v2': runLine('halfcheetah', 5.0, 15, 500, 100, { context: 5 }),
  'hopper-medium-v2': runLine('hopper', 1.0, 9, 500, 100),
  'walker2d-medium-v2': runLine('walker2d', 2.0, 5, 500, 100),
  'halfcheetah-medium-replay-v2': runLine('halfcheetah', 5.0, 15, 500, 100, { context: 5 }),
  'hopper-medium-replay-v2': runLine('hopper', 3.0, 9, 500, 100),
  'walker2d-medium-replay-v2': runLine('walker2d', 2.0, 5, 500, 100),
  'pen-human-v1': runLine('pen', 0.1, 9, 500, 100),
  'pen-cloned-v1': runLine('pen', 0.1, 9, 500, 100),
  'hammer-human-v1': runLine('hammer', 0.1, 5, 500, 60),
  'hammer-cloned-v1': runLine('hammer', 0.01, 9, 500, 30),
  'door-human-v1': runLine('door', 0.005, 9, 500, 60),
  'door-cloned-v1': runLine('door', 0.001, 9, 500, 60),
  'kitchen-complete-v0': runLine('kitchen', 0.001, 9, 500, 100),
  'kitchen-partial-v0': runLine('kitchen', 0.01, 9, 500, 50),
  'maze2d-open-v0': runLine('maze2d', 0.01, 9, 500, 50),
  'maze2d-open-dense-v0': runLine('maze2d', 0.01, 9, 500, 50),
  'maze2d-umaze-v1': runLine('maze2d', 5.0, 20, 100, 50),
  'maze2d-umaze-dense-v1': runLine('maze2d', 3.0, 5, 500, 50),
  'maze2d-medium-v1': runLine('maze2d', 5.0, 9, 100, 50),
  'maze2d-medium-dense-v1': runLine('maze2d', 5.0, 9, 100, 50),
  'maze2d-large-v1': runLine('maze2d', 4.0, 9, 500, 50),
  'maze2d-large-dense-v1': runLine('maze2d', 4.0, 9, 500, 50),
  'antmaze-umaze-v0': runLine('antmaze', 0.05, 9, 500, 50),
  'antmaze-umaze-diverse-v0': runLine('antmaze', 0.01, 9, 500, 50),
  'antmaze-medium-diverse-v0': runLine('antmaze', 0.01, 9, 100, 80),
  'antmaze-large-diverse-v0': runLine('antmaze', 0.005, 9, 100, 80, { rewardTransform: 'qt-cql-antmaze' }),
};
