/**
 * A policy file as one ONNX graph: one forward pass of the acting network over a context window,
 * with the state normalization, the return scale and the timestep clipping inside the graph, so a
 * runtime feeds raw observations and returns-to-go in reward units. Exports DT's network,
 * Reinformer's network and the actor of QT, RDT and RVDT (deterministic or Gaussian head: the
 * Gaussian's mean, which is what they execute). The candidate choice that QT and RVDT make with
 * their critic is acting logic around the forward pass, not part of it, and stays out of the graph.
 */
import type { Parameter } from '../engine/index.js';
import { DecisionTransformer } from '../algos/parts/actors.js';
import { ReinformerNetwork } from '../algos/reinformer.js';
import type { Module } from '../nn/module.js';
import type { TrajectoryTransformer } from '../nn/transformer.js';
import type { RestoredPolicy } from '../deploy/policy-file.js';
import { GraphBuilder, ONNX_IR_VERSION, ONNX_OPSET, valueInfo } from './onnx-graph.js';
import { encodeOnnxModel, OnnxDataType, type OnnxValueInfo } from './onnx-proto.js';

export class OnnxExportError extends Error {}

/** what masked attention scores get before the softmax (exp underflows to exactly 0 in float32) */
const MASKED_SCORE = -1e9;

interface Network {
  kind: 'decision-transformer' | 'reinformer';
  module: Module;
  transformer: TrajectoryTransformer;
}

function networkOf(restored: RestoredPolicy): Network {
  for (const module of Object.values(restored.model.policyModules())) {
    if (module instanceof ReinformerNetwork) return { kind: 'reinformer', module, transformer: module.transformer };
    if (module instanceof DecisionTransformer) return { kind: 'decision-transformer', module, transformer: module.transformer };
  }
  throw new OnnxExportError(`${restored.header.algo}: no exportable network (a decision transformer or Reinformer network) in this policy`);
}

