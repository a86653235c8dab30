#!/usr/bin/python3
"""Writes the tiny deterministic random Qwen3 / Qwen3-MoE checkpoints used as golden test data.

Each variant becomes tests/data/golden/<name>/ in Hugging Face layout: config.json,
generation_config.json and model.safetensors (or shards + model.safetensors.index.json).
Weights come from a seeded torch.Generator, drawn in sorted-name order, scaled so that logits
and router logits are well separated (see `_init`).

  tools/reference/make_checkpoints.py [--out tests/data/golden] [--only NAME ...]
"""

import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "tests", "data", "golden")

TORCH_DTYPE_NAMES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


def base_config(model_type="qwen3_moe", **over):
    """A full config.json in the shape of the published Qwen3 / Qwen3-MoE configs."""
    c = {
        "architectures": ["Qwen3MoeForCausalLM" if model_type == "qwen3_moe"
                          else "Qwen3ForCausalLM"],
        "model_type": model_type,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "vocab_size": 512,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "max_position_embeddings": 4096,
        "max_window_layers": 2,
        "sliding_window": None,
        "use_sliding_window": False,
        "tie_word_embeddings": False,
        "use_cache": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
    }
    if model_type == "qwen3_moe":
        c.update({
            "num_experts": 8,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 32,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "norm_topk_prob": True,
            "output_router_logits": False,
            "router_aux_loss_coef": 0.001,
        })
    c.update(over)
    c["max_window_layers"] = c["num_hidden_layers"]
    # The last two ids of the vocabulary are bos/eos; goldens never generate them.
    c["bos_token_id"] = c["vocab_size"] - 2
    c["eos_token_id"] = c["vocab_size"] - 1
    return dict(sorted(c.items()))


# name -> (config, options). Options: seed, dtype (file dtype), shards, lm_gain (std of logits
# before the final norm's weight), router_gain (std of router logits), final_norm (mean of
# model.norm.weight), embed_std (tied variants use a small one so that the layers, not the
# input token's own embedding, decide the next token), long_prompts (goldens use > 64 tokens).
VARIANTS = {
    "moe128_top8": (base_config(
        num_experts=128, num_experts_per_tok=8, moe_intermediate_size=12, norm_topk_prob=True,
        num_attention_heads=16, num_key_value_heads=1, head_dim=32, hidden_size=64,
        num_hidden_layers=2, rope_theta=1000000.0, vocab_size=512),
        dict(seed=1281, dtype="BF16")),
    "moe64_top4": (base_config(
        num_experts=64, num_experts_per_tok=4, moe_intermediate_size=12, norm_topk_prob=False,
        num_attention_heads=8, num_key_value_heads=2, head_dim=16, hidden_size=64,
        num_hidden_layers=2, vocab_size=512),
        dict(seed=644, dtype="BF16")),
    "yarn": (base_config(
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64},
        max_position_embeddings=256, num_experts=8, num_experts_per_tok=2,
        moe_intermediate_size=16, num_attention_heads=4, num_key_value_heads=2, head_dim=32),
        dict(seed=4064, dtype="BF16", long_prompts=True)),
    # Legacy "type" key, mscale/mscale_all_dim attention factor, non-default betas, no truncation.
    "yarn_mscale": (base_config(
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64,
                      "mscale": 1.0, "mscale_all_dim": 0.5, "beta_fast": 16, "beta_slow": 2,
                      "truncate": False},
        max_position_embeddings=256, num_experts=6, num_experts_per_tok=3,
        moe_intermediate_size=16, num_attention_heads=4, num_key_value_heads=1, head_dim=32),
        dict(seed=4065, dtype="BF16", long_prompts=True)),
    "sharded": (base_config(
        num_experts=8, num_experts_per_tok=2, moe_intermediate_size=16, hidden_size=64,
        num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=3, head_dim=16),
        dict(seed=333, dtype="BF16", shards=3)),
    # Layers 0 and 2 dense by the step rule, layer 3 dense by mlp_only_layers, layer 1 MoE.
    "sparse_step": (base_config(
        num_hidden_layers=4, decoder_sparse_step=2, mlp_only_layers=[0, 3], num_experts=16,
        num_experts_per_tok=4, moe_intermediate_size=16, intermediate_size=64,
        num_attention_heads=4, num_key_value_heads=4, head_dim=16, tie_word_embeddings=True),
        dict(seed=2222, dtype="BF16", embed_std=0.25, final_norm=2.0)),
    "dense_qwen3": (base_config(
        "qwen3", num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
        intermediate_size=96),
        dict(seed=3003, dtype="BF16")),
    "f32": (base_config(torch_dtype="float32", num_experts=4, num_experts_per_tok=2,
                        moe_intermediate_size=16, head_dim=24, tie_word_embeddings=True),
            dict(seed=3232, dtype="F32", embed_std=0.25, final_norm=2.0)),
    "f16": (base_config(torch_dtype="float16", num_experts=4, num_experts_per_tok=2,
                        moe_intermediate_size=16, head_dim=24),
            dict(seed=1616, dtype="F16")),
}


