"""PyTorch twins of Stitch's Decision Transformer (src/algos/dt.ts, src/nn/transformer.ts) and
Reinformer (src/algos/reinformer.ts, with the LAMB optimiser it trains with).

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


# ------------------------------------------------------------------------------------------------
# Reinformer (src/algos/reinformer.ts), mirroring Dragon-Zhuang/Reinformer 61eaed9 (model/net.py,
# model/reinformer.py, trainer.py) under Stitch's parameter names.

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


@dataclasses.dataclass(frozen=True)
class ReinformerConfig:
    state_dim: int
    act_dim: int
    context: int  # K timesteps, 3K tokens
    width: int
    layers: int
    heads: int
    max_timestep: int  # rows of the timestep table (the reference: 4096)
    dropout: float  # attention output, attention projection and MLP output

    # fixed by the reference: MLP 4h with exact GELU (the shared Mlp reads these)
    @property
    def mlp_width(self):
        return 4 * self.width

    @property
    def activation(self):
        return "gelu_erf"

    def to_stitch(self):
        """The same config under the field names of Stitch's ReinformerNetworkConfig."""
        return {
            "stateDim": self.state_dim, "actionDim": self.act_dim, "context": self.context,
            "width": self.width, "layers": self.layers, "heads": self.heads,
            "maxTimestep": self.max_timestep, "dropout": self.dropout,
        }


class ReinformerAttention(nn.Module):
    """Separate q/k/v, causal mask with -inf, dropout on the attention output, projection, dropout."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.width % cfg.heads != 0:
            raise ValueError(f"width {cfg.width} is not divisible by {cfg.heads} heads")
        self.heads = cfg.heads
        self.query = nn.Linear(cfg.width, cfg.width)
        self.key = nn.Linear(cfg.width, cfg.width)
        self.value = nn.Linear(cfg.width, cfg.width)
        self.c_proj = nn.Linear(cfg.width, cfg.width)
        self.out_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        b, t, c = x.shape
        d = c // self.heads
        q, k, v = (layer(x).view(b, t, self.heads, d).transpose(1, 2) for layer in (self.query, self.key, self.value))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        probs = scores.masked_fill(causal, float("-inf")).softmax(dim=-1)
        mixed = self.out_dropout(probs @ v).transpose(1, 2).reshape(b, t, c)
        return self.resid_dropout(self.c_proj(mixed))


class PostLnBlock(nn.Module):
    """ln_1(x + attn(x)), then ln_2(x + mlp(x))."""

    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.width, eps=1e-5)
        self.attn = ReinformerAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.width, eps=1e-5)
        self.mlp = Mlp(cfg)

    def forward(self, x):
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))


class ReinformerTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_timestep = nn.Embedding(cfg.max_timestep, cfg.width)
        self.embed_return = nn.Linear(1, cfg.width)
        self.embed_state = nn.Linear(cfg.state_dim, cfg.width)
        self.embed_action = nn.Linear(cfg.act_dim, cfg.width)
        self.embed_ln = nn.LayerNorm(cfg.width, eps=1e-5)
        self.blocks = nn.ModuleList(PostLnBlock(cfg) for _ in range(cfg.layers))

    def forward(self, states, actions, returns_to_go, timesteps):
        """Hidden states [B, K, 3, width], token axis (state, return, action); no padding mask."""
        b, k = timesteps.shape
        time = self.embed_timestep(timesteps)
        tokens = torch.stack([
            self.embed_state(states) + time,
            self.embed_return(returns_to_go) + time,
            self.embed_action(actions) + time,
        ], dim=2).reshape(b, 3 * k, self.cfg.width)
        h = self.embed_ln(tokens)
        for block in self.blocks:
            h = block(h)
        return h.reshape(b, k, 3, self.cfg.width)


class Reinformer(nn.Module):
    def __init__(self, cfg, init_temperature=0.1):
        super().__init__()
        self.cfg = cfg
        self.transformer = ReinformerTransformer(cfg)
        self.predict_return = nn.Linear(cfg.width, 1)
        self.predict_action_mean = nn.Linear(cfg.width, cfg.act_dim)
        self.action_log_std = nn.Parameter(torch.zeros(cfg.act_dim))
        # as the reference: a plain leaf tensor, outside parameters(), with its own optimiser
        self.log_temperature = torch.tensor(math.log(init_temperature), requires_grad=True)
        self.target_entropy = -cfg.act_dim

    def forward(self, states, actions, returns_to_go, timesteps):
        """(Ĝ at the state tokens [B, K, 1], Normal over actions at the return tokens)."""
        hidden = self.transformer(states, actions, returns_to_go, timesteps)
        return_preds = self.predict_return(hidden[:, :, 0])
        means = torch.tanh(self.predict_action_mean(hidden[:, :, 1]))
        std = torch.exp(self.action_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX))
        return return_preds, torch.distributions.Normal(means, std)

    def losses(self, batch, expectile):
        """The reference trainer's terms: expectile loss (residual / batch mean |G|), NLL, entropy."""
        return_preds, dist = self(batch["states"], batch["actions"], batch["returns_to_go"], batch["timesteps"])
        valid = batch["mask"].reshape(-1) > 0
        targets = batch["returns_to_go"].reshape(-1, 1)[valid]
        u = (targets - return_preds.reshape(-1, 1)[valid]) / targets.abs().mean()
        return_loss = torch.mean(torch.abs(expectile - (u < 0).to(u.dtype)) * u ** 2)
        log_likelihood = dist.log_prob(batch["actions"]).sum(dim=2)[batch["mask"] > 0].mean()
        entropy = dist.entropy().sum(dim=2).mean()  # over every position, padding included
        action_loss = -(log_likelihood + self.log_temperature.exp().detach() * entropy)
        return {
            "return_preds": return_preds, "action_means": dist.mean, "return_loss": return_loss,
            "action_nll": -log_likelihood, "entropy": entropy, "action_loss": action_loss,
            "loss": return_loss + action_loss,
        }


