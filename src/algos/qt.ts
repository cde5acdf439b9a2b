/**
 * QT: the Q-value regularized transformer (Hu et al. 2024; charleshsc/QT cb9e1a4, spec section 4).
 *
 * The actor is DT's network (tokens R, s, a; pre-LN GPT-2) plus a trained next-state head at the
 * action token. Twin Mish critics Q1, Q2 score (normalized state, action) pairs per timestep; they
 * never see transformer features. One training step, in the reference's order:
 * 1. critic: n-step targets over each window, bootstrapped at the window's last step with the EMA
 *    actor's action and the target critics' minimum; MSE of both critics; Adam (no decay); clip; step.
 * 2. actor: BC = action MSE + next-state MSE; Q-term = −mean Q_i(s, â) / mean |Q_j(s, â)| with i, j a
 *    coin flip of the two critics and the denominator detached; L = BC + η · Q-term; Adam with
 *    coupled L2 1e-4; clip; step. Gradients reach the actor through the (just updated) online critic.
 * 3. EMA of the actor (0.995, every 5 steps once past step 1000), then Polyak 0.005 on the target critics.
 * Both learning rates follow a cosine over `iterations`, stepped once per iteration (1000 steps).
 *
 * Acting: 50 candidate contexts share the history and differ in their return-to-go rows (the targets
 * repeated consecutively, N(0,1) fillers, N(0, 0.1²) jitter, one row whose current return comes from
 * the target critic); one batched forward; the target critic scores each candidate's action and a
 * candidate is drawn from softmax(Q) (or taken by argmax). docs/algorithms/qt.md lists every quirk kept.
 *
 * This file holds QT's own parts: its config, and the actor's loss. What RVDT shares with it lives in
 * parts/: the networks (actors.ts), the critic, its n-step targets and the Q-term (critic.ts), the
 * update around the actor's loss (critic-regularized.ts), the candidate inference
 * (candidate-acting.ts); the run.sh presets are data (qt-presets.ts).
 */
import { z } from 'zod';
import type { WindowBatch } from '../data/sampler.js';
import { add, keepScalar, mseLoss, reshape, scale, Tensor, type Rng } from '../engine/index.js';
import { withTraining, type AlgorithmDefinition, type PolicyDefinition, type PolicyContext } from './algorithm.js';
import { QT_PRESETS } from './qt-presets.js';
import { nextStateTargets, QtActor } from './parts/actors.js';
import { CANDIDATE_ACTING_SETTINGS, CandidateActingModel } from './parts/candidate-acting.js';
import { qRegularizer, TwinCritic, type QNumerator } from './parts/critic.js';
import { CriticRegularizedAlgorithm, type ActorObjective } from './parts/critic-regularized.js';
import { actorConfig, checkCandidates, QT_FIELDS, resolveCriticWidth } from './parts/qt-family.js';

// ---------------------------------------------------------------------------------------------
// Networks: the actor QtActor (DT's network with a next-state head, parts/actors.ts) and the
// twin critic TwinCritic (parts/critic.ts)

// ---------------------------------------------------------------------------------------------
// Configuration and presets

/**
 * QT's config: every field of the QT family (parts/qt-family.ts), checked for one candidate per
 * target, with the critic's width resolved (unset: the actor's width).
 */
export const QtConfigSchema = z.object(QT_FIELDS).strict().superRefine(checkCandidates).transform(resolveCriticWidth);

export type QtConfig = z.output<typeof QtConfigSchema>;

export { QT_PRESETS };

// ---------------------------------------------------------------------------------------------
// Losses and update

/** The actor's loss terms of one step, as tensors; `total` is what gets differentiated. */
export interface ActorLosses {
  /** MSE of the predicted actions over valid positions */
  actionLoss: Tensor;
  /** MSE of the predicted next states over positions t < K − 1 with mask[t] = 1 */
  stateLoss: Tensor;
  /** actionLoss + stateLoss */
  bcLoss: Tensor;
  /** −mean Q_i / mean |Q_j| (detached denominator) */
  qLoss: Tensor;
  /** bcWeight · (actionLoss + stateLoss) + eta · qLoss */
  total: Tensor;
  /** mean Q_i(s, â) over valid positions, the Q-term's numerator */
  meanQ: Tensor;
}

