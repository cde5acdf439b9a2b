/**
 * What QT, RDT and RVDT share beyond their networks: QT's settings (every field of QT's config,
 * in its order; RDT leaves out the critic's), the actor network built from them, and the learning-rate
 * schedule, torch's CosineAnnealingLR stepped once per iteration.
 */
import { z } from 'zod';
import { cosineAnnealing, type Schedule } from '../../nn/optim.js';
import type { PolicyContext } from '../algorithm.js';
import type { DecisionTransformerConfig } from './actors.js';

/** QT's config fields (charleshsc/QT run.sh and experiment.py defaults). */
export const QT_FIELDS = {
  context: z.number().int().min(2).max(341).default(20),
  width: z.number().int().min(1).default(256),
  layers: z.number().int().min(1).default(4),
  heads: z.number().int().min(1).default(4),
  mlpWidth: z.number().int().min(1).default(1024),
  activation: z.enum(['relu', 'gelu_tanh', 'gelu_erf']).default('relu'),
  maxTimestep: z.number().int().min(1).default(1000),
  dropout: z.number().min(0).max(0.99).default(0.1),
  /**
   * hidden width of each critic MLP; null (default): the actor's `width`, as the reference builds
   * `Critic(hidden_dim=embed_dim)`. Parsing resolves it (resolveCriticWidth), so a run's config
   * records the width it built.
   */
  criticWidth: z.number().int().min(1).nullable().default(null),
  batchSize: z.number().int().min(1).default(256),
  /** gradient steps actually run: (early_epoch + 1) × stepsPerIteration in run.sh */
  steps: z.number().int().min(1).default(101_000),
  /** the cosine schedule's T_max, in iterations (run.sh max_iters) */
  iterations: z.number().int().min(1).default(500),
  /** gradient steps per iteration; the cosine advances once per iteration */
  stepsPerIteration: z.number().int().min(1).default(1000),
  /** cosine decay of both learning rates (every published run uses it) */
  lrDecay: z.boolean().default(true),
  actorLr: z.number().positive().default(3e-4),
  criticLr: z.number().positive().default(3e-4),
  /** coupled L2 on the actor (torch Adam weight_decay); the critic has none */
  actorWeightDecay: z.number().min(0).default(1e-4),
  /** global-norm clipping of each network's gradient (run.sh grad_norm); null: none */
  clipNorm: z.number().positive().nullable().default(9),
  /** η: weight of the Q-term */
  eta: z.number().min(0).default(1),
  /** η2: weight of the BC loss */
  bcWeight: z.number().min(0).default(1),
  discount: z.number().min(0).max(1).default(0.99),
  /** Polyak weight of the target critics, every step */
  tau: z.number().min(0).max(1).default(0.005),
  emaDecay: z.number().min(0).max(1).default(0.995),
  /** the EMA actor is updated at steps > emaStart (0-based step index) ... */
  emaStart: z.number().int().min(0).default(1000),
  /** ... that are multiples of emaEvery */
  emaEvery: z.number().int().min(1).default(5),
  /** network input = return-to-go / returnScale */
  returnScale: z.number().positive().default(1000),
  /** the targets (raw return units) whose rows seed the candidates; all are used jointly */
  targetReturns: z.array(z.number()).min(1).default([3600, 1800]),
  /** candidate contexts per environment step */
  candidates: z.number().int().min(1).default(50),
  /** softmax: draw a candidate from softmax(Q) (reference); argmax: take the highest Q */
  selection: z.enum(['softmax', 'argmax']).default('softmax'),
  /**
   * units of the critic-derived candidate return: reference = Q − r/scale (raw Q among scaled
   * returns; consistent only when scale is 1); scaled = (Q − r)/scale
   */
  criticReturn: z.enum(['reference', 'scaled']).default('reference'),
  /** the reward transform training applies before returns-to-go and critic targets */
  rewardTransform: z.enum(['none', 'qt-cql-antmaze']).default('none'),
} as const;

/** QT's settings that only the critic, its Q-term and the candidate inference read (RDT has none of them). */
export const QT_CRITIC_FIELDS = {
  criticWidth: true, criticLr: true, eta: true, bcWeight: true, discount: true, tau: true, emaDecay: true,
  emaStart: true, emaEvery: true, candidates: true, selection: true, criticReturn: true,
} as const;

/** QT's fields as parsed, before the critic's width is resolved */
type QtFamilyFields = z.infer<z.ZodObject<typeof QT_FIELDS>>;

/** A QT-family config after parsing: the critic's width is a number. */
export type QtFamilyConfig = Omit<QtFamilyFields, 'criticWidth'> & { criticWidth: number };

/** The critic's width made explicit: an unset (null) criticWidth is the actor's width. */
export function resolveCriticWidth<Config extends { width: number; criticWidth: number | null }>(
  config: Config,
): Omit<Config, 'criticWidth'> & { criticWidth: number } {
  return { ...config, criticWidth: config.criticWidth ?? config.width };
}

/** One candidate per target return at least: the candidates start with the target rows. */
export function checkCandidates(config: { candidates: number; targetReturns: readonly number[] }, issues: z.RefinementCtx): void {
  if (config.candidates < config.targetReturns.length) {
    issues.addIssue({ code: 'custom', path: ['candidates'], message: `needs at least one candidate per target return (${config.targetReturns.length})` });
  }
}

/** The actor network's settings from the (QT, RDT or RVDT) config and the dataset's dimensions. */
export function actorConfig(
  config: Pick<QtFamilyConfig, 'context' | 'width' | 'layers' | 'heads' | 'mlpWidth' | 'activation' | 'maxTimestep' | 'dropout'>,
  context: PolicyContext,
): DecisionTransformerConfig {
  return {
    stateDim: context.obsDim, actionDim: context.actionDim, context: config.context, width: config.width,
    layers: config.layers, heads: config.heads, mlpWidth: config.mlpWidth, activation: config.activation,
    maxTimestep: config.maxTimestep, embeddingDropout: config.dropout, probDropout: config.dropout,
    residDropout: config.dropout, mlpDropout: config.dropout,
    // QT is the kzl code: blocks N(0, 0.02), embeddings and heads PyTorch defaults
    blockInit: 'gpt2', embeddingInit: 'torch',
  };
}

/** torch CosineAnnealingLR stepped once per iteration: the multiplier during 0-based step `step` */
export function iterationCosine(config: Pick<QtFamilyConfig, 'lrDecay' | 'iterations' | 'stepsPerIteration'>): Schedule {
  if (!config.lrDecay) return () => 1;
  const cosine = cosineAnnealing(config.iterations);
  return (step) => cosine(Math.floor(step / config.stepsPerIteration));
}
