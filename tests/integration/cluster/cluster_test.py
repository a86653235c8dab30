#!/usr/bin/python3
"""End-to-end: `moeserve up` runs a real multi-process cluster (router, attention workers, expert
shards over UCX) on a golden checkpoint; /v1/completions must give exactly what the in-process
`moeserve generate` gives, alone and under 16 concurrent requests; SIGTERM leaves no process.

Usage: cluster_test.py MOESERVE_BINARY MODEL_DIR [WORKERS SHARDS]
Prints "N passed, M failed" and exits non-zero on any failure.
"""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

BIN, MODEL = sys.argv[1], sys.argv[2]
WORKERS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
SHARDS = int(sys.argv[4]) if len(sys.argv) > 4 else 4
passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, body, timeout=120):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def generate(prompt, max_tokens):
    out = subprocess.run([BIN, "generate", "--model", MODEL, "--prompt-ids",
                          ",".join(map(str, prompt)), "--max-tokens", str(max_tokens),
                          "--temperature", "0", "--logprobs", "5", "--format", "json",
                          "--ignore-eos", "--quiet"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def descendants(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    for line in out.split("\n"):
        if line.strip():
            p, pp = map(int, line.split())
            children.setdefault(pp, []).append(p)
    result, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            result.append(c)
            todo.append(c)
    return result


http_port, grpc_port = free_port(), free_port()
proc = subprocess.Popen([BIN, "up", "--model", MODEL, "--attention-workers", str(WORKERS),
                         "--expert-shards", str(SHARDS), "--http-port", str(http_port),
                         "--grpc-port", str(grpc_port)],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        start_new_session=True)
try:
    deadline = time.time() + 180
    healthy = False
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=2) as r:
                healthy = r.status == 200
        except Exception:
            pass
        if healthy:
            break
        time.sleep(0.5)
    check("health", healthy, "cluster never became healthy")
    kids = descendants(proc.pid)
    check("process_count", len(kids) == 1 + WORKERS + SHARDS,
          f"{len(kids)} child processes, expected {1 + WORKERS + SHARDS}")

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/models", timeout=5) as r:
        model_id = json.loads(r.read())["data"][0]["id"]
    check("model_id_is_model_path", model_id == MODEL, model_id)

    prompts = [[(7 * i + 3 * j) % 500 + 1 for j in range(5 + 3 * i)] for i in range(16)]
    expected = [generate(p, 8) for p in prompts[:4]]

    def complete(p):
        return post(http_port, {"model": model_id, "prompt": p, "max_tokens": 8, "temperature": 0,
                                "logprobs": 5, "ignore_eos": True,
                                "return_tokens_as_token_ids": True})

    def tokens_of(resp):
        return [int(t.split(":")[1]) for t in resp["choices"][0]["logprobs"]["tokens"]]

    for p, exp in zip(prompts[:4], expected):
        status, resp = complete(p)
        check("completion_status", status == 200, f"{status} {resp}")
        if status != 200:
            continue
        got = tokens_of(resp)
        check("tokens_match_generate", got == exp["token_ids"], f"{got} vs {exp['token_ids']}")
        lps = resp["choices"][0]["logprobs"]["token_logprobs"]
        worst = max(abs(a - b["logprob"]) for a, b in zip(lps, exp["logprobs"]))
        check("logprobs_match_generate", worst < 1e-4, f"worst diff {worst}")

    alone = {}
    for i, p in enumerate(prompts):
        status, resp = complete(p)
        alone[i] = tokens_of(resp) if status == 200 else None
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(complete, prompts))
    for i, (status, resp) in enumerate(together):
        check("concurrent_status", status == 200, f"{status} {resp}")
        if status == 200:
            check("concurrent_equals_alone", tokens_of(resp) == alone[i],
                  f"request {i}: {tokens_of(resp)} vs {alone[i]}")

    status, resp = post(http_port, {"model": model_id, "prompt": [1, 2, 10**9], "max_tokens": 4})
    check("bad_token_400", status == 400 and "error" in resp, f"{status} {resp}")
finally:
    kids = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.5)
    alive = [k for k in kids if os.path.exists(f"/proc/{k}") and
             open(f"/proc/{k}/stat").read().split()[2] != "Z"]
    check("no_orphans_after_sigterm", not alive, f"still alive: {alive}")
    if failed:
        print(proc.stdout.read()[-4000:] if proc.stdout else "")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
