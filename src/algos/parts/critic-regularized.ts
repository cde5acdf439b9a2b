/**
 * QT's update around any actor objective (charleshsc/QT cb9e1a4, spec section 4), shared by QT and
 * RVDT, which differ only in the actor's loss. One training step, in the reference's order:
 * 1. critic: n-step targets over each window, bootstrapped at the window's last step with the EMA
 *    actor's action and the target critics' minimum; MSE of both critics; Adam (no decay); clip; step.
 * 2. actor: the algorithm's objective (QT: BC + η·Q-term) through the just-updated online critic;
 *    Adam with coupled L2; clip; step.
 * 3. EMA of the actor (every emaEvery steps once past emaStart), then Polyak τ on the target critics.
 * Both learning rates follow a cosine over `iterations`, stepped once per iteration.
 */
import type { WindowBatch } from '../../data/sampler.js';
import { keepScalar, maskedRowSumMean, stageUploads, Tensor, type Rng, type Scalar } from '../../engine/index.js';
import type { Module } from '../../nn/module.js';
import { Adam, type Schedule } from '../../nn/optim.js';
import { gradientStep } from '../../nn/step.js';
import { settled, type Algorithm, type PolicyContext, type StepMetrics } from '../algorithm.js';
import type { ActorFactory, QtActor } from './actors.js';
import { CandidateActingModel } from './candidate-acting.js';
import {
  bootstrapValues, drawQNumerator, nStepParts, nStepTargets, softUpdate, TwinCritic, twinCriticLoss, type NStepParts, type QNumerator,
} from './critic.js';
import { actorConfig, iterationCosine, type QtFamilyConfig } from './qt-family.js';

/**
 * The actor's loss of one step and the scalars it logs, in logging order: values kept with
 * `keepScalar` (read later on a device) or numbers the host computed from the batch alone.
 */
export interface ActorObjective {
  total: Tensor;
  terms: Record<string, Scalar | number>;
}

export abstract class CriticRegularizedAlgorithm extends CandidateActingModel implements Algorithm {
  /** the bootstrap actor: starts as a copy of the actor, then an EMA of it; always in train mode (dropout on), as in the reference */
  readonly emaActor: QtActor;
  readonly critic: TwinCritic;
  readonly actorOptimizer: Adam;
  readonly criticOptimizer: Adam;
  private readonly schedule: Schedule;

  constructor(override readonly config: QtFamilyConfig, context: PolicyContext, protected readonly rng: Rng, createActor: ActorFactory) {
    // the reference's construction order (actor, EMA copy, critic, target critic) fixes the initial weights under a seed
    const network = actorConfig(config, context);
    const actor = createActor(network, rng);
    const emaActor = createActor(network, rng);
    emaActor.copyFrom(actor);
    const critic = new TwinCritic(context.obsDim, context.actionDim, config.criticWidth, rng);
    const criticTarget = new TwinCritic(context.obsDim, context.actionDim, config.criticWidth, rng);
    criticTarget.copyFrom(critic);
    super(actor, criticTarget, config, context);
    this.emaActor = emaActor;
    this.critic = critic;
    this.actorOptimizer = new Adam(actor.parameters(), { lr: config.actorLr, weightDecay: config.actorWeightDecay });
    this.criticOptimizer = new Adam(critic.parameters(), { lr: config.criticLr });
    this.schedule = iterationCosine(config);
  }

  /** step: the 0-based index of this gradient step in the run */
  update(batch: WindowBatch, step: number): StepMetrics {
    const windows = { batchSize: batch.batchSize, context: batch.contextLength, rewards: batch.rewards, terminated: batch.terminated, mask: batch.mask };
    const parts = nStepParts(windows, this.config.discount);
    // on a device the targets' batch-only parts go up in one transfer (nothing happens on the CPU)
    const unstage = stageUploads([parts.rewardSums, parts.bootstrapWeights, parts.weights, parts.lastRows]);
    try {
      return this.updateWith(batch, step, parts);
    } finally {
      unstage();
    }
  }

  private updateWith(batch: WindowBatch, step: number, parts: NStepParts): StepMetrics {
    const { config } = this;
    const { batchSize: B, contextLength: K, obsDim: S, actionDim: A } = batch;

    // 1. critic
    let targetQMean: Scalar | number = 0;
    const critic = gradientStep({
      optimizer: this.criticOptimizer, clipNorm: config.clipNorm, schedule: this.schedule, scheduleStep: step, term: 'critic_loss',
      loss: () => {
        const targets = nStepTargets(parts, bootstrapValues(this.emaActor, this.criticTarget, batch, parts.lastRows));
        targetQMean = keepScalar(maskedRowSumMean(targets, parts.weights));
        return twinCriticLoss(this.critic, Tensor.borrow(batch.states, [B * K, S]), Tensor.borrow(batch.actions, [B * K, A]), targets, parts.weights);
      },
    });

    // 2. actor, through the critic just updated
    const numerator = this.drawNumerator();
    let terms: ActorObjective['terms'] = {};
    const actor = gradientStep({
      optimizer: this.actorOptimizer, clipNorm: config.clipNorm, schedule: this.schedule, scheduleStep: step, term: 'actor_loss',
      loss: () => {
        const objective = this.actorObjective(batch, numerator);
        terms = objective.terms;
        return objective.total;
      },
      parts: () => terms,
    });

    // 3. EMA actor when due, then the target critics
    if (step > config.emaStart && step % config.emaEvery === 0) softUpdate(this.emaActor, this.actor, 1 - config.emaDecay);
    softUpdate(this.criticTarget, this.critic, config.tau);

    return settled({
      critic_loss: critic.loss, actor_loss: actor.loss, ...terms, target_q_mean: targetQMean,
      critic_grad_norm: critic.gradNorm, actor_grad_norm: actor.gradNorm, lr_actor: actor.lr, lr_critic: critic.lr,
    });
  }

  /** the reference's coin for the Q-term's numerator (a seam so that a parity test can replay torch's draw) */
  protected drawNumerator(): QNumerator {
    return drawQNumerator(this.rng);
  }

  /** the actor's loss, built from scratch inside the actor's gradient step */
  protected abstract actorObjective(batch: WindowBatch, numerator: QNumerator): ActorObjective;

  modules(): Record<string, Module> {
    return { actor: this.actor, ema_actor: this.emaActor, critic: this.critic, critic_target: this.criticTarget };
  }

  optimizers() {
    return {
      actor: { optimizer: this.actorOptimizer, names: this.actor.namedParameters().map(([n]) => n) },
      critic: { optimizer: this.criticOptimizer, names: this.critic.namedParameters().map(([n]) => n) },
    };
  }
}
