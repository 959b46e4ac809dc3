#!/usr/bin/env python3
"""Does the editor servers' workspace give `scan`'s answer on real repositories? For each
repository: the model `threatmark mcp` serves (resource threatmark://model/threatmodel.json)
against the bytes `threatmark scan -o` writes, and the diagnostics `threatmark lsp` publishes
against those `threatmark scan --output-format json` prints (path, code, line, message).

    python3 benches/workspace_vs_scan.py [--bin target/release/threatmark] REPO...

Nothing is written into a repository but the scan cache, which is removed afterwards
(`.git/threatmark`).
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

from lsp import Client  # benches/lsp.py: the LSP framing, read on a thread


def scan(bin, repo, out):
    p = subprocess.run([bin, "scan", "-q", "--output-format", "json", "-C", repo, "-o", out],
                       capture_output=True)
    diags = []
    for line in p.stderr.decode(errors="replace").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        msg = d["message"] + (f" ({d['label']})" if d.get("label") else "")
        diags.append((d.get("path") or "", d["code"], max(0, (d.get("line") or 1) - 1), msg))
    return p.returncode, open(out, "rb").read() if os.path.exists(out) else b"", sorted(diags)


def mcp_model(bin, repo):
    p = subprocess.Popen([bin, "mcp", "-C", repo], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    def ask(i, method, params):
        p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}).encode() + b"\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())
    ask(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "0"}})
    start = time.perf_counter()
    r = ask(2, "resources/read", {"uri": "threatmark://model/threatmodel.json"})
    ms = (time.perf_counter() - start) * 1000
    p.stdin.close()
    p.wait()
    if "error" in r:
        return None, r["error"].get("message"), ms
    return r["result"]["contents"][0]["text"].encode(), None, ms


def lsp_diagnostics(bin, repo):
    c = Client([bin, "lsp", "-C", repo], None)
    root = "file://" + os.path.realpath(repo)
    c.request("initialize", {"processId": None, "rootUri": root, "capabilities": {}})
    c.notify("initialized", {})
    last = {}
    def published_until_reply(m):
        if m.get("method") == "textDocument/publishDiagnostics":
            last[m["params"]["uri"]] = m["params"]["diagnostics"]
        return m.get("id") == c.id and "method" not in m
    c.id += 1
    c.send({"jsonrpc": "2.0", "id": c.id, "method": "workspace/symbol", "params": {"query": ""}})
    _, reply = c.wait(published_until_reply, timeout=120)
    symbols = len(reply.get("result") or [])
    c.request("shutdown", None)
    c.notify("exit", None)
    c.p.wait()
    prefix = root + "/"
    # The server publishes with the path it was given; the scan's paths are relative.
    alt = "file://" + os.path.abspath(repo) + "/"
    out = []
    for uri, diags in last.items():
        uri = urllib.parse.unquote(uri)
        rel = uri[len(prefix):] if uri.startswith(prefix) else uri[len(alt):] if uri.startswith(alt) else uri
        for d in diags:
            out.append((rel, d["code"], d["range"]["start"]["line"], d["message"].split("\nhelp: ")[0]))
    return sorted(out), symbols


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/threatmark")
    ap.add_argument("repos", nargs="+")
    args = ap.parse_args()
    bin = os.path.abspath(args.bin)
    same_model = same_diags = 0
    for repo in map(os.path.abspath, args.repos):
        had_cache = os.path.isdir(os.path.join(repo, ".git", "threatmark"))
        with tempfile.TemporaryDirectory() as t:
            code, scanned, expected = scan(bin, repo, os.path.join(t, "model.json"))
        served, error, ms = mcp_model(bin, repo)
        published, symbols = lsp_diagnostics(bin, repo)
        if not had_cache:
            shutil.rmtree(os.path.join(repo, ".git", "threatmark"), ignore_errors=True)
        model_ok = served == scanned and code in (0, 1)
        diags_ok = published == expected
        same_model += model_ok
        same_diags += diags_ok
        name = os.path.basename(os.path.normpath(repo))
        print(f"{name:<58} model {'same' if model_ok else 'DIFFERENT'} ({len(scanned)} bytes, mcp {ms:.0f} ms)"
              f"  diagnostics {'same' if diags_ok else 'DIFFERENT'} ({len(expected)})  symbols {symbols}"
              + (f"  [{error}]" if error else ""))
        if not diags_ok:
            print("   scan only:", [d for d in expected if d not in published][:5])
            print("   lsp only: ", [d for d in published if d not in expected][:5])
    print(f"{same_model}/{len(args.repos)} models byte-identical, {same_diags}/{len(args.repos)} diagnostic lists identical")


if __name__ == "__main__":
    main()
