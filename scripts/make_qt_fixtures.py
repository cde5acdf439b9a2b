#!/usr/bin/env python3
"""Writes PyTorch fixtures for Stitch's QT from the official QT code's own modules (charleshsc/QT).

    /usr/bin/python3 scripts/make_qt_fixtures.py --qt-repo PATH [--out DIR]   # default test/fixtures/torch

PATH is a checkout of https://github.com/charleshsc/QT (Apache-2.0; written against cb9e1a4) that
you provide; this script imports its modules (decision_transformer.models.ql_DT: DecisionTransformer,
Critic; decision_transformer.training.ql_trainer: Trainer) and runs them unchanged. None of its code
is copied here or committed.

qt_step.safetensors, one Trainer.train_step with fixed weights and inputs (k_rewards, use_discount,
as run.sh trains):
  param.{actor,ema_actor,critic,critic_target}.<name>   weights before the step (Stitch's names and
      layouts: Conv1D weights transposed to [out, in]; the EMA actor and the target critic are
      perturbed away from the actor and the critic so that using the wrong copy shows)
  input.*            the batch as the reference's get_batch returns it (rtg has K + 1 steps)
  grad.critic.*      the critic loss's gradients before clipping; grad.actor.* the actor loss's,
      taken through the critic after its update
  after.*            every module after the step: critic and actor after clip + Adam, the EMA actor
      after its update (the step index is past step_start_ema and a multiple of update_ema_every),
      the target critic after Polyak averaging
  output.*           n-step targets, bootstrap values, loss terms, gradient norms
The coin that picks the Q-term's numerator (np.random.uniform() > 0.5) is recorded in the metadata.

qt_inference.safetensors, five environment steps of DecisionTransformer.get_action with 50
candidates, driven the way evaluate_episode_rtg drives it (fixed states and rewards instead of an
environment; K = 4, so the window fills up and then slides). torch.randn, torch.randn_like and
torch.multinomial are wrapped while it runs to record what they returned, so Stitch can replay the
same draws: per step t, inference.<t>.normals holds the draws in the order Stitch consumes them
(filler rows over the window's real slots, then the jitter of rows M..49) and inference.<t>.uniform
a uniform that lands on the candidate torch.multinomial chose.

The training step runs in float64 (weights and inputs drawn in float32 and stored exactly), results
stored in float32; the inference runs in float32, as get_action casts its inputs to it.

Stubbed imports (Debian has neither package and the reference's pinned versions do not install
beside Debian's torch 1.13): `tqdm` (trange/tqdm as plain iteration; the trainer only imports it)
and `transformers`, with only what trajectory_gpt2.py and ql_DT.py import: GPT2Config (the 4.x
defaults), Conv1D (x @ W + b with W [in, out], as transformers defines it), PreTrainedModel
(config, dtype, init_weights = apply(_init_weights), get_head_mask for no head mask), ACT2FN
(relu, gelu_new), BaseModelOutputWithPastAndCrossAttentions (a dict) and no-op docstring
decorators and logging. The stubs are used only when the real packages are not importable.
"""
import argparse
import json
import math
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_fixtures import perturb_layer_norms, write_safetensors  # noqa: E402

STATE_DIM = 3
ACT_DIM = 2
CONTEXT = 4
WIDTH = 8
LAYERS = 2
HEADS = 2
MAX_EP_LEN = 20
BATCH = 3
TRAINING = {
    "eta": 0.7, "eta2": 1.0, "discount": 0.9, "tau": 0.005, "ema_decay": 0.995, "step_start_ema": 1000,
    "update_ema_every": 5, "weight_decay": 1e-4, "grad_norm": 0.5, "scale": 10.0,
}
# larger than the reference's 3e-4 so that one Adam step is far above the test's tolerance
ACTOR_LR = 1e-2
CRITIC_LR = 1e-2
# the reference's Trainer.step before the step: past step_start_ema and a multiple of update_ema_every
STEP_INDEX = 1005
NUMPY_SEED = 7
SEED = 4321
CANDIDATES = 50
# three targets: 50 // 3 = 16 copies each, so two rows are N(0, 1) fillers
TARGETS = [30.0, 12.0, 5.0]
INFERENCE_STEPS = 5
CRITIC_GAIN = 10.0
ACTOR_BLOCK_GAIN = 15.0


