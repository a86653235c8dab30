#!/usr/bin/python3
"""Cheap internal-consistency checks of the float32 reference and of the committed goldens.

Runs in a couple of seconds on one thread; exits non-zero when a check fails and ends with
"N passed, M failed". Checks: safetensors round trips (single, sharded, bf16/f16/f32), RoPE
inv_freq against closed forms, YaRN against a scalar re-derivation and factor 1 == default,
MoE with top_k == num_experts against the dense softmax mixture, attention against a per-head
loop, causality, tied embeddings, the layer sparsity rule, the CLI's JSON, and that every
committed golden's first step is reproduced by the reference from its checkpoint.
"""

import contextlib
import io
import json
import math
import os
import sys
import tempfile
import traceback

# Debian's torch lives in /usr/lib/python3/dist-packages; a pyenv python3 may lack it.
try:
    import torch
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoints as mk  # noqa: E402
import qwen3_moe_ref as ref  # noqa: E402
import safetensors_io as st  # noqa: E402

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def close(a, b, tol, what):
    err = float((a - b).abs().max())
    assert err <= tol, f"{what}: max abs diff {err:.3e} > {tol:.1e}"


def tiny_model(seed=7, dtype=torch.float32, **over):
    cfg = mk.base_config(**over)
    w = mk.make_weights(cfg, {"seed": seed})
    return ref.Model(ref.Config(cfg), w, dtype)


