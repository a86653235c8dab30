#!/usr/bin/python3
"""Independent float32 reference of Hugging Face's Qwen3MoeForCausalLM / Qwen3ForCausalLM forward.

Written from the published semantics (not from transformers code) with Debian's python3-torch
only. Loads a HF-layout directory (config.json + model.safetensors, or shards with
model.safetensors.index.json), upcasts every weight to float32 (or float64 for error estimates)
and recomputes the whole sequence for every step: no KV cache, tiny models only.

CLI (same JSON as `moeserve generate --format json`):
  tools/reference/qwen3_moe_ref.py --model DIR --prompt-ids 1,2,3 --max-tokens 8 --logprobs 5
prints {"token_ids": [...], "logprobs": [{"token_id": I, "logprob": X, "top": [[id, lp], ...]}]}.
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Config


class Config:
    """The fields of a qwen3_moe / qwen3 config.json that the forward uses, with HF defaults."""

    def __init__(self, d):
        self.raw = d
        self.model_type = d.get("model_type", "qwen3_moe")
        self.vocab_size = d["vocab_size"]
        self.hidden_size = d["hidden_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.num_key_value_heads = d.get("num_key_value_heads") or self.num_attention_heads
        self.head_dim = d.get("head_dim") or self.hidden_size // self.num_attention_heads
        self.intermediate_size = d.get("intermediate_size", 0)
        self.rms_norm_eps = d.get("rms_norm_eps", 1e-6)
        self.rope_theta = d.get("rope_theta", 10000.0)
        self.rope_scaling = d.get("rope_scaling")
        self.max_position_embeddings = d.get("max_position_embeddings", 32768)
        self.tie_word_embeddings = d.get("tie_word_embeddings", False)
        self.attention_bias = d.get("attention_bias", False)
        self.hidden_act = d.get("hidden_act", "silu")
        if self.model_type == "qwen3_moe":
            self.num_experts = d.get("num_experts", 0)
            self.num_experts_per_tok = d.get("num_experts_per_tok", 0)
            self.moe_intermediate_size = d.get("moe_intermediate_size", 0)
            self.decoder_sparse_step = d.get("decoder_sparse_step", 1)
            self.mlp_only_layers = list(d.get("mlp_only_layers") or [])
            self.norm_topk_prob = d.get("norm_topk_prob", False)
        elif self.model_type == "qwen3":
            self.num_experts = 0
            self.num_experts_per_tok = 0
            self.moe_intermediate_size = 0
            self.decoder_sparse_step = 1
            self.mlp_only_layers = []
            self.norm_topk_prob = False
        else:
            raise ValueError(f"unsupported model_type {self.model_type}")
        if self.hidden_act != "silu":
            raise ValueError(f"unsupported hidden_act {self.hidden_act}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    def is_sparse(self, layer):
        return (layer not in self.mlp_only_layers and self.num_experts > 0
                and (layer + 1) % self.decoder_sparse_step == 0)


def load_config(directory):
    with open(os.path.join(directory, "config.json")) as f:
        return Config(json.load(f))


def load_eos_ids(directory, cfg):
    """eos ids from generation_config.json (int or list), else config.json."""
    ids = None
    path = os.path.join(directory, "generation_config.json")
    if os.path.exists(path):
        with open(path) as f:
            ids = json.load(f).get("eos_token_id")
    if ids is None:
        ids = cfg.raw.get("eos_token_id")
    if ids is None:
        return []
    return [ids] if isinstance(ids, int) else list(ids)


# ---------------------------------------------------------------------------------------------
# RoPE


def _mscale(scale, m=1.0):
    return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0


def rope_parameters(cfg, dtype=torch.float32):
    """Returns (inv_freq [head_dim/2], attention_factor) following transformers' rope init.

    Default: inv_freq = 1 / theta^(arange(0, d, 2)/d), d = head_dim, factor 1.
    YaRN: blend of interpolated (1/(factor*pos_freq)) and extrapolated (1/pos_freq) frequencies
    over a linear ramp between the correction dims of beta_fast and beta_slow.
    """
    d = cfg.head_dim
    base = cfg.rope_theta
    exps = torch.arange(0, d, 2, dtype=torch.int64).to(dtype) / d
    pos_freqs = base ** exps  # float tensor ** python float, as torch does it
    rs = cfg.rope_scaling
    rtype = None
    if rs:
        rtype = rs.get("rope_type", rs.get("type"))
    if rtype in (None, "default"):
        return 1.0 / pos_freqs, 1.0
    if rtype != "yarn":
        raise ValueError(f"unsupported rope_type {rtype}")

    orig = rs.get("original_max_position_embeddings") or cfg.max_position_embeddings
    factor = rs.get("factor")
    if factor is None:
        factor = cfg.max_position_embeddings / orig
    attention_factor = rs.get("attention_factor")
    mscale, mscale_all_dim = rs.get("mscale"), rs.get("mscale_all_dim")
    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = float(_mscale(factor, mscale) / _mscale(factor, mscale_all_dim))
        else:
            attention_factor = _mscale(factor)
    beta_fast = rs.get("beta_fast") or 32
    beta_slow = rs.get("beta_slow") or 1
    truncate = rs.get("truncate", True)

    def correction_dim(rotations):
        return d * math.log(orig / (rotations * 2 * math.pi)) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, d - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(d // 2, dtype=torch.float32).to(dtype) - low) / (high - low),
                       0, 1)
    extrapolation_factor = 1 - ramp
    inv_extrap = 1.0 / pos_freqs
    inv_interp = 1.0 / (factor * pos_freqs)
    inv_freq = inv_interp * (1 - extrapolation_factor) + inv_extrap * extrapolation_factor
    return inv_freq, float(attention_factor)


def rope_cos_sin(inv_freq, attention_factor, num_positions):
    """cos, sin of shape [T, head_dim], the half-frequencies repeated (cat(f, f))."""
    pos = torch.arange(num_positions, dtype=inv_freq.dtype)
    freqs = pos[:, None] * inv_freq[None, :]  # [T, d/2]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos() * attention_factor, emb.sin() * attention_factor


def apply_rope(x, cos, sin):
    """x: [heads, T, d]. rotate_half: (x1, x2) -> (-x2, x1) with x1, x2 the two halves."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


