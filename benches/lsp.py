#!/usr/bin/env python3
"""Latency of `threatmark lsp` on a generated repository: the initial load, and didChange ->
publishDiagnostics for edits of one file, and for edits that change the diagnostics of ANOTHER
file (deleting and restoring a `@control` that a `@mitigates` elsewhere uses).

    flock /tmp/tm-cargo.lock cargo build --release --locked
    flock /tmp/tm-cargo.lock python3 benches/lsp.py [--files 10000] [--edits 40] [--bin target/release/threatmark]

The corpus is benches/gen_corpus.py's (seeded, so the same tree every time) under
target/bench/lsp-<files>/, plus two files of its own (bench/controls.py, bench/uses.py). Not part
of `cargo test`: the issue asks for ~50 ms on 10,000 files, and a bench, not a timed test, says
what it is on this machine.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import queue
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CONTROL = "# @control Bench control (#bench_ctl): checked\n"
CONTROLS = "# Controls of the bench.\n" + CONTROL
USES = (
    "# @component Bench API (#bench_api)\n"
    "# @threat Bench threat (#bench_threat) [stride: T; likelihood: likely; impact: major]\n"
    "# @mitigates #bench_api against #bench_threat with #bench_ctl\n"
)
EDITED = "# @component Edited (#edited)\n# @threat Edited threat (#edited_threat) [stride: T]\n"


class Client:
    def __init__(self, cmd, cwd):
        self.p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.q = queue.Queue()
        self.id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.p.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.startswith(b"Content-Length:"):
                    length = int(line.split(b":")[1])
            self.q.put((time.perf_counter(), json.loads(out.read(length))))

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.p.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.id += 1
        self.send({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.id and "method" not in m)

    def wait(self, pred, timeout=600):
        deadline = time.perf_counter() + timeout
        while True:
            at, m = self.q.get(timeout=max(0.001, deadline - time.perf_counter()))
            if pred(m):
                return at, m


def uri(root, rel):
    return "file://" + os.path.join(root, rel)


def published(u):
    return lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == u


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--edits", type=int, default=40, help="edits of each kind (>= 20)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/threatmark"))
    ap.add_argument("--no-hostile", action="store_true",
                    help="without gen_corpus.py's hostile files (one of them declares 10,000 threats)")
    args = ap.parse_args()
    suffix = "-nohostile" if args.no_hostile else ""
    corpus = os.path.join(ROOT, "target/bench", f"lsp-{args.files}{suffix}")
    if not os.path.isdir(corpus):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_corpus.py"), corpus,
                        "--files", str(args.files), "--seed", "42"]
                       + (["--no-hostile"] if args.no_hostile else []), check=True)
    os.makedirs(os.path.join(corpus, "bench"), exist_ok=True)
    for rel, text in (("bench/controls.py", CONTROLS), ("bench/uses.py", USES)):
        with open(os.path.join(corpus, rel), "w") as f:
            f.write(text)
    shutil.rmtree(os.path.join(corpus, ".git", "threatmark"), ignore_errors=True)
    annotated = sum(1 for d, _, fs in os.walk(corpus) for n in fs
                    if b"@threat" in open(os.path.join(d, n), "rb").read(200000))

    loads = []
    for run in range(3):
        c = Client([args.bin, "lsp", "-C", corpus], corpus)
        start = time.perf_counter()
        c.request("initialize", {"processId": None, "rootUri": uri(corpus, ""), "capabilities": {}})
        c.notify("initialized", {})
        at, m = c.wait(lambda m: m.get("method") == "window/logMessage" and "loaded" in m["params"]["message"])
        loads.append((at - start) * 1000)
        if run < 2:
            c.request("shutdown", None)
            c.notify("exit", None)
            c.p.wait()
    # `c` is the last server: edit with it.
    edited_uri = uri(corpus, "bench/edited.py")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": edited_uri, "languageId": "python", "version": 1, "text": EDITED}})
    # A new file without diagnostics: nothing is published for it yet.
    same, other = [], []
    version = 1
    for i in range(args.edits):
        # Same file: add a line with a bad attribute value (a diagnostic), then remove it.
        for text in (EDITED + "# @threat Bad (#bad) [likelihood: sometimes]\n", EDITED):
            version += 1
            start = time.perf_counter()
            c.notify("textDocument/didChange", {"textDocument": {"uri": edited_uri, "version": version},
                                                 "contentChanges": [{"text": text}]})
            at, _ = c.wait(published(edited_uri))
            same.append((at - start) * 1000)
    controls_uri, uses_uri = uri(corpus, "bench/controls.py"), uri(corpus, "bench/uses.py")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": controls_uri, "languageId": "python", "version": 1, "text": CONTROLS}})
    for i in range(args.edits):
        # Another file: delete the declaration (uses.py gets TM036), then type it back (cleared).
        for change in ({"range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}, "text": ""},
                       {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}, "text": CONTROL}):
            version += 1
            start = time.perf_counter()
            c.notify("textDocument/didChange", {"textDocument": {"uri": controls_uri, "version": version},
                                                 "contentChanges": [change]})
            at, _ = c.wait(published(uses_uri))
            other.append((at - start) * 1000)
    c.request("shutdown", None)
    c.notify("exit", None)
    c.p.wait()

    def row(name, xs):
        xs = sorted(xs)
        p90 = xs[int(len(xs) * 0.9) - 1]
        print(f"{name:<44} {statistics.median(xs):>8.1f} {p90:>8.1f} {xs[-1]:>8.1f}   (n={len(xs)})")

    hostile = "" if args.no_hostile else " + hostile files"
    print(f"threatmark lsp on {args.files} generated files{hostile} ({annotated} annotated), {args.bin}")
    print(f"{'':<44} {'median':>8} {'p90':>8} {'max':>8}   ms")
    row("initial load (initialize -> model loaded)", loads)
    row("didChange -> publishDiagnostics, same file", same)
    row("didChange -> publishDiagnostics, other file", other)


if __name__ == "__main__":
    main()
