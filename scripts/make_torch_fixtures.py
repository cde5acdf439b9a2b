#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for Stitch's Decision Transformer and Reinformer training steps.

    /usr/bin/python3 scripts/make_torch_fixtures.py [OUT_DIR]   # default test/fixtures/torch

Each file holds one DT training step on a small fixed batch: initial weights (param.<name>),
gradients of the loss before clipping (grad.<name>), weights after clip_grad_norm_(0.25) and one
AdamW step (after_adamw.<name>), the inputs (input.*) and outputs (output.*). The config is in
__metadata__["config"] under Stitch's DecisionTransformerConfig field names.

reinformer_step.safetensors holds one Reinformer step the same way: gradients of L_R + L_a before
clipping (grad.<name>), weights after clip_grad_norm_(0.25) and one LAMB step (after_lamb.<name>),
the loss terms, and the temperature before (temperature.log_temperature) and after its Adam step.

Weights and inputs are drawn in float32 and stored exactly; the step itself runs in float64 so the
stored results are the float32 rounding of the exact answer, which Stitch can check tightly in
float64 and with a float32 tolerance in float32.

safetensors is written by hand (there is no Python safetensors package on Debian): an 8-byte
little-endian header length, a space-padded JSON header, then the raw little-endian tensor bytes.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import (  # noqa: E402
    CLIP_NORM, DecisionTransformer, DtConfig, Lamb, Reinformer, ReinformerConfig, make_optimizer, random_batch,
    random_reinformer_batch,
)

# (file name, config, left-padded timesteps per row, seed)
FIXTURES = [
    ("dt_step.safetensors",
     DtConfig(state_dim=5, act_dim=3, context=4, width=16, layers=2, heads=2, mlp_width=64,
              activation="gelu_tanh", max_timestep=20, dropout=0.0),
     {0: 1, 2: 2}, 1234),
    ("dt_step_relu.safetensors",
     DtConfig(state_dim=5, act_dim=3, context=4, width=16, layers=1, heads=1, mlp_width=64,
              activation="relu", max_timestep=20, dropout=0.0),
     {0: 2, 2: 1}, 5678),
]
BATCH_SIZE = 3

# torch dtype -> (safetensors dtype, little-endian numpy dtype)
SAFETENSORS_DTYPES = {torch.float32: ("F32", "<f4"), torch.int32: ("I32", "<i4")}


