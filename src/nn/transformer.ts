/**
 * Self-attention, the two block styles of the references, and the trajectory transformer trunk
 * shared by DT, QT, RDT/RVDT (returns, states, actions) and Reinformer (states, returns, actions).
 */
import {
  add, attention, mul, noGrad, reshape, select, stack, Tensor, type Activation, type FloatArray, type Rng,
} from '../engine/index.js';
import type { InitScheme } from './init.js';
import { Dropout, Embedding, LayerNorm, Linear, Mlp } from './layers.js';
import { Module } from './module.js';

export interface AttentionConfig {
  width: number;
  heads: number;
  /** dropout on the attention probabilities (GPT-2) */
  probDropout: number;
  /** dropout on the attention output, before the projection (Reinformer) */
  outputDropout: number;
  /** dropout after the output projection */
  residDropout: number;
  /** one [3C, C] projection (GPT-2) or separate query/key/value layers (Reinformer) */
  fusedQkv: boolean;
  init: InitScheme;
}

export class SelfAttention extends Module {
  private readonly qkvLayers: Linear[];
  readonly c_proj: Linear;
  private readonly probDropout: Dropout;
  private readonly outputDropout: Dropout;
  private readonly residDropout: Dropout;

  constructor(readonly config: AttentionConfig, rng: Rng) {
    super();
    const { width, init } = config;
    if (width % config.heads !== 0) throw new RangeError(`attention width ${width} is not divisible by ${config.heads} heads`);
    this.qkvLayers = config.fusedQkv
      ? [this.addModule('c_attn', new Linear(width, 3 * width, rng, { init }))]
      : ['query', 'key', 'value'].map((name) => this.addModule(name, new Linear(width, width, rng, { init })));
    this.c_proj = this.addModule('c_proj', new Linear(width, width, rng, { init }));
    this.probDropout = this.addModule('attn_dropout', new Dropout(config.probDropout, rng));
    this.outputDropout = this.addModule('out_dropout', new Dropout(config.outputDropout, rng));
    this.residDropout = this.addModule('resid_dropout', new Dropout(config.residDropout, rng));
  }

  /** x [B, T, C]; keyMask [B * T] (1 real, 0 padding) or null */
  forward(x: Tensor, keyMask: Tensor | FloatArray | null): Tensor {
    const projections = this.qkvLayers.map((layer) => layer.forward(x));
    const qkv = projections.length === 1 ? (projections[0] as Tensor) : concatLast(projections);
    const { p, seed } = this.probDropout.nextSeed();
    const mixed = attention(qkv, { heads: this.config.heads, causal: true, keyMask, dropout: p, seed });
    return this.residDropout.forward(this.c_proj.forward(this.outputDropout.forward(mixed)));
  }
}

function concatLast(parts: Tensor[]): Tensor {
  const [b, t, c] = (parts[0] as Tensor).shape as [number, number, number];
  // [B, T, 3, C] -> [B, T, 3C]: q, k, v side by side as the fused kernel expects
  return reshape(stack(parts, 2), [b, t, 3 * c]);
}

export type BlockStyle = 'pre-ln' | 'post-ln';

export interface BlockConfig extends AttentionConfig {
  style: BlockStyle;
  mlpWidth: number;
  activation: Activation;
  /** dropout after the MLP's output projection */
  mlpDropout: number;
}

/**
 * pre-ln (GPT-2, DT, QT): x + attn(ln_1(x)), then x + mlp(ln_2(x)).
 * post-ln (Reinformer): ln_1(x + attn(x)), then ln_2(x + mlp(x)).
 */
export class Block extends Module {
  readonly ln_1: LayerNorm;
  readonly attn: SelfAttention;
  readonly ln_2: LayerNorm;
  readonly mlp: Mlp;

  constructor(readonly config: BlockConfig, rng: Rng) {
    super();
    this.ln_1 = this.addModule('ln_1', new LayerNorm(config.width));
    this.attn = this.addModule('attn', new SelfAttention(config, rng));
    this.ln_2 = this.addModule('ln_2', new LayerNorm(config.width));
    this.mlp = this.addModule('mlp', new Mlp(config.width, config.mlpWidth, config.activation, config.mlpDropout, rng, config.init));
  }

  forward(x: Tensor, keyMask: Tensor | FloatArray | null): Tensor {
    if (this.config.style === 'pre-ln') {
      const h = add(x, this.attn.forward(this.ln_1.forward(x), keyMask));
      return add(h, this.mlp.forward(this.ln_2.forward(h)));
    }
    const h = this.ln_1.forward(add(x, this.attn.forward(x, keyMask)));
    return this.ln_2.forward(add(h, this.mlp.forward(h)));
  }
}

export type TokenKind = 'return' | 'state' | 'action';