class Lamb(torch.optim.Optimizer):
    """NVLAMB as timm's Lamb (the reference's lamb.py): global-norm gradient rescale to max_grad_norm,
    Adam direction with bias correction, decoupled weight decay, per-tensor trust ratio |w| / |u|."""

    def __init__(self, params, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8, max_grad_norm=1.0):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, betas=betas, eps=eps, max_grad_norm=max_grad_norm))

    @torch.no_grad()
    def step(self):
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        global_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            rescale = max(global_norm.item() / group["max_grad_norm"], 1.0)
            group["step"] = group.get("step", 0) + 1
            bias1 = 1 - beta1 ** group["step"]
            bias2 = 1 - beta2 ** group["step"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad / rescale
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = (state["exp_avg"] / bias1) / ((state["exp_avg_sq"] / bias2).sqrt() + group["eps"])
                update = update + group["weight_decay"] * p
                w_norm, u_norm = p.norm(), update.norm()
                trust = (w_norm / u_norm).item() if w_norm > 0 and u_norm > 0 else 1.0
                p.add_(update, alpha=-group["lr"] * trust)


def random_reinformer_batch(cfg, batch_size, generator, lengths):
    """Random windows; row r holds lengths[r] real steps (right padding, as Reinformer pads
    trajectories shorter than K). Padded slots keep random values so a masking bug shows, and their
    timesteps continue the count, as the reference's short trajectories get 0..K-1."""
    b, k = batch_size, cfg.context
    states = torch.randn(b, k, cfg.state_dim, generator=generator)
    actions = torch.rand(b, k, cfg.act_dim, generator=generator) * 2 - 1
    returns_to_go = 1.0 + torch.randn(b, k, 1, generator=generator)
    start = torch.randint(cfg.max_timestep - k + 1, (b, 1), generator=generator)
    timesteps = start + torch.arange(k)[None]
    mask = torch.ones(b, k)
    for row, length in enumerate(lengths):
        mask[row, length:] = 0
        if length < k:
            timesteps[row] = torch.arange(k)
    return {"states": states, "actions": actions, "returns_to_go": returns_to_go, "timesteps": timesteps, "mask": mask}
