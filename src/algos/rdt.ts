/**
 * RDT: the return-rebalanced Decision Transformer (Bai et al., "Rebalancing Return Coverage for
 * Conditional Sequence Modeling in Offline RL"; paper only, no public code: spec section 5). What
 * RVDT (rvdt.ts) shares with it is in parts/rebalancing.ts. docs/algorithms/rvdt.md records every
 * decision and its reason.
 *
 * Return-conditioned policies are poorly trained where high-return trajectories are rare. RDT adds
 * α·KL(π_θ ‖ π^e) on the expert subset D_E (the top trajectories by return); for a Gaussian policy
 * this is the NLL with expert positions weighted 1 + α (Proposition 1), which is what is optimized.
 * Two explicit rebalancing forms, as in the poster's ablation:
 * - `kl`: the weighted NLL (MSE for the deterministic head), normalized `pooled` (one weighted mean
 *   over all real positions, eq. 2) or `split` (data mean + α · expert mean, eq. 1 read literally);
 * - `dup`: expert trajectories drawn 1 + α times as often by the sampler (the definition's `prepare`
 *   returns the sampler's episode weights), the loss unweighted.
 * Policy heads: `deterministic` (QT's tanh mean, MSE) or `stochastic` (N(tanh mean, σ²) with a learned
 * state-independent σ, Gaussian NLL, as Reinformer's head).
 *
 * The family runs on QT's code base (actor network with its next-state head, Adam with coupled L2,
 * per-iteration cosine, QT's sampler and presets) so that the ablation's columns differ only in the
 * component they name. `--algo rdt` has no critic (the poster's DT, DT-Dup and RDT columns, here the variants
 * `qt-bc`, `dt-dup` and `rdt`: the poster's "DT" is QT's actor trained by behavior cloning, not what
 * `--algo dt` trains) and acts like DT, one target return per evaluation condition; `--algo rvdt`
 * adds QT's critic and inference.
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import { add, keepScalar, type Rng, type Scalar } from '../engine/index.js';
import type { Module } from '../nn/module.js';
import { Adam, type Schedule } from '../nn/optim.js';
import { gradientStep } from '../nn/step.js';
import type { TransformerInput } from '../nn/transformer.js';
import {
  predictWithoutGrad, withTraining,
  type Algorithm, type AlgorithmDefinition, type PolicyDefinition, type DatasetPreparation, type EvaluationCondition, type PolicyContext, type PolicyModel,
  type SequencePolicy, settled, type StepMetrics,
} from './algorithm.js';
import { QT_PRESETS } from './qt-presets.js';
import { actorFactory, type QtActor } from './parts/actors.js';
import { actorConfig, iterationCosine, QT_CRITIC_FIELDS, QT_FIELDS } from './parts/qt-family.js';
import {
  actionLossWeighting, behaviorLosses, checkVariant, expandVariant, expertPositions, nameVariant, prepareRebalancing,
  REBALANCING_FIELDS, type VariantComponents,
} from './parts/rebalancing.js';
import { ReturnConditionedPolicy } from './parts/return-conditioned-policy.js';

// ---------------------------------------------------------------------------------------------
// Network: QT's actor with the deterministic tanh head or the Gaussian one (parts/actors.ts)

// ---------------------------------------------------------------------------------------------
// Configuration and presets

/** The ablation's columns without Q-value regularization: `--algo rdt --set variant=NAME`. */
export const RDT_VARIANTS = {
  /** the poster's "DT" column: QT's actor trained by plain behavior cloning (not `--algo dt`, kzl's DT) */
  'qt-bc': { rebalance: 'none', policy: 'deterministic' },
  'dt-dup': { rebalance: 'dup', policy: 'stochastic' },
  rdt: { rebalance: 'kl', policy: 'stochastic' },
} as const satisfies Readonly<Record<string, VariantComponents>>;

/** Former variant names that saved configs may hold, read as the current ones. */
const RDT_FORMER_VARIANTS = { dt: 'qt-bc' } as const;

const RdtFieldsSchema = z.object(QT_FIELDS).omit(QT_CRITIC_FIELDS).extend({
  /** the ablation column trained (input: a shorthand for its components; output: the components' name) */
  variant: z.enum(['qt-bc', 'dt-dup', 'rdt']).nullable().default(null),
  ...REBALANCING_FIELDS,
}).strict();

export const RdtConfigSchema = z.preprocess(
  expandVariant(RDT_VARIANTS, RDT_FORMER_VARIANTS),
  RdtFieldsSchema.superRefine(checkVariant(RDT_VARIANTS)),
).transform(nameVariant(RDT_VARIANTS));

export type RdtConfig = z.output<typeof RdtConfigSchema>;