# ---------------------------------------------------------------------------------------------
# Model


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def silu(x):
    return x * torch.sigmoid(x)


class Model:
    """The forward pass; weights held as `dtype` tensors keyed by their HF names."""

    def __init__(self, cfg, weights, dtype=torch.float32):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        self._check_weights()
        self.inv_freq, self.attention_factor = rope_parameters(cfg, dtype)

    @classmethod
    def load(cls, directory, dtype=torch.float32):
        return cls(load_config(directory), safetensors_io.load_dir(directory), dtype)

    def _check_weights(self):
        c = self.cfg
        need = ["model.embed_tokens.weight", "model.norm.weight"]
        if not c.tie_word_embeddings:
            need.append("lm_head.weight")
        for i in range(c.num_hidden_layers):
            p = f"model.layers.{i}."
            need += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
            need += [p + f"self_attn.{n}.weight"
                     for n in ("q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm")]
            if c.attention_bias:
                need += [p + f"self_attn.{n}.bias" for n in ("q_proj", "k_proj", "v_proj")]
            if c.is_sparse(i):
                need.append(p + "mlp.gate.weight")
                need += [p + f"mlp.experts.{e}.{n}.weight" for e in range(c.num_experts)
                         for n in ("gate_proj", "up_proj", "down_proj")]
            else:
                need += [p + f"mlp.{n}.weight" for n in ("gate_proj", "up_proj", "down_proj")]
        missing = [n for n in need if n not in self.w]
        if missing:
            raise ValueError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")

    def _linear(self, x, name, bias=False):
        y = x @ self.w[name + ".weight"].t()
        if bias:
            y = y + self.w[name + ".bias"]
        return y

    def _attention(self, x, p, cos, sin):
        c = self.cfg
        T = x.shape[0]
        hq, hkv, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        b = c.attention_bias
        q = self._linear(x, p + "q_proj", b).view(T, hq, d)
        k = self._linear(x, p + "k_proj", b).view(T, hkv, d)
        v = self._linear(x, p + "v_proj", b).view(T, hkv, d)
        q = rms_norm(q, self.w[p + "q_norm.weight"], c.rms_norm_eps).transpose(0, 1)  # [hq,T,d]
        k = rms_norm(k, self.w[p + "k_norm.weight"], c.rms_norm_eps).transpose(0, 1)
        v = v.transpose(0, 1)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = hq // hkv
        k = k.repeat_interleave(group, dim=0)  # q head h uses kv head h // group
        v = v.repeat_interleave(group, dim=0)
        scores = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(d))  # [hq, T, T]
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        out = (probs @ v).transpose(0, 1).reshape(T, hq * d)
        return self._linear(out, p + "o_proj")

    def _dense_mlp(self, x, p):
        return self._linear(silu(self._linear(x, p + "gate_proj")) * self._linear(x, p + "up_proj"),
                            p + "down_proj")

    def _moe(self, x, p, trace=None):
        c = self.cfg
        logits = self._linear(x, p + "gate")  # [T, E]
        probs = torch.softmax(logits, dim=-1)
        k = c.num_experts_per_tok
        top_w, top_i = torch.topk(probs, k, dim=-1)
        if c.norm_topk_prob:
            top_w = top_w / top_w.sum(dim=-1, keepdim=True)
        if trace is not None:
            trace.setdefault("router_logits", []).append(logits)
            trace.setdefault("topk_ids", []).append(top_i)
            trace.setdefault("topk_weights", []).append(top_w)
        out = torch.zeros_like(x)
        for e in torch.unique(top_i).tolist():
            rows, slot = (top_i == e).nonzero(as_tuple=True)
            y = self._dense_mlp(x[rows], p + f"experts.{e}.")
            out.index_add_(0, rows, y * top_w[rows, slot][:, None])
        return out

    def hidden_states(self, ids, trace=None):
        """Final-normed hidden states [T, hidden] for token ids (a causal prefix)."""
        c = self.cfg
        ids_t = torch.tensor(ids, dtype=torch.int64)
        if ids_t.numel() == 0 or int(ids_t.min()) < 0 or int(ids_t.max()) >= c.vocab_size:
            raise ValueError("token ids empty or out of range")
        x = self.w["model.embed_tokens.weight"][ids_t]
        cos, sin = rope_cos_sin(self.inv_freq, self.attention_factor, len(ids))
        for i in range(c.num_hidden_layers):
            p = f"model.layers.{i}."
            h = rms_norm(x, self.w[p + "input_layernorm.weight"], c.rms_norm_eps)
            x = x + self._attention(h, p + "self_attn.", cos, sin)
            h = rms_norm(x, self.w[p + "post_attention_layernorm.weight"], c.rms_norm_eps)
            if c.is_sparse(i):
                x = x + self._moe(h, p + "mlp.", trace)
            else:
                x = x + self._dense_mlp(h, p + "mlp.")
            if trace is not None:
                trace.setdefault("layer_out", []).append(x)
        return rms_norm(x, self.w["model.norm.weight"], c.rms_norm_eps)

    def lm_head_weight(self):
        if self.cfg.tie_word_embeddings:
            return self.w["model.embed_tokens.weight"]
        return self.w["lm_head.weight"]

    def logits(self, ids, trace=None):
        """Next-token logits [T, vocab] for every position."""
        return self.hidden_states(ids, trace) @ self.lm_head_weight().t()

    def next_logprobs(self, ids, trace=None):
        """log_softmax of the last position's logits, [vocab]."""
        return torch.log_softmax(self.logits(ids, trace)[-1], dim=-1)