# ---------------------------------------------------------------------------------------------
# Stubs for imports this machine lacks

def stub_missing_modules():
    stubbed = []
    try:
        import tqdm  # noqa: F401
    except ImportError:
        module = types.ModuleType("tqdm")
        module.tqdm = lambda iterable=None, *a, **k: iterable
        module.trange = lambda *args, **kwargs: range(*args)
        sys.modules["tqdm"] = module
        stubbed.append("tqdm")
    try:
        import transformers  # noqa: F401
    except ImportError:
        install_transformers_stub()
        stubbed.append("transformers")
    return stubbed


def install_transformers_stub():
    def identity_decorator(*_args, **_kwargs):
        return lambda f: f

    class GPT2Config:
        def __init__(self, vocab_size=50257, n_positions=1024, n_ctx=1024, n_embd=768, n_layer=12, n_head=12,
                     n_inner=None, activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                     layer_norm_epsilon=1e-5, initializer_range=0.02, **kwargs):
            self.vocab_size, self.n_positions, self.n_ctx, self.n_embd = vocab_size, n_positions, n_ctx, n_embd
            self.n_layer, self.n_head, self.n_inner = n_layer, n_head, n_inner
            self.activation_function = activation_function
            self.resid_pdrop, self.embd_pdrop, self.attn_pdrop = resid_pdrop, embd_pdrop, attn_pdrop
            self.layer_norm_epsilon, self.initializer_range = layer_norm_epsilon, initializer_range
            self.output_attentions = False
            self.output_hidden_states = False
            self.use_cache = True
            self.use_return_dict = True
            self.add_cross_attention = False
            self.gradient_checkpointing = False
            for key, value in kwargs.items():
                setattr(self, key, value)

    class Conv1D(nn.Module):
        def __init__(self, nf, nx):
            super().__init__()
            self.nf = nf
            w = torch.empty(nx, nf)
            nn.init.normal_(w, std=0.02)
            self.weight = nn.Parameter(w)
            self.bias = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            size_out = x.size()[:-1] + (self.nf,)
            x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
            return x.view(*size_out)

    class PreTrainedModel(nn.Module):
        def __init__(self, config, *args, **kwargs):
            super().__init__()
            self.config = config

        @property
        def dtype(self):
            return next(self.parameters()).dtype

        def init_weights(self):
            self.apply(self._init_weights)

        def get_head_mask(self, head_mask, num_hidden_layers):
            assert head_mask is None, "the stub supports no head mask"
            return [None] * num_hidden_layers

    class ModelOutput(dict):
        pass

    class BaseModelOutputWithPastAndCrossAttentions(dict):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

    def not_stubbed(*_args, **_kwargs):
        raise NotImplementedError("not part of the transformers stub")

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    import logging as std_logging

    modules = {
        "transformers": {"GPT2Config": GPT2Config},
        "transformers.activations": {"ACT2FN": {"relu": F.relu, "gelu_new": gelu_new, "gelu": F.gelu}},
        "transformers.file_utils": {
            "ModelOutput": ModelOutput, "add_code_sample_docstrings": identity_decorator,
            "add_start_docstrings": identity_decorator, "add_start_docstrings_to_model_forward": identity_decorator,
            "replace_return_docstrings": identity_decorator,
        },
        "transformers.modeling_outputs": {"BaseModelOutputWithPastAndCrossAttentions": BaseModelOutputWithPastAndCrossAttentions},
        "transformers.modeling_utils": {
            "Conv1D": Conv1D, "PreTrainedModel": PreTrainedModel, "SequenceSummary": not_stubbed,
            "find_pruneable_heads_and_indices": not_stubbed, "prune_conv1d_layer": not_stubbed,
        },
        "transformers.utils": {"logging": types.SimpleNamespace(get_logger=std_logging.getLogger)},
        "transformers.utils.model_parallel_utils": {"assert_device_map": not_stubbed, "get_device_map": not_stubbed},
        "transformers.models": {},
        "transformers.models.gpt2": {},
        "transformers.models.gpt2.configuration_gpt2": {"GPT2Config": GPT2Config},
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so its submodules import
        for key, value in attributes.items():
            setattr(module, key, value)
        sys.modules[name] = module


# ---------------------------------------------------------------------------------------------
# Names: the reference's module tree -> Stitch's

def stitch_actor_name(name):
    """None for parameters Stitch does not build (the token embedding GPT-2 keeps, the --sar reward head)."""
    if name.startswith(("transformer.wte.", "embed_rewards.", "predict_rewards.")):
        return None
    if name.startswith(("embed_timestep.", "embed_return.", "embed_state.", "embed_action.", "embed_ln.")):
        return "transformer." + name
    if name.startswith("transformer.h."):
        return "transformer.blocks." + name[len("transformer.h."):]
    if name.startswith("predict_action.0."):
        return "predict_action." + name[len("predict_action.0."):]
    return name


def is_conv1d(name):
    return any(part in name for part in (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"))


def actor_tensors(model, prefix, values=None):
    """values: name -> tensor (default the parameters), renamed and laid out as Stitch's."""
    out = {}
    source = values if values is not None else {n: p.detach() for n, p in model.named_parameters()}
    for name, value in source.items():
        stitch = stitch_actor_name(name)
        if stitch is None:
            continue
        if value is None:
            value = torch.zeros_like(dict(model.named_parameters())[name])
        out[f"{prefix}{stitch}"] = (value.t() if is_conv1d(name) else value).detach().clone()
    return out


def module_tensors(module, prefix, values=None):
    source = values if values is not None else {n: p.detach() for n, p in module.named_parameters()}
    return {f"{prefix}{n}": v.detach().clone() for n, v in source.items()}


# ---------------------------------------------------------------------------------------------
# Models and batch

def build_models(ql_dt):
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    actor = ql_dt.DecisionTransformer(
        state_dim=STATE_DIM, act_dim=ACT_DIM, max_length=CONTEXT, max_ep_len=MAX_EP_LEN, hidden_size=WIDTH,
        n_layer=LAYERS, n_head=HEADS, n_inner=4 * WIDTH, activation_function="relu", n_positions=1024,
        resid_pdrop=0.0, attn_pdrop=0.0, embd_pdrop=0.0, scale=TRAINING["scale"],
    )
    perturb_layer_norms(actor, generator)
    critic = ql_dt.Critic(STATE_DIM, ACT_DIM, hidden_dim=WIDTH)  # the reference's Critic(hidden_dim=embed_dim)
    # the EMA actor and the target critic start apart from their sources, so using the wrong copy shows
    with torch.no_grad():
        ema_values = {n: p.detach() + 0.05 * torch.randn(p.shape, generator=generator) for n, p in actor.named_parameters()}
        target_values = {n: p.detach() + 0.05 * torch.randn(p.shape, generator=generator) for n, p in critic.named_parameters()}
    return actor, critic, ema_values, target_values, generator


def random_batch(generator):
    B, K, S, A = BATCH, CONTEXT, STATE_DIM, ACT_DIM
    lengths = [4, 2, 3]  # real steps per window; left padding as get_batch
    terminal_last = [0, 1, 0]  # window 1 ends on a terminal step: its bootstrap is cut
    states = torch.zeros(B, K, S)
    actions = torch.zeros(B, K, A)
    rewards = torch.zeros(B, K, 1)
    dones = torch.ones(B, K, 1, dtype=torch.long)  # get_batch pads dones with 1
    rtg = torch.zeros(B, K + 1, 1)
    timesteps = torch.zeros(B, K, dtype=torch.long)
    mask = torch.zeros(B, K, dtype=torch.float64)
    for b, length in enumerate(lengths):
        first = K - length
        states[b, first:] = torch.randn(length, S, generator=generator)
        actions[b, first:] = torch.rand(length, A, generator=generator) * 1.8 - 0.9
        rewards[b, first:, 0] = torch.randn(length, generator=generator)
        dones[b, first:, 0] = 0
        dones[b, K - 1, 0] = terminal_last[b]
        rtg[b, first:, 0] = torch.randn(length + 1, generator=generator) / TRAINING["scale"]
        start = int(torch.randint(0, MAX_EP_LEN - length, (1,), generator=generator))
        timesteps[b, first:] = torch.arange(start, start + length)
        mask[b, first:] = 1
    return states, actions, rewards, actions.clone(), dones, rtg, timesteps, mask


# ---------------------------------------------------------------------------------------------
# The training step

def training_fixture(ql_dt, ql_trainer):
    torch.set_default_dtype(torch.float32)
    actor, critic, ema_values, target_values, generator = build_models(ql_dt)
    batch = random_batch(generator)
    out = {}
    out.update(actor_tensors(actor, "param.actor."))
    out.update(actor_tensors(actor, "param.ema_actor.", ema_values))
    out.update(module_tensors(critic, "param.critic."))
    out.update(module_tensors(critic, "param.critic_target.", target_values))
    states, actions, rewards, _, dones, rtg, timesteps, mask = batch
    out.update({
        "input.states": states, "input.actions": actions, "input.rewards": rewards[..., 0].clone(),
        "input.dones": dones[..., 0].to(torch.int32), "input.rtg": rtg[..., 0], "input.timesteps": timesteps.to(torch.int32),
        "input.mask": mask.float(),
    })

    torch.set_default_dtype(torch.float64)
    actor.double()
    critic.double()
    wide = tuple(t.double() if t.is_floating_point() else t for t in batch)
    trainer = ql_trainer.Trainer(
        actor, critic, batch_size=BATCH, tau=TRAINING["tau"], discount=TRAINING["discount"],
        get_batch=lambda _size: tuple(t.clone() for t in wide), loss_fn=None, eta=TRAINING["eta"], eta2=TRAINING["eta2"],
        ema_decay=TRAINING["ema_decay"], step_start_ema=TRAINING["step_start_ema"],
        update_ema_every=TRAINING["update_ema_every"], lr=ACTOR_LR, weight_decay=TRAINING["weight_decay"], lr_decay=False,
        grad_norm=TRAINING["grad_norm"], scale=TRAINING["scale"], k_rewards=True, use_discount=True,
    )
    for group in trainer.critic_optimizer.param_groups:
        group["lr"] = CRITIC_LR  # the reference hard-codes 3e-4; see CRITIC_LR
    with torch.no_grad():
        for n, p in trainer.ema_model.named_parameters():
            p.copy_(ema_values[n].double())
        for n, p in trainer.critic_target.named_parameters():
            p.copy_(target_values[n].double())
    trainer.step = STEP_INDEX

    # record what the step computes inside, without changing it, by wrapping what train_step calls
    # by name: clip_grad_norm_ (gradients before clipping and the norm it returns, critic first,
    # then actor), the actor optimizer's step (the critic as the actor's loss saw it) and the target
    # critic's forward (the bootstrap values)
    recorded = {}
    actor_step = trainer.actor_optimizer.step

    def record_actor_step(*args, **kwargs):
        recorded["critic_after_update"] = {n: p.detach().clone() for n, p in trainer.critic.named_parameters()}
        return actor_step(*args, **kwargs)

    trainer.actor_optimizer.step = record_actor_step
    clip = nn.utils.clip_grad_norm_
    calls = []

    def recording_clip(parameters, *args, **kwargs):
        which = "critic" if len(calls) == 0 else "actor"
        module = trainer.critic if which == "critic" else trainer.actor
        recorded[f"{which}_grads_before_clip"] = {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                                                  for n, p in module.named_parameters()}
        calls.append(which)
        norm = clip(parameters, *args, **kwargs)
        recorded[f"{which}_grad_norm"] = norm.detach().clone()
        return norm

    nn.utils.clip_grad_norm_ = recording_clip
    target_forward = trainer.critic_target.forward

    def recording_target_forward(state, action):
        q1, q2 = target_forward(state, action)
        recorded["bootstrap_values"] = torch.min(q1, q2).detach().clone()
        return q1, q2

    trainer.critic_target.forward = recording_target_forward
    np.random.seed(NUMPY_SEED)
    coin = np.random.uniform()
    np.random.seed(NUMPY_SEED)
    metrics = {k: [] for k in ("bc_loss", "ql_loss", "actor_loss", "critic_loss", "target_q_mean")}
    mse = F.mse_loss
    captured_terms = []

    def recording_mse(a, b, *args, **kwargs):
        value = mse(a, b, *args, **kwargs)
        captured_terms.append((value.detach().clone(), b.detach().clone()))
        return value

    F.mse_loss = recording_mse
    try:
        trainer.train_step(None, metrics)
    finally:
        F.mse_loss = mse
        nn.utils.clip_grad_norm_ = clip
        del trainer.critic_target.forward
        del trainer.actor_optimizer.step
    assert calls == ["critic", "actor"], calls

    out.update(module_tensors(critic, "grad.critic.", recorded["critic_grads_before_clip"]))
    out.update(actor_tensors(actor, "grad.actor.", recorded["actor_grads_before_clip"]))
    out.update(module_tensors(critic, "after.critic_before_actor.", recorded["critic_after_update"]))
    out.update(actor_tensors(trainer.actor, "after.actor."))
    out.update(actor_tensors(trainer.ema_model, "after.ema_actor."))
    out.update(module_tensors(trainer.critic, "after.critic."))
    out.update(module_tensors(trainer.critic_target, "after.critic_target."))

    # captured_terms: the critic's two MSEs (their targets: target_q at the positions the loss
    # uses, t < K - 1 with mask 1, in row-major order), then the actor's action MSE
    critic_loss = captured_terms[0][0] + captured_terms[1][0]
    weights = torch.zeros(BATCH, CONTEXT, dtype=torch.float64)
    weights[:, :-1] = (wide[7][:, :-1] > 0).double()
    targets = torch.zeros(BATCH, CONTEXT, dtype=torch.float64)
    targets[weights > 0] = captured_terms[0][1].reshape(-1)
    out.update({
        "output.bootstrap_values": recorded["bootstrap_values"].reshape(BATCH),
        "output.critic_targets": targets, "output.critic_target_weights": weights,
        "output.critic_loss": critic_loss.reshape([]),
        "output.action_loss": captured_terms[2][0].reshape([]),
        "output.state_loss": torch.tensor(metrics["bc_loss"][0] - captured_terms[2][0].item()),
        "output.bc_loss": torch.tensor(metrics["bc_loss"][0]),
        "output.q_loss": torch.tensor(metrics["ql_loss"][0]),
        "output.actor_loss": torch.tensor(metrics["actor_loss"][0]),
        "output.critic_grad_norm": recorded["critic_grad_norm"].reshape([1]),
        "output.actor_grad_norm": recorded["actor_grad_norm"].reshape([1]),
    })
    assert abs(metrics["critic_loss"][0] - critic_loss.item()) < 1e-12
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
    config = {
        "context": CONTEXT, "width": WIDTH, "layers": LAYERS, "heads": HEADS, "mlpWidth": 4 * WIDTH, "activation": "relu",
        "maxTimestep": MAX_EP_LEN, "dropout": 0, "batchSize": BATCH, "lrDecay": False, "actorLr": ACTOR_LR,
        "criticLr": CRITIC_LR, "actorWeightDecay": TRAINING["weight_decay"], "clipNorm": TRAINING["grad_norm"],
        "eta": TRAINING["eta"], "bcWeight": TRAINING["eta2"], "discount": TRAINING["discount"], "tau": TRAINING["tau"],
        "emaDecay": TRAINING["ema_decay"], "emaStart": TRAINING["step_start_ema"], "emaEvery": TRAINING["update_ema_every"],
        "returnScale": TRAINING["scale"],
    }
    metadata = {
        "config": json.dumps(config),
        "step": str(STEP_INDEX),
        "numerator": "q1" if coin > 0.5 else "q2",
        "computed_in": "float64",
        "reference": "charleshsc/QT cb9e1a4: decision_transformer.training.ql_trainer.Trainer.train_step",
        "torch_version": torch.__version__,
    }
    torch.set_default_dtype(torch.float32)
    return tensors, metadata


# ---------------------------------------------------------------------------------------------
# The 50-candidate inference

def inference_fixture(ql_dt):
    torch.set_default_dtype(torch.float32)
    actor, critic, _, target_values, generator = build_models(ql_dt)
    with torch.no_grad():
        for n, p in critic.named_parameters():
            # acting reads the target critic; its default-initialized weights score the 50
            # candidates within 1e-5 of each other, which would leave softmax(Q) uniform and the
            # choice untested, so the weights are scaled up until the scores spread over a few units
            p.copy_(target_values[n] * CRITIC_GAIN)
        # likewise GPT-2's N(0, 0.02) blocks barely let the return token reach the action: the
        # candidates' actions would differ by 1e-5; wider blocks make each candidate's return matter
        for n, p in actor.named_parameters():
            if n.startswith("transformer.h.") and is_conv1d(n):
                p.mul_(ACTOR_BLOCK_GAIN)
    out = {}
    out.update(actor_tensors(actor, "param.actor."))
    out.update(module_tensors(critic, "param.critic_target."))
    states_seen = torch.randn(INFERENCE_STEPS, STATE_DIM, generator=generator)
    rewards_seen = torch.randn(INFERENCE_STEPS, generator=generator)
    out["input.states"] = states_seen
    out["input.rewards"] = rewards_seen
    # float32 throughout: get_action casts its padded inputs to float32
    actor.eval()
    critic.eval()
    scale = TRAINING["scale"]
    M = len(TARGETS)

    states = states_seen[0:1].clone()
    actions = [torch.zeros((1, ACT_DIM))]
    rewards = [torch.zeros((1, 1))]
    target_return = torch.tensor(TARGETS).unsqueeze(-1) / scale
    timesteps = torch.zeros((1, 1), dtype=torch.long)

    randn, randn_like, multinomial = torch.randn, torch.randn_like, torch.multinomial
    torch.manual_seed(SEED + 1)
    for t in range(INFERENCE_STEPS):
        draws = {}

        def recording_randn(*args, **kwargs):
            value = randn(*args, **kwargs)
            draws["fillers"] = value.clone()
            return value

        def recording_randn_like(*args, **kwargs):
            value = randn_like(*args, **kwargs)
            draws["jitter"] = value.clone()
            return value

        def recording_multinomial(probabilities, *args, **kwargs):
            value = multinomial(probabilities, *args, **kwargs)
            draws["probabilities"] = probabilities.clone()
            draws["index"] = int(value.reshape(-1)[0])
            return value

        forward = actor.forward

        def recording_forward(*args, **kwargs):
            draws["returns_to_go"] = kwargs["returns_to_go"].clone()
            result = forward(*args, **kwargs)
            draws["action_preds"] = result[1][:, -1, :].clone()
            return result

        actor.forward = recording_forward
        torch.randn, torch.randn_like, torch.multinomial = recording_randn, recording_randn_like, recording_multinomial
        try:
            with torch.no_grad():
                action = actor.get_action(
                    critic, states, torch.cat(actions, dim=0), torch.cat(rewards, dim=1), target_return, timesteps)
        finally:
            torch.randn, torch.randn_like, torch.multinomial = randn, randn_like, multinomial
            del actor.forward
        history = states.shape[0]
        real = min(history, CONTEXT)
        # Stitch's order: each filler row's real window slots, then the jitter of rows M..49
        fillers = draws["fillers"][:, -real:, 0]
        normals = torch.cat([fillers.reshape(-1), draws["jitter"].reshape(-1)])
        probabilities = draws["probabilities"]
        index = draws["index"]
        cumulative = torch.cumsum(probabilities, 0)
        below = float(cumulative[index - 1]) if index > 0 else 0.0
        uniform = (below + float(cumulative[index])) / 2 / float(cumulative[-1])
        with torch.no_grad():
            q = critic.q_min(states[-1:].repeat(CANDIDATES, 1), draws["action_preds"]).flatten()
        window_targets = target_return[:, -CONTEXT:]
        target_rows = torch.cat([torch.zeros(M, CONTEXT - window_targets.shape[1]), window_targets], dim=1)
        prefix = f"inference.{t}."
        out.update({
            prefix + "normals": normals, prefix + "uniform": torch.tensor([uniform]),
            prefix + "index": torch.tensor([index], dtype=torch.int32),
            prefix + "probabilities": probabilities, prefix + "q": q,
            prefix + "returns_to_go": draws["returns_to_go"][..., 0], prefix + "target_rows": target_rows,
            prefix + "candidate_actions": draws["action_preds"], prefix + "action": action.reshape(-1),
        })

        # evaluate_episode_rtg's bookkeeping, with a fixed next state and reward instead of an environment
        reward = float(rewards_seen[t])
        actions.insert(-1, action.reshape(1, ACT_DIM))
        rewards.insert(-1, torch.tensor(reward).reshape(1).unsqueeze(0))
        if t + 1 < INFERENCE_STEPS:
            states = torch.cat([states, states_seen[t + 1:t + 2]], dim=0)
        target_return = torch.cat([target_return, target_return[:, -1:] - reward / scale], dim=1)
        timesteps = torch.cat([timesteps, torch.ones((1, 1), dtype=torch.long) * (t + 1)], dim=1)

    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
    config = {
        "context": CONTEXT, "width": WIDTH, "layers": LAYERS, "heads": HEADS, "mlpWidth": 4 * WIDTH, "activation": "relu",
        "maxTimestep": MAX_EP_LEN, "dropout": 0, "returnScale": scale, "targetReturns": TARGETS, "candidates": CANDIDATES,
        "selection": "softmax", "criticReturn": "reference",
    }
    metadata = {
        "config": json.dumps(config), "steps": str(INFERENCE_STEPS), "computed_in": "float32 (get_action casts to it)",
        "reference": "charleshsc/QT cb9e1a4: decision_transformer.models.ql_DT.DecisionTransformer.get_action",
        "torch_version": torch.__version__,
    }
    torch.set_default_dtype(torch.float32)
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qt-repo", required=True, help="a checkout of github.com/charleshsc/QT")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch"))
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.qt_repo, "decision_transformer", "models", "ql_DT.py")):
        print(f"make_qt_fixtures: {args.qt_repo} is not a QT checkout (no decision_transformer/models/ql_DT.py)", file=sys.stderr)
        sys.exit(2)
    stubbed = stub_missing_modules()
    sys.path.insert(0, os.path.abspath(args.qt_repo))
    from decision_transformer.models import ql_DT as ql_dt
    from decision_transformer.training import ql_trainer
    os.makedirs(args.out, exist_ok=True)
    for file_name, (tensors, metadata) in (
        ("qt_step.safetensors", training_fixture(ql_dt, ql_trainer)),
        ("qt_inference.safetensors", inference_fixture(ql_dt)),
    ):
        metadata["stubbed_imports"] = ",".join(stubbed) or "none"
        path = os.path.join(args.out, file_name)
        write_safetensors(path, tensors, metadata)
        print(f"{os.path.relpath(path)}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
