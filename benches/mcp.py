#!/usr/bin/env python3
"""Latency of `threatmark mcp` tool calls on a generated repository: the first call (the
workspace is opened: without and with the scan cache of an earlier `threatmark scan`), later
calls when nothing changed (a refresh: a walk and a stat per file), and calls right after the
agent wrote a file (the refresh reads it again and rebuilds the model). For comparison, the
cost of what the server did per call before it kept a workspace: a `threatmark scan` with a
warm scan cache.

    flock /tmp/tm-cargo.lock cargo build --release --locked
    flock /tmp/tm-cargo.lock python3 benches/mcp.py [--files 10000] [--calls 40] [--no-hostile]

The corpus is benches/gen_corpus.py's (seeded) under target/bench/mcp-<files>/, as benches/lsp.py
does. Not part of `cargo test`.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Client:
    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.id = 0

    def request(self, method, params):
        self.id += 1
        msg = {"jsonrpc": "2.0", "id": self.id, "method": method, "params": params}
        self.p.stdin.write(json.dumps(msg).encode() + b"\n")
        self.p.stdin.flush()
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit("the server closed stdout")
            answer = json.loads(line)
            if answer.get("id") == self.id:
                if "error" in answer:
                    raise SystemExit(f"{method}: {answer['error']}")
                return answer["result"]

    def timed(self, method, params):
        start = time.perf_counter()
        result = self.request(method, params)
        return (time.perf_counter() - start) * 1000, result

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def start(bin, corpus):
    c = Client([bin, "mcp", "-C", corpus])
    c.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "bench", "version": "0"}})
    return c


LIST = ("tools/call", {"name": "list_threats", "arguments": {"limit": 5}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/threatmark"))
    ap.add_argument("--no-hostile", action="store_true",
                    help="without gen_corpus.py's hostile files (one of them declares 10,000 threats)")
    args = ap.parse_args()
    suffix = "-nohostile" if args.no_hostile else ""
    corpus = os.path.join(ROOT, "target/bench", f"mcp-{args.files}{suffix}")
    if not os.path.isdir(corpus):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_corpus.py"), corpus,
                        "--files", str(args.files), "--seed", "42"]
                       + (["--no-hostile"] if args.no_hostile else []), check=True)
    cache = os.path.join(corpus, ".git", "threatmark")
    agent = os.path.join(corpus, "bench", "agent.py")
    os.makedirs(os.path.dirname(agent), exist_ok=True)
    if os.path.exists(agent):
        os.remove(agent)

    cold, cached = [], []
    for run in range(3):
        shutil.rmtree(cache, ignore_errors=True)
        c = start(args.bin, corpus)
        cold.append(c.timed(*LIST)[0])
        c.close()
    subprocess.run([args.bin, "scan", "-q", "-C", corpus, "-o", os.devnull], check=True, stderr=subprocess.DEVNULL)
    for run in range(3):
        c = start(args.bin, corpus)
        cached.append(c.timed(*LIST)[0])
        c.close()
    # Before the workspace, each call was a scan with the scan cache.
    scans = []
    for run in range(5):
        start_at = time.perf_counter()
        subprocess.run([args.bin, "scan", "-q", "-C", corpus, "-o", os.devnull], check=True, stderr=subprocess.DEVNULL)
        scans.append((time.perf_counter() - start_at) * 1000)

    c = start(args.bin, corpus)
    c.timed(*LIST)
    same, written, validate = [], [], []
    for i in range(args.calls):
        same.append(c.timed(*LIST)[0])
        with open(agent, "w") as f:
            f.write(f"# @threat Agent threat {i} (#agent_{i}) [stride: T; likelihood: likely; impact: major]\n")
        ms, result = c.timed(*LIST)
        written.append(ms)
        validate.append(c.timed("tools/call", {"name": "validate_annotation", "arguments": {
            "snippet": "@mitigates #api against #sqli with #nothing_declared"}})[0])
    c.close()
    os.remove(agent)
    shutil.rmtree(cache, ignore_errors=True)

    def row(name, xs):
        xs = sorted(xs)
        p90 = xs[max(0, int(len(xs) * 0.9) - 1)]
        print(f"{name:<52} {statistics.median(xs):>8.1f} {p90:>8.1f} {xs[-1]:>8.1f}   (n={len(xs)})")

    hostile = "" if args.no_hostile else " + hostile files"
    print(f"threatmark mcp on {args.files} generated files{hostile}, {args.bin}")
    print(f"{'':<52} {'median':>8} {'p90':>8} {'max':>8}   ms")
    row("first call, no scan cache (open the workspace)", cold)
    row("first call, scan cache of an earlier scan", cached)
    row("later call, nothing changed (refresh)", same)
    row("call after the agent wrote a file", written)
    row("validate_annotation", validate)
    row("before: `threatmark scan` with a warm cache", scans)


if __name__ == "__main__":
    main()
