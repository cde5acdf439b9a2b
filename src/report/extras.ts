/**
 * What the report shows beyond the run's logs, computed from the dataset and policy.safetensors
 * and saved as `report-data.json` (so the dashboard can show it without recomputing):
 *
 * - the dataset summary (size, episodes, episode returns);
 * - rollouts: the final evaluation's first few episodes of the headline condition, re-run from
 *   the policy file with the run's evaluation seed. Episode k of an evaluation has fixed reset and
 *   policy seeds, so these are the same episodes (same returns) as in evaluations.jsonl. Maze2D
 *   keeps each episode's positions, for drawing over the maze;
 * - the predicted return of policies that predict one (Reinformer's pass 1 at t = 0 of those
 *   episodes, SequencePolicy.firstPredictedReturn), set against the distribution of the dataset's
 *   episode returns and the return the episode then achieved.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SequencePolicy } from '../algos/algorithm.js';
import { loadDataset } from '../data/load.js';
import type { TrajectoryStore } from '../data/store.js';
import { Rng } from '../engine/rng.js';
import { evaluatePolicy } from '../envs/evaluate.js';
import { positionsOf, renderMazeSvg } from '../envs/maze2d/render.js';
import { envSpec } from '../envs/registry.js';
import { loadPolicy } from '../deploy/node.js';
import { POLICY_FILE, readRunConfig } from '../train/run-files.js';
import { mean, quantileOfSorted, sampleStd } from './stats.js';

export const REPORT_DATA_FILE = 'report-data.json';
export const REPORT_DATA_FORMAT_VERSION = 1;
/** rollouts re-run for the report (at most; capped at the run's evalEpisodes) */
export const ROLLOUT_EPISODES = 8;
/** the maze drawing's width in pixels at most */
const MAZE_WIDTH_PX = 420;
/** D4RL's offset between wall cells and the ball's qpos frame, as render.ts draws it */
const MAZE_QPOS_OFFSET = 0.7;

export interface DatasetSummary {
  path: string;
  format: string;
  rows: number;
  episodes: number;
  obsDim: number;
  actionDim: number;
  meanEpisodeLength: number;
  returnMean: number;
  returnStd: number;
  returnMin: number;
  returnMax: number;
  /** episode returns at the percentiles 0, 1, ..., 100 */
  returnPercentiles: number[];
}

export interface RolloutEpisode {
  episode: number;
  return: number;
  length: number;
  /** Maze2D: positions [x0, y0, x1, y1, ...] in qpos coordinates, rounded to 1e-3 */
  points?: number[];
  /** policies that predict their return (Reinformer: pass 1 at t = 0), in reward units */
  predictedReturn?: number;
}

export interface MazeView {
  /** the maze without paths (the rollout player draws on it) */
  backgroundSvg: string;
  /** the maze with every rollout drawn */
  rolloutsSvg: string;
  cellSize: number;
  /** picture x = (qpos y + offset) * cellSize, picture y = (qpos x + offset) * cellSize */
  offset: number;
}

export interface ReportExtras {
  format: 'stitch-report-data';
  formatVersion: number;
  /** training steps behind the policy the rollouts came from (null without a policy file) */
  policyStep: number | null;
  dataset: DatasetSummary | null;
  rollouts: { condition: string; seed: number; episodes: RolloutEpisode[] } | null;
  maze: MazeView | null;
  /** why something is missing (no policy file yet, dataset moved) */
  notes: string[];
}

function episodeReturns(store: TrajectoryStore): Float64Array {
  const returns = new Float64Array(store.episodeCount);
  for (let e = 0; e < store.episodeCount; e++) {
    let total = 0;
    for (let t = store.episodeStarts[e] as number; t < (store.episodeStarts[e + 1] as number); t++) total += store.rewards[t] as number;
    returns[e] = total;
  }
  return returns;
}

async function summarizeDataset(path: string, format: string): Promise<DatasetSummary> {
  const { store } = await loadDataset(path);
  const returns = episodeReturns(store);
  const sorted = Float64Array.from(returns).sort();
  const list = Array.from(returns);
  return {
    path,
    format,
    rows: store.rewards.length,
    episodes: store.episodeCount,
    obsDim: store.obsDim,
    actionDim: store.actionDim,
    meanEpisodeLength: store.rewards.length / Math.max(1, store.episodeCount),
    returnMean: mean(list),
    returnStd: sampleStd(list),
    returnMin: sorted[0] ?? Number.NaN,
    returnMax: sorted[sorted.length - 1] ?? Number.NaN,
    returnPercentiles: Array.from({ length: 101 }, (_, p) => quantileOfSorted(sorted, p / 100)),
  };
}