@check
def safetensors_round_trip():
    g = torch.Generator().manual_seed(1)
    ts = {"a.weight": torch.randn(3, 5, generator=g) * 3, "b": torch.randn(7, generator=g),
          "c.scalarish": torch.randn(1, 1, generator=g)}
    with tempfile.TemporaryDirectory() as d:
        for dtype in ("BF16", "F16", "F32"):
            p = os.path.join(d, f"x_{dtype}.safetensors")
            st.write_file(p, ts, dtype, {"format": "pt"})
            with open(p, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
            assert n % 8 == 0, "header not padded to 8 bytes"
            back, meta, dtypes = st.read_file(p)
            assert meta == {"format": "pt"} and set(dtypes.values()) == {dtype}
            for k, v in ts.items():
                assert list(back[k].shape) == list(v.shape)
                exp = v if dtype == "F32" else v.to(getattr(torch, {"BF16": "bfloat16",
                                                                    "F16": "float16"}[dtype]))
                assert torch.equal(back[k], exp.float()), f"{dtype} {k} differs"
        st.write_sharded(d, ts, "BF16", 2)
        os.remove(os.path.join(d, "x_F32.safetensors"))
        back = st.load_dir(d)
        assert set(back) == set(ts)
        with open(os.path.join(d, st.INDEX_NAME)) as f:
            idx = json.load(f)
        assert len(set(idx["weight_map"].values())) == 2
        assert idx["metadata"]["total_size"] == sum(2 * v.numel() for v in ts.values())


@check
def bf16_known_bits():
    # 1.0 = 0x3F80, -2.5 = 0xC020, 1/3 rounds to 0x3EAB (0.333984375).
    t = torch.tensor([1.0, -2.5, 1.0 / 3.0])
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.safetensors")
        st.write_file(p, {"t": t}, "BF16")
        raw = open(p, "rb").read()
        n = int.from_bytes(raw[:8], "little")
        assert raw[8 + n:] == bytes([0x80, 0x3F, 0x20, 0xC0, 0xAB, 0x3E])
        assert st.read_file(p)[0]["t"].tolist() == [1.0, -2.5, 0.333984375]


@check
def rope_default_closed_form():
    for d, theta in ((32, 1e6), (24, 1e4), (16, 5e5)):
        cfg = ref.Config(mk.base_config(head_dim=d, rope_theta=theta))
        inv, af = ref.rope_parameters(cfg)
        exp = torch.tensor([theta ** (-2.0 * i / d) for i in range(d // 2)], dtype=torch.float64)
        assert af == 1.0 and inv.dtype == torch.float32 and inv.numel() == d // 2
        close(inv.double() / exp, torch.ones_like(exp), 1e-6, "default inv_freq")


def yarn_scalar(d, base, factor, orig, beta_fast=32, beta_slow=1, truncate=True,
                mscale=None, mscale_all_dim=None, attention_factor=None):
    """Straight-line scalar YaRN, written apart from rope_parameters."""
    def ms(s, m=1.0):
        return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0
    if attention_factor is None:
        attention_factor = (ms(factor, mscale) / ms(factor, mscale_all_dim)
                            if mscale and mscale_all_dim else ms(factor))
    def cdim(r):
        return d * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(base))
    lo, hi = cdim(beta_fast), cdim(beta_slow)
    if truncate:
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, d - 1)
    if lo == hi:
        hi += 0.001
    out = []
    for i in range(d // 2):
        ramp = min(1.0, max(0.0, (i - lo) / (hi - lo)))
        pf = base ** (2.0 * i / d)
        out.append((1.0 / (factor * pf)) * ramp + (1.0 / pf) * (1.0 - ramp))
    return torch.tensor(out, dtype=torch.float64), attention_factor


@check
def yarn_against_scalar():
    cases = [
        dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=64),
        dict(type="yarn", factor=4.0, original_max_position_embeddings=64, mscale=1.0,
             mscale_all_dim=0.5, beta_fast=16, beta_slow=2, truncate=False),
        dict(rope_type="yarn", factor=8.0, original_max_position_embeddings=32,
             attention_factor=0.75),
        dict(rope_type="yarn", factor=2.0),  # original defaults to max_position_embeddings
    ]
    for rs in cases:
        for d, base in ((32, 1e4), (24, 1e6)):
            cfg = ref.Config(mk.base_config(head_dim=d, rope_theta=base, rope_scaling=rs,
                                            max_position_embeddings=256))
            inv, af = ref.rope_parameters(cfg)
            exp, eaf = yarn_scalar(d, base, rs["factor"],
                                   rs.get("original_max_position_embeddings", 256),
                                   rs.get("beta_fast", 32), rs.get("beta_slow", 1),
                                   rs.get("truncate", True), rs.get("mscale"),
                                   rs.get("mscale_all_dim"), rs.get("attention_factor"))
            assert abs(af - eaf) < 1e-12, f"attention_factor {af} vs {eaf} for {rs}"
            close(inv.double() / exp, torch.ones_like(exp), 2e-6, f"yarn inv_freq {rs}")
    # Known values: factor 4 -> mscale 0.1 ln 4 + 1; mscale/mscale_all_dim ratio.
    cfg = ref.Config(mk.base_config(rope_scaling=cases[0], max_position_embeddings=256))
    assert abs(ref.rope_parameters(cfg)[1] - (0.1 * math.log(4) + 1)) < 1e-12
    cfg = ref.Config(mk.base_config(rope_scaling=cases[1], max_position_embeddings=256))
    r = (0.1 * math.log(4) + 1) / (0.05 * math.log(4) + 1)
    assert abs(ref.rope_parameters(cfg)[1] - r) < 1e-12


@check
def yarn_factor_one_is_default():
    for extra in ({}, {"original_max_position_embeddings": 64}, {"truncate": False}):
        rs = dict(rope_type="yarn", factor=1.0, **extra)
        cfg_y = ref.Config(mk.base_config(rope_scaling=rs))
        cfg_d = ref.Config(mk.base_config())
        iy, ay = ref.rope_parameters(cfg_y)
        idf, ad = ref.rope_parameters(cfg_d)
        assert ay == ad == 1.0
        close(iy / idf, torch.ones_like(idf), 1e-6, "yarn factor 1")


@check
def moe_full_topk_is_dense_mixture():
    m = tiny_model(seed=11, num_experts=6, num_experts_per_tok=6, norm_topk_prob=True,
                   num_hidden_layers=1)
    x = torch.randn(5, m.cfg.hidden_size, generator=torch.Generator().manual_seed(3))
    p = "model.layers.0.mlp."
    got = m._moe(x, p)
    probs = torch.softmax(x @ m.w[p + "gate.weight"].t(), dim=-1)
    exp = torch.zeros_like(x)
    for e in range(6):
        q = p + f"experts.{e}."
        g, u = x @ m.w[q + "gate_proj.weight"].t(), x @ m.w[q + "up_proj.weight"].t()
        y = (torch.nn.functional.silu(g) * u) @ m.w[q + "down_proj.weight"].t()
        exp += probs[:, e:e + 1] * y
    close(got, exp, 1e-5, "moe top_k == E")
    # top-1 with renormalisation is the argmax expert alone, weight 1.
    m.cfg.num_experts_per_tok = 1
    got = m._moe(x, p)
    for t in range(5):
        e = int(probs[t].argmax())
        close(got[t], m._dense_mlp(x[t:t + 1], p + f"experts.{e}.")[0], 1e-5, "moe top-1")
    # without renormalisation the weights are the raw softmax probabilities.
    m.cfg.num_experts_per_tok, m.cfg.norm_topk_prob = 2, False
    got = m._moe(x, p)
    tw, ti = torch.topk(probs, 2, dim=-1)
    for t in range(5):
        exp_t = sum(tw[t, j] * m._dense_mlp(x[t:t + 1], p + f"experts.{int(ti[t, j])}.")[0]
                    for j in range(2))
        close(got[t], exp_t, 1e-5, "moe top-2 unnormalised")


@check
def attention_against_loop():
    m = tiny_model(seed=5, num_attention_heads=6, num_key_value_heads=2, head_dim=8,
                   num_hidden_layers=1, rope_scaling={"rope_type": "yarn", "factor": 2.0,
                                                      "original_max_position_embeddings": 4})
    T, c = 7, m.cfg
    x = torch.randn(T, c.hidden_size, generator=torch.Generator().manual_seed(9))
    cos, sin = ref.rope_cos_sin(m.inv_freq, m.attention_factor, T)
    p = "model.layers.0.self_attn."
    got = m._attention(x, p, cos, sin)
    d = c.head_dim
    W = {n: m.w[p + n + ".weight"] for n in ("q_proj", "k_proj", "v_proj", "o_proj",
                                             "q_norm", "k_norm")}

    def norm(v, w):
        return v / torch.sqrt((v * v).mean() + c.rms_norm_eps) * w

    def rope(v, pos):
        out = torch.empty_like(v)
        for i in range(d // 2):
            ang = pos * float(m.inv_freq[i])
            cs, sn = math.cos(ang) * m.attention_factor, math.sin(ang) * m.attention_factor
            out[i] = v[i] * cs - v[i + d // 2] * sn
            out[i + d // 2] = v[i + d // 2] * cs + v[i] * sn
        return out

    heads = []
    for h in range(c.num_attention_heads):
        kv = h // (c.num_attention_heads // c.num_key_value_heads)
        q = [rope(norm(W["q_proj"][h * d:(h + 1) * d] @ x[t], W["q_norm"]), t) for t in range(T)]
        k = [rope(norm(W["k_proj"][kv * d:(kv + 1) * d] @ x[t], W["k_norm"]), t)
             for t in range(T)]
        v = [W["v_proj"][kv * d:(kv + 1) * d] @ x[t] for t in range(T)]
        rows = []
        for t in range(T):
            s = torch.tensor([float(q[t] @ k[j]) / math.sqrt(d) for j in range(t + 1)])
            pr = torch.softmax(s, dim=0)
            rows.append(sum(pr[j] * v[j] for j in range(t + 1)))
        heads.append(torch.stack(rows))
    exp = torch.cat(heads, dim=1) @ W["o_proj"].t()
    close(got, exp, 2e-5, "attention vs loop")


@check
def causal_prefix_and_tied():
    m = tiny_model(seed=21, tie_word_embeddings=True, num_hidden_layers=3,
                   decoder_sparse_step=2, mlp_only_layers=[0])
    assert [m.cfg.is_sparse(i) for i in range(3)] == [False, True, False]
    assert "lm_head.weight" not in m.w
    ids = [3, 17, 200, 5, 5, 9, 100, 42]
    full = m.logits(ids)
    for n in (1, 4, 7):
        close(m.logits(ids[:n]), full[:n], 2e-5, f"causal prefix {n}")
    h = m.hidden_states(ids)
    close(full, h @ m.w["model.embed_tokens.weight"].t(), 0.0, "tied lm_head")


@check
def layer_sparsity_rule():
    def pattern(**over):
        c = ref.Config(mk.base_config(**over))
        return [c.is_sparse(i) for i in range(c.num_hidden_layers)]
    assert pattern(num_hidden_layers=4) == [True] * 4
    assert pattern(num_hidden_layers=4, decoder_sparse_step=2, mlp_only_layers=[0, 3]) == \
        [False, True, False, False]
    assert pattern(num_hidden_layers=3, num_experts=0) == [False] * 3
    assert pattern(num_hidden_layers=3, mlp_only_layers=[1]) == [True, False, True]
    assert pattern(model_type="qwen3", num_hidden_layers=2) == [False, False]


@check
def cli_json():
    d = os.path.join(mk.DEFAULT_OUT, "dense_qwen3")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ref.main(["--model", d, "--prompt-ids", "1,2,3", "--max-tokens", "2", "--logprobs", "3"])
    out = json.loads(buf.getvalue())
    assert set(out) == {"token_ids", "logprobs"} and len(out["token_ids"]) == 2
    for tok, e in zip(out["token_ids"], out["logprobs"]):
        assert e["token_id"] == tok and len(e["top"]) == 3 and e["top"][0][0] == tok
        assert e["top"][0][1] == e["logprob"] and e["top"][0][1] >= e["top"][1][1]


@check
def goldens_reproduce():
    """First step of every committed case, from the committed checkpoint, within 2e-5."""
    torch.set_num_threads(1)
    for name in mk.VARIANTS:
        d = os.path.join(mk.DEFAULT_OUT, name)
        with open(os.path.join(d, "golden.json")) as f:
            g = json.load(f)
        m = ref.Model.load(d)
        for case in g["cases"]:
            steps = case["logprobs"]
            assert len(case["token_ids"]) == case["max_tokens"] == len(steps)
            gaps = [s["top"][0][1] - s["top"][1][1] for s in steps]
            assert abs(min(gaps) - case["min_gap"]) < 1e-6, f"{name}: min_gap inconsistent"
            assert all(s["token_id"] == s["top"][0][0] == t
                       for s, t in zip(steps, case["token_ids"]))
            # Check the first step, and the last one (whose prefix holds every generated token).
            for k in (0, len(steps) - 1):
                lp = m.next_logprobs(case["prompt_ids"] + case["token_ids"][:k])
                ids = torch.tensor([i for i, _ in steps[k]["top"]])
                exp = torch.tensor([v for _, v in steps[k]["top"]])
                close(lp[ids], exp, 2e-5, f"{name} step {k}")
                assert int(lp.argmax()) == case["token_ids"][k]


def main():
    torch.set_num_threads(1)
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
            passed += 1
            print(f"ok   {fn.__name__}")
        except Exception:  # noqa: BLE001 - report and go on
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