export interface TrajectoryTransformerConfig {
  stateDim: number;
  actionDim: number;
  /** timesteps per window (K); the sequence has 3K tokens */
  context: number;
  width: number;
  layers: number;
  heads: number;
  mlpWidth: number;
  activation: Activation;
  blockStyle: BlockStyle;
  /** token order within a timestep: DT/QT [return, state, action], Reinformer [state, return, action] */
  tokenOrder: readonly [TokenKind, TokenKind, TokenKind];
  /** entries of the learned timestep table */
  maxTimestep: number;
  /** dropout after the embedding LayerNorm (GPT-2 embd_pdrop; Reinformer has none) */
  embeddingDropout: number;
  probDropout: number;
  outputDropout: number;
  residDropout: number;
  mlpDropout: number;
  fusedQkv: boolean;
  finalLayerNorm: boolean;
  /** init of the transformer blocks */
  blockInit: InitScheme;
  /** init of the token/timestep embeddings */
  embeddingInit: InitScheme;
}

/**
 * The network's input: B windows of K timesteps, row-major. The data sampler's `WindowBatch` is one
 * (it adds rewards, episodes and other training fields); acting builds them from its context buffers.
 */
export interface TransformerInput {
  batchSize: number;
  /** [B, K, S] normalized states */
  states: Float32Array;
  /** [B, K, A] */
  actions: Float32Array;
  /** [B, K, 1] scaled returns-to-go */
  returnsToGo: Float32Array;
  /** [B * K] absolute timesteps, already clipped to the table */
  timesteps: Int32Array;
  /** [B * K] 1 real, 0 padding; null when every slot is real */
  mask: Float32Array | null;
}

/**
 * Embeds (return, state, action) per timestep, adds the timestep embedding to all three,
 * interleaves them into 3K tokens, and runs the causal transformer.
 * The output is [B, K, 3, width], token axis in `tokenOrder`; heads read it with `token()`.
 */
export class TrajectoryTransformer extends Module {
  readonly embed_timestep: Embedding;
  readonly embed_return: Linear;
  readonly embed_state: Linear;
  readonly embed_action: Linear;
  readonly embed_ln: LayerNorm;
  private readonly embeddingDropout: Dropout;
  readonly blocks: Block[];
  readonly ln_f: LayerNorm | null;

  constructor(readonly config: TrajectoryTransformerConfig, rng: Rng) {
    super();
    const c = config;
    const init = c.embeddingInit;
    this.embed_timestep = this.addModule('embed_timestep', new Embedding(c.maxTimestep, c.width, rng, { init }));
    this.embed_return = this.addModule('embed_return', new Linear(1, c.width, rng, { init }));
    this.embed_state = this.addModule('embed_state', new Linear(c.stateDim, c.width, rng, { init }));
    this.embed_action = this.addModule('embed_action', new Linear(c.actionDim, c.width, rng, { init }));
    this.embed_ln = this.addModule('embed_ln', new LayerNorm(c.width));
    this.embeddingDropout = this.addModule('embed_dropout', new Dropout(c.embeddingDropout, rng));
    const blockConfig: BlockConfig = {
      width: c.width, heads: c.heads, probDropout: c.probDropout, outputDropout: c.outputDropout,
      residDropout: c.residDropout, fusedQkv: c.fusedQkv, init: c.blockInit, style: c.blockStyle,
      mlpWidth: c.mlpWidth, activation: c.activation, mlpDropout: c.mlpDropout,
    };
    this.blocks = Array.from({ length: c.layers }, (_, i) => this.addModule(`blocks.${i}`, new Block(blockConfig, rng)));
    this.ln_f = c.finalLayerNorm ? this.addModule('ln_f', new LayerNorm(c.width)) : null;
  }

  forward(batch: TransformerInput): Tensor {
    const { batchSize: B } = batch;
    const { context: K, stateDim, actionDim, width } = this.config;
    if (batch.timesteps.length !== B * K) throw new RangeError(`timesteps: ${batch.timesteps.length} entries for B=${B}, K=${K}`);
    const time = this.embed_timestep.forward(batch.timesteps, [B, K]);
    const embedded: Record<TokenKind, Tensor> = {
      return: add(this.embed_return.forward(Tensor.borrow(batch.returnsToGo, [B, K, 1])), time),
      state: add(this.embed_state.forward(Tensor.borrow(batch.states, [B, K, stateDim])), time),
      action: add(this.embed_action.forward(Tensor.borrow(batch.actions, [B, K, actionDim])), time),
    };
    const tokens = reshape(stack(this.config.tokenOrder.map((kind) => embedded[kind]), 2), [B, 3 * K, width]);
    let h = this.embeddingDropout.forward(this.embed_ln.forward(tokens));
    const keyMask = batch.mask === null ? null : perTokenMask(batch.mask, B, K);
    for (const block of this.blocks) h = block.forward(h, keyMask);
    if (this.ln_f !== null) h = this.ln_f.forward(h);
    return reshape(h, [B, K, 3, width]);
  }

  /** the outputs at one kind of token: [B, K, width] */
  token(hidden: Tensor, kind: TokenKind): Tensor {
    return select(hidden, 2, this.config.tokenOrder.indexOf(kind));
  }
}

/**
 * a per-timestep mask [B * K] repeated for the three tokens of each timestep: [B * 3K], computed
 * where the tensors live (the mask itself is part of the step's one upload on a device)
 */
function perTokenMask(mask: Float32Array, batch: number, context: number): Tensor {
  return noGrad(() => reshape(mul(Tensor.borrow(mask, [batch * context, 1]), Tensor.full([1, 3], 1)), [batch * 3 * context]));
}