/**
 * L_actor = η2 · (L_a + L_s) + η · L_Q, for one window batch (spec 4.3):
 *   L_a = Σ m ‖â − a‖² / (A Σ m)                    action MSE over unpadded positions,
 *   L_s = Σ_{t<K−1} m ‖ŝ_{t+1} − s_{t+1}‖² / (S Σ_{t<K−1} m)  next-state MSE,
 *   L_Q = −(Σ m Q_i(s, â) / Σ m) / sg(Σ m |Q_j(s, â)| / Σ m), i, j a coin flip of the two critics;
 * gradients reach the actor through the online critic (just updated).
 */
export function actorLosses(
  actor: QtActor, critic: TwinCritic, batch: WindowBatch, numerator: QNumerator, weights: { bc: number; eta: number },
): ActorLosses {
  const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;
  const { actions, nextStates } = actor.predict(batch);
  const predictedActions = reshape(actions, [B * K, A]);
  const actionLoss = mseLoss(predictedActions, Tensor.borrow(batch.actions, [B * K, A]), { weights: batch.mask });
  const next = nextStateTargets(batch);
  const stateLoss = mseLoss(reshape(nextStates, [B * K, S]), Tensor.borrow(next.targets, [B * K, S]), { weights: next.weights });
  const q = qRegularizer(critic, Tensor.borrow(batch.states, [B * K, S]), predictedActions, batch.mask, numerator);
  const bcLoss = add(actionLoss, stateLoss);
  const total = add(scale(bcLoss, weights.bc), scale(q.loss, weights.eta));
  return { actionLoss, stateLoss, bcLoss, qLoss: q.loss, total, meanQ: q.meanQ };
}

/** QT: the critic-regularized update (parts/critic-regularized.ts) with the actor loss above. */
export class QtAlgorithm extends CriticRegularizedAlgorithm {
  declare readonly config: QtConfig;

  constructor(config: QtConfig, context: PolicyContext, rng: Rng) {
    super(config, context, rng, (network, actorRng) => new QtActor(network, actorRng));
  }

  protected actorObjective(batch: WindowBatch, numerator: QNumerator): ActorObjective {
    const losses = actorLosses(this.actor, this.critic, batch, numerator, { bc: this.config.bcWeight, eta: this.config.eta });
    return {
      total: losses.total,
      terms: {
        bc_loss: keepScalar(losses.bcLoss), action_loss: keepScalar(losses.actionLoss), state_loss: keepScalar(losses.stateLoss),
        q_loss: keepScalar(losses.qLoss), q_mean: keepScalar(losses.meanQ),
      },
    };
  }
}

/** What loading a qt policy file needs (src/deploy): no training class is referenced from here. */
export const qtPolicyDefinition: PolicyDefinition<QtConfig> = {
  name: 'qt',
  configSchema: QtConfigSchema,
  actingSettings: CANDIDATE_ACTING_SETTINGS,
  createPolicyModel: (config, context, rng) => {
    const actor = new QtActor(actorConfig(config, context), rng);
    const criticTarget = new TwinCritic(context.obsDim, context.actionDim, config.criticWidth, rng);
    return new CandidateActingModel(actor, criticTarget, config, context);
  },
};

export const qtAlgorithm: AlgorithmDefinition<QtConfig> = /* @__PURE__ */ withTraining(qtPolicyDefinition, {
  description: 'QT (charleshsc/QT): DT actor regularized by twin n-step critics; acts by critic-weighted choice among 50 candidates',
  presets: QT_PRESETS,
  sampler: 'qt',
  returnScale: (config) => config.returnScale,
  rewardTransform: (config) => config.rewardTransform,
  create: (config, context, rng) => new QtAlgorithm(config, context, rng),
});
