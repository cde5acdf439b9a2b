"""PyTorch twin of Stitch's Decision Transformer (src/algos/dt.ts, src/nn/transformer.ts).

Used by make_torch_fixtures.py (numeric fixtures for the TypeScript tests) and torch_bench.py
(the PyTorch side of the training-step benchmark). Module attribute paths are chosen so that
state_dict() names equal Stitch's parameter names, e.g. transformer.blocks.0.attn.c_attn.weight.

Needs Debian's python3-torch (run with /usr/bin/python3).
"""
import dataclasses
import math

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class DtConfig:
    state_dim: int
    act_dim: int
    context: int  # K timesteps, 3K tokens
    width: int
    layers: int
    heads: int
    mlp_width: int
    activation: str  # Stitch's names: 'gelu_tanh' | 'gelu_erf' | 'relu'
    max_timestep: int  # rows of the timestep table
    dropout: float  # one p for embedding, attention-probability, residual and MLP dropout, as in DT

    def to_stitch(self):
        """The same config under the field names of Stitch's DecisionTransformerConfig."""
        return {
            "stateDim": self.state_dim, "actionDim": self.act_dim, "context": self.context,
            "width": self.width, "layers": self.layers, "heads": self.heads, "mlpWidth": self.mlp_width,
            "activation": self.activation, "maxTimestep": self.max_timestep,
            "embeddingDropout": self.dropout, "probDropout": self.dropout,
            "residDropout": self.dropout, "mlpDropout": self.dropout,
        }


def make_activation(kind):
    if kind == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if kind == "gelu_erf":
        return nn.GELU()
    if kind == "relu":
        return nn.ReLU()
    raise ValueError(f"unknown activation {kind!r}")


class SelfAttention(nn.Module):
    """GPT-2 attention: fused c_attn whose output columns are [q | k | v], causal, key-padding mask."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.width % cfg.heads != 0:
            raise ValueError(f"width {cfg.width} is not divisible by {cfg.heads} heads")
        self.heads = cfg.heads
        self.c_attn = nn.Linear(cfg.width, 3 * cfg.width)
        self.c_proj = nn.Linear(cfg.width, cfg.width)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, blocked):
        """x [B, T, C]; blocked [B, 1, T, T] bool, True where a query may not see a key."""
        b, t, c = x.shape
        d = c // self.heads
        # head i reads columns i*d..(i+1)*d of each of q, k, v
        q, k, v = (part.view(b, t, self.heads, d).transpose(1, 2) for part in self.c_attn(x).split(c, dim=2))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        # The dtype's most negative finite value rather than -inf: a query row whose keys are all
        # padding (left padding) then gets uniform weights instead of NaN. Stitch gives such rows
        # zeros; they are padded positions, outside the loss, so the loss and gradients agree.
        scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
        probs = self.attn_dropout(scores.softmax(dim=-1))
        mixed = (probs @ v).transpose(1, 2).reshape(b, t, c)
        return self.resid_dropout(self.c_proj(mixed))


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = nn.Linear(cfg.width, cfg.mlp_width)
        self.act = make_activation(cfg.activation)
        self.c_proj = nn.Linear(cfg.mlp_width, cfg.width)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LN GPT-2 block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.width, eps=1e-5)
        self.attn = SelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.width, eps=1e-5)
        self.mlp = Mlp(cfg)

    def forward(self, x, blocked):
        x = x + self.attn(self.ln_1(x), blocked)
        return x + self.mlp(self.ln_2(x))


class TrajectoryTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_timestep = nn.Embedding(cfg.max_timestep, cfg.width)
        self.embed_return = nn.Linear(1, cfg.width)
        self.embed_state = nn.Linear(cfg.state_dim, cfg.width)
        self.embed_action = nn.Linear(cfg.act_dim, cfg.width)
        self.embed_ln = nn.LayerNorm(cfg.width, eps=1e-5)
        self.embed_dropout = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.width, eps=1e-5)

    def forward(self, states, actions, returns_to_go, timesteps, mask):
        """Returns the hidden states [B, K, 3, width], token axis (return, state, action)."""
        b, k = timesteps.shape
        time = self.embed_timestep(timesteps)
        tokens = torch.stack([
            self.embed_return(returns_to_go) + time,
            self.embed_state(states) + time,
            self.embed_action(actions) + time,
        ], dim=2).reshape(b, 3 * k, self.cfg.width)
        h = self.embed_dropout(self.embed_ln(tokens))
        # each timestep's mask covers its three tokens
        key_padding = (mask == 0).repeat_interleave(3, dim=1)  # [B, 3K]
        causal = torch.ones(3 * k, 3 * k, dtype=torch.bool, device=h.device).triu(1)
        blocked = causal[None, None] | key_padding[:, None, None, :]
        for block in self.blocks:
            h = block(h, blocked)
        return self.ln_f(h).reshape(b, k, 3, self.cfg.width)


class DecisionTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.transformer = TrajectoryTransformer(cfg)
        self.predict_action = nn.Linear(cfg.width, cfg.act_dim)

    def forward(self, states, actions, returns_to_go, timesteps, mask):
        """Predicted actions [B, K, A], read at the state token."""
        hidden = self.transformer(states, actions, returns_to_go, timesteps, mask)
        return torch.tanh(self.predict_action(hidden[:, :, 1]))

    def loss(self, batch):
        """Squared error summed over action dims, averaged over valid positions and action dims."""
        preds = self(batch["states"], batch["actions"], batch["returns_to_go"], batch["timesteps"], batch["mask"])
        squared = ((preds - batch["actions"]) ** 2).sum(dim=-1) * batch["mask"]
        return squared.sum() / (batch["mask"].sum() * self.cfg.act_dim), preds


def random_batch(cfg, batch_size, generator, padded_rows=None, dtype=torch.float32):
    """A batch of random windows, float tensors in `dtype`, timesteps int64, mask 0/1.

    padded_rows maps a row index to its number of left-padded timesteps (as DT pads the start of an
    episode); by default every other row gets 1..K-1 padded steps. Padded positions keep random
    values so that a masking bug leaks into the results; their timesteps are 0 as DT pads them.
    """
    b, k = batch_size, cfg.context
    if padded_rows is None:
        padded_rows = {r: 1 + int(torch.randint(k - 1, (), generator=generator)) for r in range(0, b, 2)}
    states = torch.randn(b, k, cfg.state_dim, generator=generator)
    actions = torch.rand(b, k, cfg.act_dim, generator=generator) * 2 - 1
    returns_to_go = torch.randn(b, k, 1, generator=generator)
    start = torch.randint(cfg.max_timestep - k + 1, (b, 1), generator=generator)
    timesteps = start + torch.arange(k)[None]
    mask = torch.ones(b, k)
    for row, pad in padded_rows.items():
        mask[row, :pad] = 0
        timesteps[row, :pad] = 0
    return {
        "states": states.to(dtype), "actions": actions.to(dtype), "returns_to_go": returns_to_go.to(dtype),
        "timesteps": timesteps, "mask": mask.to(dtype),
    }


def make_optimizer(model):
    """The DT/QT setting the benchmark and fixtures use (clip at 0.25 is done by the caller)."""
    return torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)


CLIP_NORM = 0.25
