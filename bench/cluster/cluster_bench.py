#!/usr/bin/python3
"""Cluster decode throughput against the single-process engine, side by side on one machine.

Runs `moeserve generate` (one process) and `moeserve up` (router + W workers + S expert shards
over UCX) on the same model and prompt, batch 1, greedy, and compares decode tokens/s:
  single process: generated tokens after the first / decode_seconds (from generate's timings)
  cluster:        (N - 1) / (t(N tokens) - t(1 token)) over /v1/completions, which cancels
                  the HTTP, tokenization and prefill time.
Also reports each expert shard's resident memory (VmRSS) against the model's expert bytes.

Usage: cluster_bench.py MOESERVE MODEL_DIR [--workers 1] [--shards 2] [--tokens 32] [--reps 3]
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("model")
ap.add_argument("--workers", type=int, default=1)
ap.add_argument("--shards", type=int, default=2)
ap.add_argument("--tokens", type=int, default=32)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--set", action="append", default=[], help="cluster config override for up")
args = ap.parse_args()
prompt = [(37 * i + 11) % 1000 + 1 for i in range(32)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single():
    best = 0.0
    for _ in range(args.reps):
        out = subprocess.run([args.binary, "generate", "--model", args.model, "--prompt-ids",
                              ",".join(map(str, prompt)), "--max-tokens", str(args.tokens),
                              "--temperature", "0", "--ignore-eos", "--quiet", "--format", "json"],
                             capture_output=True, text=True, check=True)
        t = json.loads(out.stdout)["timings"]
        best = max(best, (t["generated_tokens"] - 1) / t["decode_seconds"])
    return best


def post(port, model, n):
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": n, "temperature": 0,
                       "ignore_eos": True}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        r.read()
    return time.perf_counter() - t0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cluster():
    http, grpc = free_port(), free_port()
    proc = subprocess.Popen([args.binary, "up", "--model", args.model, "--attention-workers",
                             str(args.workers), "--expert-shards", str(args.shards),
                             "--http-port", str(http), "--grpc-port", str(grpc)] +
                            [x for kv in args.set for x in ("--set", kv)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/v1/models", timeout=5) as r:
            model = json.loads(r.read())["data"][0]["id"]
        post(http, model, 2)  # warm up
        best = 0.0
        for _ in range(args.reps):
            t1 = post(http, model, 1)
            tn = post(http, model, args.tokens)
            best = max(best, (args.tokens - 1) / max(tn - t1, 1e-9))
        ps = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)],
                            capture_output=True, text=True).stdout
        rss = {}
        for line in ps.splitlines():
            pid, cmd = line.strip().split(None, 1)
            role = cmd.split()[1] if len(cmd.split()) > 1 else "?"
            rss.setdefault(role, []).append(rss_kib(int(pid)) / 1024)
        return best, rss
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


s = single()
c, rss = cluster()
print(json.dumps({"model": args.model, "overrides": args.set, "workers": args.workers, "shards": args.shards,
                  "decode_tokens": args.tokens,
                  "single_process_decode_tok_s": round(s, 3),
                  "cluster_decode_tok_s": round(c, 3), "ratio": round(c / s, 3),
                  "rss_mib_by_role": {k: [round(x) for x in v] for k, v in rss.items()}},
                 indent=1))