/** Records the policy's predicted return at the first step of every episode (firstPredictedReturn). */
class FirstPredictionRecorder implements SequencePolicy {
  readonly predicted = new Map<number, number>();
  private readonly pendingEpisode: Int32Array;

  constructor(private readonly inner: SequencePolicy, numEnvs: number) {
    this.pendingEpisode = new Int32Array(numEnvs).fill(-1);
  }

  beginEpisode(envIndex: number, episodeIndex: number, episodeSeed: number): void {
    this.inner.beginEpisode(envIndex, episodeIndex, episodeSeed);
    this.pendingEpisode[envIndex] = episodeIndex;
  }

  act(observations: Float64Array, active: Uint8Array, actions: Float32Array): void {
    this.inner.act(observations, active, actions);
    for (let i = 0; i < this.pendingEpisode.length; i++) {
      const episode = this.pendingEpisode[i] as number;
      const predicted = this.inner.firstPredictedReturn?.(i);
      if (active[i] !== 1 || episode < 0 || predicted === undefined) continue;
      this.predicted.set(episode, predicted);
      this.pendingEpisode[i] = -1;
    }
  }

  observeRewards(rewards: Float64Array, active: Uint8Array): void {
    this.inner.observeRewards?.(rewards, active);
  }
}

function roundPoints(points: Float64Array): number[] {
  return Array.from(points, (value) => Math.round(value * 1000) / 1000);
}

/** Computes the report's extras for a run; parts that cannot be computed are left null with a note. */
export async function computeReportExtras(runDir: string): Promise<ReportExtras> {
  const config = readRunConfig(runDir);
  const notes: string[] = [];
  let dataset: DatasetSummary | null = null;
  if (existsSync(config.dataset)) {
    try {
      dataset = await summarizeDataset(config.dataset, config.datasetId);
    } catch (error) {
      notes.push(`dataset ${config.dataset}: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else {
    notes.push(`dataset ${config.dataset} is not there any more; no dataset summary`);
  }

  const spec = envSpec(config.env);
  const policyPath = join(runDir, POLICY_FILE);
  let rollouts: ReportExtras['rollouts'] = null;
  let maze: MazeView | null = null;
  let policyStep: number | null = null;
  if (!existsSync(policyPath)) {
    notes.push(`no ${POLICY_FILE} yet (written when training finishes): no rollouts`);
  }
  const policy = existsSync(policyPath) ? loadPolicy(policyPath) : null;
  const condition = policy?.conditions[0];
  if (policy !== null && condition === undefined) throw new Error(`${policyPath}: the policy has no evaluation condition`);
  const episodes = Math.min(ROLLOUT_EPISODES, config.evalEpisodes);
  const numEnvs = Math.min(episodes, config.evalEnvs);
  // the evaluation's own construction (src/train/evaluate.ts): the policy generator is seeded by the evaluation seed
  const vectorPolicy = policy === null || condition === undefined ? null : policy.createVectorPolicy(numEnvs, condition, new Rng(config.evalSeed));
  // rollouts are drawn over a maze, or re-run for the returns a policy predicts (Reinformer)
  const predictsReturns = vectorPolicy?.firstPredictedReturn !== undefined;
  if (policy !== null && condition !== undefined && vectorPolicy !== null && (spec.maze !== undefined || predictsReturns)) {
    policyStep = policy.header.step;
    const recorder = predictsReturns ? new FirstPredictionRecorder(vectorPolicy, numEnvs) : null;
    const result = await evaluatePolicy(config.env, recorder ?? vectorPolicy, {
      episodes, seed: config.evalSeed, numEnvs, recordObservations: spec.maze !== undefined,
    });
    rollouts = {
      condition: condition.label,
      seed: config.evalSeed,
      episodes: result.returns.map((episodeReturn, k) => {
        const observations = result.observations?.[k];
        const predicted = recorder?.predicted.get(k);
        return {
          episode: k,
          return: episodeReturn,
          length: result.lengths[k] as number,
          ...(observations === undefined ? {} : { points: roundPoints(positionsOf(observations, spec.obsDim)) }),
          ...(predicted === undefined ? {} : { predictedReturn: predicted }),
        };
      }),
    };
    if (spec.maze !== undefined) {
      const { layout } = spec.maze;
      const cellSize = Math.min(60, Math.floor(MAZE_WIDTH_PX / layout.width));
      maze = {
        backgroundSvg: renderMazeSvg(layout, { paths: [], cellSize }),
        rolloutsSvg: renderMazeSvg(layout, { paths: (result.observations ?? []).map((observations) => ({ points: positionsOf(observations, spec.obsDim) })), cellSize }),
        cellSize,
        offset: MAZE_QPOS_OFFSET,
      };
    }
  }
  return { format: 'stitch-report-data', formatVersion: REPORT_DATA_FORMAT_VERSION, policyStep, dataset, rollouts, maze, notes };
}