def generation_config(cfg):
    return {
        "bos_token_id": cfg["bos_token_id"],
        "do_sample": True,
        "eos_token_id": [cfg["eos_token_id"], cfg["bos_token_id"]],
        "pad_token_id": cfg["bos_token_id"],
        "temperature": 0.6,
        "top_k": 20,
        "top_p": 0.95,
        "transformers_version": "4.51.0",
    }


def tensor_shapes(cfg):
    """{HF tensor name: shape} for a config."""
    H, V = cfg["hidden_size"], cfg["vocab_size"]
    hq, hkv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    moe = cfg["model_type"] == "qwen3_moe"
    s = {"model.embed_tokens.weight": [V, H], "model.norm.weight": [H]}
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, H]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        s[p + "input_layernorm.weight"] = [H]
        s[p + "post_attention_layernorm.weight"] = [H]
        s[p + "self_attn.q_proj.weight"] = [hq * d, H]
        s[p + "self_attn.k_proj.weight"] = [hkv * d, H]
        s[p + "self_attn.v_proj.weight"] = [hkv * d, H]
        s[p + "self_attn.o_proj.weight"] = [H, hq * d]
        s[p + "self_attn.q_norm.weight"] = [d]
        s[p + "self_attn.k_norm.weight"] = [d]
        sparse = (moe and i not in cfg["mlp_only_layers"] and cfg["num_experts"] > 0
                  and (i + 1) % cfg["decoder_sparse_step"] == 0)
        if sparse:
            E, I = cfg["num_experts"], cfg["moe_intermediate_size"]
            s[p + "mlp.gate.weight"] = [E, H]
            for e in range(E):
                q = p + f"mlp.experts.{e}."
                s[q + "gate_proj.weight"] = [I, H]
                s[q + "up_proj.weight"] = [I, H]
                s[q + "down_proj.weight"] = [H, I]
        else:
            I = cfg["intermediate_size"]
            s[p + "mlp.gate_proj.weight"] = [I, H]
            s[p + "mlp.up_proj.weight"] = [I, H]
            s[p + "mlp.down_proj.weight"] = [H, I]
    return s


def _init(name, shape, g, opt):
    """One random tensor. Linear weights: N(0,1) * gain / sqrt(fan_in); norms: 1 + N(0, 0.2)."""
    if name.endswith("norm.weight"):
        mean = opt.get("final_norm", 1.0) if name == "model.norm.weight" else 1.0
        return mean * (1.0 + 0.2 * torch.randn(shape, generator=g))
    if name == "model.embed_tokens.weight":
        return opt.get("embed_std", 1.0) * torch.randn(shape, generator=g)
    fan_in = shape[-1]
    gain = 1.0
    if name == "lm_head.weight":
        gain = opt.get("lm_gain", 4.0)
    elif name.endswith("mlp.gate.weight"):
        gain = opt.get("router_gain", 2.0)
    return torch.randn(shape, generator=g) * (gain / fan_in ** 0.5)


def make_weights(cfg, opt):
    g = torch.Generator().manual_seed(opt["seed"])
    return {n: _init(n, shp, g, opt) for n, shp in sorted(tensor_shapes(cfg).items())}


def write_variant(out_dir, name):
    cfg, opt = VARIANTS[name]
    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        for f in os.listdir(d):  # keep golden*.json, replace the checkpoint
            if f.endswith(".safetensors") or f in ("config.json", "generation_config.json",
                                                   safetensors_io.INDEX_NAME):
                os.remove(os.path.join(d, f))
    os.makedirs(d, exist_ok=True)
    cfg = dict(cfg)
    cfg["torch_dtype"] = TORCH_DTYPE_NAMES[opt["dtype"]]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump(generation_config(cfg), f, indent=2)
        f.write("\n")
    weights = make_weights(cfg, opt)
    meta = {"format": "pt"}
    if opt.get("shards", 1) > 1:
        safetensors_io.write_sharded(d, weights, opt["dtype"], opt["shards"], meta)
    else:
        safetensors_io.write_file(os.path.join(d, safetensors_io.SINGLE_NAME), weights,
                                  opt["dtype"], meta)
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    return d, size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", help="variant names (default: all)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = a.only or list(VARIANTS)
    for n in names:
        d, size = write_variant(a.out, n)
        print(f"{n}: {size} bytes in {os.path.relpath(d, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
