#!/usr/bin/python3
"""Differential check: random chat requests rendered by Python Jinja2 (HF's setup) and by
`moeserve render-chat` must agree byte for byte.

Usage: /usr/bin/python3 tools/template/differential_check.py BUILD/bin/moeserve [COUNT] [SEED]
Uses tests/data/template/qwen3_tokenizer_config.json. Exits 1 on any mismatch.
"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_goldens as mg  # noqa: E402

ALPHABET = ["a", "Z", " ", "\n", "\t", "é", "ß", "你", "😀", "\u2028", "\\", '"', "'", "<think>",
            "</think>", "<tool_response>", "</tool_response>", "/think", "/no_think", "{", "}",
            "\x01", "\u00a0", "<|im_end|>"]


def rand_text(r):
    return "".join(r.choice(ALPHABET) for _ in range(r.randint(0, 12)))


def rand_json(r, depth=0):
    kind = r.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return r.choice([True, False, None])
    if kind == 1:
        return r.randint(-10**12, 10**12)
    if kind == 2:
        return r.choice([0.0, -0.0, 1.5, 1e16, 1e-7, 0.1, 123456.789, 1e300, 2.5e-300,
                         r.uniform(-1e6, 1e6)])
    if kind in (3, 4):
        return rand_text(r)
    if kind == 5:
        return [rand_json(r, depth + 1) for _ in range(r.randint(0, 3))]
    return {rand_text(r) or "k": rand_json(r, depth + 1) for _ in range(r.randint(0, 3))}


def rand_message(r, role):
    m = {"role": role, "content": rand_text(r)}
    roll = r.random()
    if roll < 0.02:
        del m["content"]
    elif roll < 0.04:
        m["content"] = None
    elif roll < 0.05:
        m["content"] = [{"type": "text", "text": rand_text(r)}]
    if role == "assistant":
        if r.random() < 0.3:
            m["reasoning_content"] = rand_text(r) if r.random() < 0.8 else None
        if r.random() < 0.4:
            calls = []
            for _ in range(r.randint(1, 3)):
                args = rand_json(r) if r.random() < 0.5 else json.dumps(rand_json(r))
                fn = {"name": rand_text(r) or "f", "arguments": args}
                calls.append({"type": "function", "function": fn} if r.random() < 0.8 else fn)
            m["tool_calls"] = calls
    return m


def rand_request(r):
    roles = ["user"] + [r.choice(["user", "assistant", "tool", "system"])
                        for _ in range(r.randint(0, 7))]
    if r.random() < 0.5:
        roles.insert(0, "system")
    req = {"messages": [rand_message(r, role) for role in roles]}
    if r.random() < 0.4:
        req["tools"] = [{"type": "function", "function": {"name": rand_text(r) or "t",
                                                          "parameters": rand_json(r)}}
                        for _ in range(r.randint(0, 3))]
    if r.random() < 0.7:
        req["add_generation_prompt"] = r.random() < 0.5
    if r.random() < 0.6:
        req["enable_thinking"] = r.random() < 0.5
    return req


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    cfg_path = os.path.join(mg.DATA, "qwen3_tokenizer_config.json")
    with open(cfg_path, encoding="utf-8") as f:
        config = json.load(f)
    specials = mg.special_tokens(config)
    reqs = [rand_request(r) for _ in range(count)]
    want = []
    for req in reqs:
        try:
            want.append(mg.render_request(config["chat_template"], specials, req))
        except Exception:
            want.append(None)
    stdin = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in reqs)
    proc = subprocess.run([binary, "render-chat", "--tokenizer", cfg_path], input=stdin.encode(),
                          capture_output=True)
    got = [json.loads(l) for l in proc.stdout.decode().split("\n") if l]
    bad = 0
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            bad += 1
            if bad <= 5:
                print(f"mismatch {i}: request={json.dumps(reqs[i], ensure_ascii=False)}\n"
                      f"  python={w!r}\n  moeserve={g!r}")
    if len(got) != len(want):
        print(f"line count {len(got)} != {len(want)}")
        bad += 1
    print(f"{count - bad}/{count} agree ({sum(w is None for w in want)} are errors in both)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