def write_safetensors(path, tensors, metadata):
    """tensors: name -> float32 or int32 tensor; metadata: str -> str."""
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    # sorted by name, as the reference writer does, so the same contents give the same bytes
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        dtype, little_endian = SAFETENSORS_DTYPES[t.dtype]
        raw = t.numpy().astype(little_endian, copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # pad with spaces so the data section starts 8-byte aligned
    encoded += b" " * (-(8 + len(encoded)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in chunks:
            f.write(raw)


def perturb_layer_norms(model, generator):
    """torch starts LayerNorms at weight 1, bias 0, which would hide a swapped or ignored affine."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))


def training_step_fixture(cfg, padded_rows, seed):
    torch.manual_seed(seed)  # nn.Linear / nn.Embedding default init draws from the global generator
    generator = torch.Generator().manual_seed(seed)
    model = DecisionTransformer(cfg)
    perturb_layer_norms(model, generator)
    batch = random_batch(cfg, BATCH_SIZE, generator, padded_rows=padded_rows)

    out = {f"param.{name}": p.detach().clone() for name, p in model.named_parameters()}
    out.update({
        "input.states": batch["states"], "input.actions": batch["actions"],
        "input.returns_to_go": batch["returns_to_go"], "input.timesteps": batch["timesteps"].to(torch.int32),
        "input.mask": batch["mask"],
    })

    model.double().train()
    wide = {k: (v.double() if v.is_floating_point() else v) for k, v in batch.items()}
    optimizer = make_optimizer(model)
    optimizer.zero_grad()
    loss, preds = model.loss(wide)
    loss.backward()
    out.update({f"grad.{name}": p.grad.detach().clone() for name, p in model.named_parameters()})
    grad_norm = torch.nn.utils.clip_grad_norm_(list(model.parameters()), CLIP_NORM)
    optimizer.step()
    out.update({f"after_adamw.{name}": p.detach().clone() for name, p in model.named_parameters()})
    out.update({
        "output.action_preds": preds.detach(),
        "output.loss": loss.detach().reshape([]),
        "output.grad_norm": grad_norm.detach().reshape([1]),
    })
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
    metadata = {
        "config": json.dumps(cfg.to_stitch()),
        "batch_size": str(BATCH_SIZE),
        "seed": str(seed),
        "optimizer": json.dumps({"name": "AdamW", "lr": 1e-4, "betas": [0.9, 0.999], "eps": 1e-8,
                                 "weight_decay": 1e-4, "clip_grad_norm": CLIP_NORM}),
        "computed_in": "float64",
        "note": "output.action_preds is only comparable at input.mask == 1 (torch gives fully masked "
                "attention rows uniform weights, Stitch gives them zeros)",
        "torch_version": torch.__version__,
    }
    return tensors, metadata


REINFORMER_FIXTURE = "reinformer_step.safetensors"
REINFORMER_CONFIG = ReinformerConfig(state_dim=5, act_dim=3, context=4, width=16, layers=2, heads=2,
                                     max_timestep=20, dropout=0.0)
REINFORMER_SEED = 2024
# row 1 is a trajectory shorter than K (2 real steps, right-padded)
REINFORMER_LENGTHS = [4, 2, 4]
# expectile below the default 0.99 so both sides of the asymmetric loss weigh visibly
REINFORMER_EXPECTILE = 0.9
# a LAMB learning rate large enough that one step moves each tensor by 1% of its norm, far above
# the test's tolerance (at the reference's 1e-4 with warm-up the step would be invisible)
REINFORMER_LAMB = {"lr": 1e-2, "weight_decay": 1e-4, "betas": [0.9, 0.999], "eps": 1e-8, "max_grad_norm": 1.0}
REINFORMER_TEMPERATURE_ADAM = {"lr": 1e-4, "betas": [0.9, 0.999], "eps": 1e-8}
# one log-std above the clamp range, so its gradient must be cut by the clamp
REINFORMER_LOG_STD = [0.3, -0.4, 2.5]


def reinformer_step_fixture():
    cfg, seed = REINFORMER_CONFIG, REINFORMER_SEED
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = Reinformer(cfg)
    perturb_layer_norms(model, generator)
    with torch.no_grad():
        model.action_log_std.copy_(torch.tensor(REINFORMER_LOG_STD))
    batch = random_reinformer_batch(cfg, BATCH_SIZE, generator, REINFORMER_LENGTHS)

    out = {f"param.{name}": p.detach().clone() for name, p in model.named_parameters()}
    out["temperature.log_temperature"] = model.log_temperature.detach().clone().reshape([1])
    out.update({
        "input.states": batch["states"], "input.actions": batch["actions"],
        "input.returns_to_go": batch["returns_to_go"], "input.timesteps": batch["timesteps"].to(torch.int32),
        "input.mask": batch["mask"],
    })

    model.double().train()
    log_temperature = model.log_temperature.detach().double().requires_grad_(True)
    model.log_temperature = log_temperature
    wide = {k: (v.double() if v.is_floating_point() else v) for k, v in batch.items()}
    optimizer = Lamb(model.parameters(), lr=REINFORMER_LAMB["lr"], weight_decay=REINFORMER_LAMB["weight_decay"],
                     betas=tuple(REINFORMER_LAMB["betas"]), eps=REINFORMER_LAMB["eps"],
                     max_grad_norm=REINFORMER_LAMB["max_grad_norm"])
    temperature_optimizer = torch.optim.Adam([log_temperature], lr=REINFORMER_TEMPERATURE_ADAM["lr"],
                                             betas=tuple(REINFORMER_TEMPERATURE_ADAM["betas"]),
                                             eps=REINFORMER_TEMPERATURE_ADAM["eps"])
    optimizer.zero_grad()
    terms = model.losses(wide, REINFORMER_EXPECTILE)
    terms["loss"].backward()
    out.update({f"grad.{name}": p.grad.detach().clone() for name, p in model.named_parameters()})
    grad_norm = torch.nn.utils.clip_grad_norm_(list(model.parameters()), CLIP_NORM)
    optimizer.step()
    out.update({f"after_lamb.{name}": p.detach().clone() for name, p in model.named_parameters()})

    # the reference's temperature step: lambda * (entropy - target), entropy from the forward above
    temperature_optimizer.zero_grad()
    temperature_loss = log_temperature.exp() * (terms["entropy"] - model.target_entropy).detach()
    temperature_loss.backward()
    out["output.log_temperature_grad"] = log_temperature.grad.detach().clone().reshape([1])
    temperature_optimizer.step()
    out["output.log_temperature_after"] = log_temperature.detach().clone().reshape([1])
    out["output.log_temperature_step"] = (log_temperature - out["temperature.log_temperature"].double()).detach().reshape([1])

    out.update({f"output.{name}": terms[name].detach() for name in ("return_preds", "action_means")})
    out.update({f"output.{name}": terms[name].detach().reshape([])
                for name in ("return_loss", "action_nll", "entropy", "action_loss", "loss")})
    out["output.temperature_loss"] = temperature_loss.detach().reshape([])
    out["output.grad_norm"] = grad_norm.detach().reshape([1])
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
    metadata = {
        "config": json.dumps(cfg.to_stitch()),
        "batch_size": str(BATCH_SIZE),
        "seed": str(seed),
        "expectile": str(REINFORMER_EXPECTILE),
        "clip_grad_norm": str(CLIP_NORM),
        "optimizer": json.dumps({"name": "Lamb", **REINFORMER_LAMB}),
        "temperature_optimizer": json.dumps({"name": "Adam", **REINFORMER_TEMPERATURE_ADAM}),
        "computed_in": "float64",
        "note": "Reinformer passes no attention mask: every output position is comparable",
        "torch_version": torch.__version__,
    }
    return tensors, metadata


def report(path, tensors):
    print(f"{os.path.relpath(path)}: {len(tensors)} tensors, {os.path.getsize(path)} bytes, "
          f"loss {tensors['output.loss'].item():.6f}, grad norm {tensors['output.grad_norm'].item():.6f}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch")
    os.makedirs(out_dir, exist_ok=True)
    for file_name, cfg, padded_rows, seed in FIXTURES:
        tensors, metadata = training_step_fixture(cfg, padded_rows, seed)
        path = os.path.join(out_dir, file_name)
        write_safetensors(path, tensors, metadata)
        report(path, tensors)
    tensors, metadata = reinformer_step_fixture()
    path = os.path.join(out_dir, REINFORMER_FIXTURE)
    write_safetensors(path, tensors, metadata)
    report(path, tensors)


if __name__ == "__main__":
    main()
