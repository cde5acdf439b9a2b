/**
 * The Gaussian action head of Reinformer and of the QT-family stochastic actor: N(tanh(W h), σ²)
 * with σ one learned vector shared by every state (the reference's `log_std`, initialized at 0),
 * its log clipped to [−20, 2] before use, as Reinformer's code does.
 */
import { clip, type Parameter, type Tensor } from '../../engine/index.js';

/** The reference clamps the learned log-std to this range before exponentiating. */
export const LOG_STD_MIN = -20;
export const LOG_STD_MAX = 2;

/** The learned log σ's initial value, 0 (σ = 1); registered by the network as `action_log_std` [A]. */
export function initialLogStd(logStd: Parameter): Parameter {
  logStd.data.fill(0);
  return logStd;
}

/** log σ as the distribution uses it, [A] */
export function clippedLogStd(logStd: Parameter): Tensor {
  return clip(logStd, LOG_STD_MIN, LOG_STD_MAX);
}