/** Builds the ONNX model's bytes for a restored policy. */
export function exportOnnx(restored: RestoredPolicy, producerVersion: string): Uint8Array {
  const { header } = restored;
  const network = networkOf(restored);
  const parameters = new Map<string, Parameter>(network.module.namedParameters());
  const weight = (name: string): Parameter => {
    const found = parameters.get(name);
    if (found === undefined) throw new OnnxExportError(`${header.algo}: the network has no parameter ${name}`);
    return found;
  };
  const c = network.transformer.config;
  const K = c.context;
  const T = 3 * K;
  const C = c.width;
  const H = c.heads;
  const D = C / H;
  const S = header.context.obsDim;
  const A = header.context.actionDim;
  const usesMask = network.kind === 'decision-transformer';
  const g = new GraphBuilder();

  const linear = (x: string, name: string): string => {
    const w = weight(`${name}.weight`);
    const [outFeatures, inFeatures] = w.shape as [number, number];
    return g.linear(x, name, w.data, outFeatures, inFeatures, parameters.get(`${name}.bias`)?.data ?? null);
  };
  const layerNorm = (x: string, name: string): string => g.layerNorm(x, name, weight(`${name}.weight`).data, weight(`${name}.bias`).data, 1e-5);

  // inputs in the units a runtime has: raw observations, returns in reward units, step indices
  const states = g.node('Div', [
    g.node('Sub', ['observations', g.floats('state_mean', [S], header.context.stateMean)]),
    g.floats('state_std', [S], header.context.stateStd),
  ]);
  const returns = g.node('Div', ['returns_to_go', g.floats('return_scale', [], [header.returnScale])]);
  const timesteps = g.node('Max', [g.node('Min', ['timesteps', g.int64s('last_timestep', [], [c.maxTimestep - 1])]), g.int64s('first_timestep', [], [0])]);

  const time = g.node('Gather', [g.floats('transformer.embed_timestep.weight', [c.maxTimestep, C], weight('transformer.embed_timestep.weight').data), timesteps], { axis: 0 });
  const embedded = {
    return: g.node('Add', [linear(returns, 'transformer.embed_return'), time]),
    state: g.node('Add', [linear(states, 'transformer.embed_state'), time]),
    action: g.node('Add', [linear('actions', 'transformer.embed_action'), time]),
  };
  const axis2 = g.int64s('axis_2', [1], [2]);
  const tokens = g.reshape(g.node('Concat', c.tokenOrder.map((kind) => g.node('Unsqueeze', [embedded[kind], axis2])), { axis: 2 }), [0, T, C]);
  let h = layerNorm(tokens, 'transformer.embed_ln');

  // visible[b, 0, i, j] = 1 when token i may attend to token j: causal, and j is not padding
  const causal = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) causal[i * T + j] = 1;
  let visible = g.floats('causal_mask', [1, 1, T, T], causal);
  if (usesMask) {
    const perStep = g.node('Unsqueeze', ['attention_mask', axis2]);
    const perToken = g.reshape(g.node('Concat', [perStep, perStep, perStep], { axis: 2 }), [0, 1, 1, T]);
    visible = g.node('Mul', [visible, perToken]);
  }
  const scoreBias = g.node('Mul', [g.node('Sub', [visible, g.floats('one', [], [1])]), g.floats('masked_score', [], [-MASKED_SCORE])]);

  const attention = (x: string, prefix: string): string => {
    let q: string; let k: string; let v: string;
    if (parameters.has(`${prefix}.c_attn.weight`)) {
      const w = weight(`${prefix}.c_attn.weight`).data;
      const b = weight(`${prefix}.c_attn.bias`).data;
      [q, k, v] = [0, 1, 2].map((part) => g.linear(x, `${prefix}.c_attn.${'qkv'[part]}`, w.subarray(part * C * C, (part + 1) * C * C), C, C, b.subarray(part * C, (part + 1) * C))) as [string, string, string];
    } else {
      [q, k, v] = ['query', 'key', 'value'].map((name) => linear(x, `${prefix}.${name}`)) as [string, string, string];
    }
    const heads = (y: string, perm: number[]): string => g.node('Transpose', [g.reshape(y, [0, T, H, D])], { perm });
    const scores = g.node('Mul', [g.node('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]), g.floats('score_scale', [], [1 / Math.sqrt(D)])]);
    // a token with no visible key (padding) gets zeros, as the engine's kernel gives it
    const probabilities = g.node('Mul', [g.node('Softmax', [g.node('Add', [scores, scoreBias])], { axis: -1 }), visible]);
    const mixed = g.reshape(g.node('Transpose', [g.node('MatMul', [probabilities, heads(v, [0, 2, 1, 3])])], { perm: [0, 2, 1, 3] }), [0, T, C]);
    return linear(mixed, `${prefix}.c_proj`);
  };
  const mlp = (x: string, prefix: string): string => linear(g.activation(linear(x, `${prefix}.c_fc`), c.activation), `${prefix}.c_proj`);

  for (let layer = 0; layer < c.layers; layer++) {
    const p = `transformer.blocks.${layer}`;
    if (c.blockStyle === 'pre-ln') {
      const mid = g.node('Add', [h, attention(layerNorm(h, `${p}.ln_1`), `${p}.attn`)]);
      h = g.node('Add', [mid, mlp(layerNorm(mid, `${p}.ln_2`), `${p}.mlp`)]);
    } else {
      const mid = layerNorm(g.node('Add', [h, attention(h, `${p}.attn`)]), `${p}.ln_1`);
      h = layerNorm(g.node('Add', [mid, mlp(mid, `${p}.mlp`)]), `${p}.ln_2`);
    }
  }
  if (c.finalLayerNorm) h = layerNorm(h, 'transformer.ln_f');
  const perStep = g.reshape(h, [0, K, 3, C]);
  const token = (kind: 'return' | 'state' | 'action'): string => g.node('Gather', [perStep, g.int64s(`${kind}_token`, [], [c.tokenOrder.indexOf(kind)])], { axis: 2 });

  const batch = 'batch';
  const inputs: OnnxValueInfo[] = [
    valueInfo('observations', OnnxDataType.FLOAT, [batch, K, S], 'raw observations of the window\'s steps, oldest first (normalized inside the graph with the training data\'s mean and std)'),
    valueInfo('actions', OnnxDataType.FLOAT, [batch, K, A], 'the actions predicted at the window\'s earlier steps (predicted_actions, before clamping to the bounds); zeros at the current step and at padding'),
    valueInfo('returns_to_go', OnnxDataType.FLOAT, [batch, K, 1], network.kind === 'reinformer'
      ? 'the returns the network predicted at the earlier steps (predicted_returns, reward units); 0 at the current step'
      : 'returns-to-go in reward units: the target return minus the rewards collected so far (divided by the return scale inside the graph)'),
    valueInfo('timesteps', OnnxDataType.INT64, [batch, K], 'the step index within the episode (0 at the first step), clipped to the timestep table inside the graph'),
  ];
  if (usesMask) inputs.push(valueInfo('attention_mask', OnnxDataType.FLOAT, [batch, K], '1 for a real step, 0 for left padding (windows shorter than the context)'));

  const outputs: OnnxValueInfo[] = [];
  if (network.kind === 'reinformer') {
    g.node('Tanh', [linear(token('return'), 'predict_action_mean')], {}, 'predicted_actions');
    g.node('Mul', [linear(token('state'), 'predict_return'), g.floats('return_unscale', [], [header.returnScale])], {}, 'predicted_returns');
    outputs.push(
      valueInfo('predicted_actions', OnnxDataType.FLOAT, [batch, K, A], 'the Gaussian head\'s mean tanh(W h) at each return token, in [-1, 1]; clamp to the action bounds to act'),
      valueInfo('predicted_returns', OnnxDataType.FLOAT, [batch, K, 1], 'the in-distribution maximal return-to-go predicted at each state token, reward units'),
    );
  } else {
    g.node('Tanh', [linear(token('state'), 'predict_action')], {}, 'predicted_actions');
    outputs.push(valueInfo('predicted_actions', OnnxDataType.FLOAT, [batch, K, A], 'the action predicted at each state token, in [-1, 1]; clamp to the action bounds to act'));
  }

  const metadata: Record<string, unknown> = {
    algorithm: header.algo,
    network: network.kind,
    contextLength: K,
    observationDim: S,
    actionDim: A,
    actionLow: header.context.actionLow,
    actionHigh: header.context.actionHigh,
    returnScale: header.returnScale,
    maxTimestep: c.maxTimestep,
    maxEpisodeSteps: header.context.maxEpisodeSteps,
    evaluationConditions: header.evaluationConditions,
    targetReturns: header.evaluationConditions.flatMap((condition) => (condition.targetReturn === undefined ? [] : [condition.targetReturn])),
    datasetId: header.datasetId,
    envId: header.envId,
    trainingStep: header.step,
  };
  return encodeOnnxModel({
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'stitch-rl',
    producer_version: producerVersion,
    doc_string: `${header.algo} policy (${header.datasetId}): one forward pass over a ${K}-step window; see docs/deploy.md`,
    graph: { name: `${header.algo}_policy`, doc_string: '', node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) })),
  });
}