/** QT's run.sh presets (K, clip norm, return scale, targets, steps and cosine) without the critic's η. */
export const RDT_PRESETS: Record<string, Partial<RdtConfig>> = Object.fromEntries(
  Object.entries(QT_PRESETS).map(([id, { eta, ...withoutCritic }]) => [id, withoutCritic]),
);

// ---------------------------------------------------------------------------------------------
// Loss and update

/** What acting needs: the actor, acting with its mean action (the stochastic head's σ is a training device). */
class RdtPolicyModel implements PolicyModel {
  constructor(readonly actor: QtActor, readonly config: RdtConfig, readonly context: PolicyContext) {}

  policyModules(): Record<string, Module> {
    return { actor: this.actor };
  }

  /** without a critic there is nothing to choose among candidates with: one condition per target, as DT */
  evaluationConditions(): EvaluationCondition[] {
    return this.config.targetReturns.map((target) => ({ label: `target ${target}`, targetReturn: target }));
  }

  createPolicy(numEnvs: number, condition: EvaluationCondition): SequencePolicy {
    if (condition.targetReturn === undefined) throw new Error('RDT acts towards a target return; the condition has none');
    return new ReturnConditionedPolicy(this.actor, this.config, this.context, numEnvs, condition.targetReturn);
  }

  setTraining(training: boolean): void {
    this.actor.train(training);
  }

  /** the tanh mean (the stochastic head's Gaussian mean), the prediction action_mse scores */
  predictActions(batch: TransformerInput): Float32Array {
    return predictWithoutGrad(() => this.actor.forward(batch));
  }
}

/**
 * L = L_a^w + L_s per batch, one Adam step (coupled L2, as QT's actor) on QT's per-iteration cosine:
 * L_a^w the action loss under the variant's weighting (parts/rebalancing.ts: Σ m (1 + α e) ℓ / Σ m
 * for kl pooled, ℓ the squared error or the Gaussian NLL), L_s QT's next-state MSE.
 */
export class RdtAlgorithm extends RdtPolicyModel implements Algorithm {
  readonly optimizer: Adam;
  private readonly schedule: Schedule;

  constructor(config: RdtConfig, context: PolicyContext, rng: Rng, private readonly preparation?: DatasetPreparation) {
    super(actorFactory(config.policy)(actorConfig(config, context), rng), config, context);
    this.optimizer = new Adam(this.actor.parameters(), { lr: config.actorLr, weightDecay: config.actorWeightDecay });
    this.schedule = iterationCosine(config);
  }

  update(batch: WindowBatch, step: number): StepMetrics {
    const expert = expertPositions(batch, this.preparation?.expertEpisodes);
    const weighting = actionLossWeighting(batch.mask, expert, this.config);
    let logged: Record<string, Scalar | number> = {};
    const result = gradientStep({
      optimizer: this.optimizer, clipNorm: this.config.clipNorm, schedule: this.schedule, scheduleStep: step,
      loss: () => {
        const losses = behaviorLosses(this.actor, batch, expert, weighting);
        logged = { action_loss: keepScalar(losses.actionLoss), state_loss: keepScalar(losses.stateLoss), ...losses.terms };
        return add(losses.actionLoss, losses.stateLoss);
      },
      parts: () => logged,
    });
    return settled({ loss: result.loss, ...logged, grad_norm: result.gradNorm, lr: result.lr });
  }

  modules(): Record<string, Module> {
    return { actor: this.actor };
  }

  optimizers() {
    return { actor: { optimizer: this.optimizer, names: this.actor.namedParameters().map(([n]) => n) } };
  }
}

/** What loading a rdt policy file needs (src/deploy): no training class is referenced from here. */
export const rdtPolicyDefinition: PolicyDefinition<RdtConfig> = {
  name: 'rdt',
  configSchema: RdtConfigSchema,
  actingSettings: ['targetReturns'] satisfies (keyof RdtConfig)[],
  createPolicyModel: (config, context, rng) => new RdtPolicyModel(actorFactory(config.policy)(actorConfig(config, context), rng), config, context),
};

export const rdtAlgorithm: AlgorithmDefinition<RdtConfig> = /* @__PURE__ */ withTraining(rdtPolicyDefinition, {
  description: 'RDT (return-rebalanced DT; ablation columns qt-bc, dt-dup, rdt): expert trajectories up-weighted by 1 + α in the NLL or duplicated in sampling',
  presets: RDT_PRESETS,
  sampler: 'qt',
  returnScale: (config) => config.returnScale,
  rewardTransform: (config) => config.rewardTransform,
  prepare: (store, config) => prepareRebalancing(store, config),
  create: (config, context, rng, preparation) => new RdtAlgorithm(config, context, rng, preparation),
});