# ---------------------------------------------------------------------------------------------
# Greedy decoding


def top_entries(lp, k):
    """[[id, logprob], ...] for the k largest log-probs, ties broken by the smaller id."""
    if k <= 0:
        return []
    vals, idx = torch.topk(lp, min(lp.numel(), k + 8))
    pairs = sorted(zip(vals.tolist(), idx.tolist()), key=lambda t: (-t[0], t[1]))
    return [[i, v] for v, i in pairs[:k]]


def greedy(model, prompt_ids, max_tokens, logprobs=0, eos_ids=(), ignore_eos=False):
    """Greedy decode with full recomputation. Returns the JSON-ready dict plus 'min_gap'."""
    ids = list(prompt_ids)
    out_ids, out_lps = [], []
    min_gap = float("inf")
    for _ in range(max_tokens):
        lp = model.next_logprobs(ids)
        top2 = top_entries(lp, 2)
        tok = top2[0][0]
        if len(top2) > 1:
            min_gap = min(min_gap, top2[0][1] - top2[1][1])
        out_ids.append(tok)
        out_lps.append({"token_id": tok, "logprob": float(lp[tok]),
                        "top": top_entries(lp, logprobs)})
        ids.append(tok)
        if tok in eos_ids and not ignore_eos:
            break
    return {"token_ids": out_ids, "logprobs": out_lps, "min_gap": min_gap}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="HF-layout directory")
    ap.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--logprobs", type=int, default=0, help="top-K entries per step")
    ap.add_argument("--ignore-eos", action="store_true")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = Model.load(a.model, getattr(torch, a.dtype))
    prompt = [int(t) for t in a.prompt_ids.split(",") if t.strip()]
    res = greedy(model, prompt, a.max_tokens, a.logprobs, load_eos_ids(a.model, model.cfg),
                 a.ignore_eos)
    print(json.dumps({"token_ids": res["token_ids"], "logprobs": res["logprobs"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
