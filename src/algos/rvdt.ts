/**
 * RVDT: the return-rebalanced, value-regularized Decision Transformer (Bai et al.; paper only, spec
 * section 5; docs/algorithms/rvdt.md). Eq. (3): the return-conditioned NLL, minus η·E_{a∼π_θ} Q(s, a),
 * plus α·KL towards the expert policy on D_E — RDT's rebalanced behavior cloning
 * (parts/rebalancing.ts) on top of QT's critic and Q-term ("implicit rebalancing").
 *
 * Everything but the actor's loss is QT's and is shared, not copied (parts/critic-regularized.ts,
 * parts/candidate-acting.ts): twin critics
 * with n-step targets bootstrapped by the EMA actor's mean action, the critic step first, the Q-term
 * through the just-updated critic, EMA and Polyak updates, the per-iteration cosine, and QT's
 * 50-candidate inference with the target critic (on the Gaussian means for the stochastic head).
 * The actor's loss replaces QT's BC term:
 *   L = bcWeight · (rebalanced action loss + next-state MSE) + η · Q-term
 * with the Q-term (QT's qRegularizer, unchanged) evaluated at a reparameterized sample
 * a = μ + σ ⊙ ε of the stochastic head (eq. 3's a ∼ π_θ; `qAction: mean` evaluates it at μ), and at
 * the tanh mean for the deterministic head — where the `qt` variant reproduces QT's update exactly.
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import { add, keepScalar, scale, Tensor, type Rng } from '../engine/index.js';
import { withTraining, type AlgorithmDefinition, type PolicyDefinition, type DatasetPreparation, type PolicyContext } from './algorithm.js';
import { QT_PRESETS } from './qt-presets.js';
import { actorFactory } from './parts/actors.js';
import { CANDIDATE_ACTING_SETTINGS, CandidateActingModel } from './parts/candidate-acting.js';
import { qRegularizer, TwinCritic, type QNumerator } from './parts/critic.js';
import { CriticRegularizedAlgorithm, type ActorObjective } from './parts/critic-regularized.js';
import { actorConfig, checkCandidates, QT_FIELDS, resolveCriticWidth } from './parts/qt-family.js';
import {
  actionLossWeighting, behaviorLosses, checkVariant, expandVariant, expertPositions, nameVariant, prepareRebalancing,
  REBALANCING_FIELDS, reparameterizedActions, type VariantComponents,
} from './parts/rebalancing.js';

// ---------------------------------------------------------------------------------------------
// Networks: QT's actor with either head (parts/actors.ts) and QT's twin critic (parts/critic.ts)

// ---------------------------------------------------------------------------------------------
// Configuration and presets (QT's run.sh presets)

/** The ablation's columns with Q-value regularization: `--algo rvdt --set variant=NAME`. */
export const RVDT_VARIANTS = {
  qt: { rebalance: 'none', policy: 'deterministic' },
  vdt: { rebalance: 'none', policy: 'stochastic' },
  'rvdt-dup': { rebalance: 'dup', policy: 'stochastic' },
  'rvdt-determ': { rebalance: 'kl', policy: 'deterministic' },
  rvdt: { rebalance: 'kl', policy: 'stochastic' },
} as const satisfies Readonly<Record<string, VariantComponents>>;

const RvdtFieldsSchema = z.object(QT_FIELDS).extend({
  /** the ablation column trained (input: a shorthand for its components; output: the components' name) */
  variant: z.enum(['qt', 'vdt', 'rvdt-dup', 'rvdt-determ', 'rvdt']).nullable().default(null),
  ...REBALANCING_FIELDS,
  /** where the stochastic head's Q-term is evaluated: a reparameterized sample (eq. 3) or the mean */
  qAction: z.enum(['sample', 'mean']).default('sample'),
});

export const RvdtConfigSchema = z.preprocess(
  expandVariant(RVDT_VARIANTS),
  RvdtFieldsSchema.strict().superRefine(checkCandidates).superRefine(checkVariant(RVDT_VARIANTS)),
).transform((config) => resolveCriticWidth(nameVariant(RVDT_VARIANTS)(config)));

export type RvdtConfig = z.output<typeof RvdtConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Loss and update

/**
 * QT's critic-regularized update (parts/critic-regularized.ts) with eq. (3)'s actor loss:
 *   L = bcWeight · (L_a^w + L_s) + η · L_Q(a),  a = μ + σ ⊙ ε (stochastic, qAction sample) or μ,
 * L_a^w the rebalanced action loss, L_s QT's next-state MSE, L_Q QT's normalized Q-term.
 */
export class RvdtAlgorithm extends CriticRegularizedAlgorithm {
  declare readonly config: RvdtConfig;

  constructor(config: RvdtConfig, context: PolicyContext, rng: Rng, private readonly preparation?: DatasetPreparation) {
    super(config, context, rng, actorFactory(config.policy));
  }

  /** rebalanced BC through the chosen head, and QT's Q-term through the critic the update just stepped */
  protected actorObjective(batch: WindowBatch, numerator: QNumerator): ActorObjective {
    const { config } = this;
    const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;
    const expert = expertPositions(batch, this.preparation?.expertEpisodes);
    const bc = behaviorLosses(this.actor, batch, expert, actionLossWeighting(batch.mask, expert, config));
    let qActions = bc.means;
    if (bc.logStd !== null && config.qAction === 'sample') {
      // ε from the run's Rng on the host, then uploaded (on a device) like any input
      const noise = Float64Array.from({ length: B * K * A }, () => this.rng.normal());
      qActions = reparameterizedActions(bc.means, bc.logStd, Tensor.from(noise, [B * K, A], bc.means.dtype));
    }
    const q = qRegularizer(this.critic, Tensor.borrow(batch.states, [B * K, S]), qActions, batch.mask, numerator);
    const bcLoss = add(bc.actionLoss, bc.stateLoss);
    const total = add(scale(bcLoss, config.bcWeight), scale(q.loss, config.eta));
    return {
      total,
      terms: {
        bc_loss: keepScalar(bcLoss), action_loss: keepScalar(bc.actionLoss), state_loss: keepScalar(bc.stateLoss),
        q_loss: keepScalar(q.loss), q_mean: keepScalar(q.meanQ), ...bc.terms,
      },
    };
  }
}

/** What loading a rvdt policy file needs (src/deploy): no training class is referenced from here. */
export const rvdtPolicyDefinition: PolicyDefinition<RvdtConfig> = {
  name: 'rvdt',
  configSchema: RvdtConfigSchema,
  actingSettings: CANDIDATE_ACTING_SETTINGS,
  createPolicyModel: (config, context, rng) => {
    const actor = actorFactory(config.policy)(actorConfig(config, context), rng);
    const criticTarget = new TwinCritic(context.obsDim, context.actionDim, config.criticWidth, rng);
    return new CandidateActingModel(actor, criticTarget, config, context);
  },
};

export const rvdtAlgorithm: AlgorithmDefinition<RvdtConfig> = /* @__PURE__ */ withTraining(rvdtPolicyDefinition, {
  description: 'RVDT (ablation columns qt, vdt, rvdt-dup, rvdt-determ, rvdt): QT\'s critic and Q-term with expert rebalancing and a Gaussian policy; QT\'s candidate inference',
  presets: QT_PRESETS,
  sampler: 'qt',
  returnScale: (config) => config.returnScale,
  rewardTransform: (config) => config.rewardTransform,
  prepare: (store, config) => prepareRebalancing(store, config),
  create: (config, context, rng, preparation) => new RvdtAlgorithm(config, context, rng, preparation),
});
