#!/usr/bin/env python3
"""A repository for timing `threatmark diff` in a fresh clone (issue 20), made from a real one.

    python3 benches/diff_repo.py SOURCE OUT

Clones SOURCE (any git repository, e.g. a shallow clone under /work/bench-real) to OUT and
commits on top of it, deterministically:
  1. "annotated": an annotation block appended to 2% of its source files (so the model is not
     empty: components, threats, controls and relations between them);
  2. "annotations": 1% of the files touched, and in the annotated ones among them a rating
     changes (the model changes);
  3. "one-percent": a comment appended to 1% of the files, a third of them annotated ones
     (the model does not change).
A fresh clone of OUT is what the benchmark times: `diff HEAD~1` is a 1% change that leaves the
model as it is, `diff HEAD~2` a 2% change that edits annotations.
"""
import os
import random
import subprocess
import sys

COMMENT = {
    "go": "//", "rs": "//", "js": "//", "ts": "//", "c": "//", "h": "//", "cc": "//",
    "java": "//", "py": "#", "sh": "#", "rb": "#", "tf": "#",
}


def git(root, *args):
    subprocess.run(["git", "-C", root, "-c", "user.name=b", "-c", "user.email=b@b", *args],
                   check=True, stdout=subprocess.DEVNULL)


def main():
    source, out = sys.argv[1], sys.argv[2]
    subprocess.run(["git", "clone", "-q", "--no-local", source, out], check=True)
    git(out, "config", "gc.auto", "0")
    tracked = subprocess.run(["git", "-C", out, "ls-files", "-z"], check=True,
                             capture_output=True).stdout.decode("utf-8", "replace").split("\0")
    files = sorted(p for p in tracked if p and os.path.isfile(os.path.join(out, p))
                   and not os.path.islink(os.path.join(out, p)))
    sources = [p for p in files if p.rsplit(".", 1)[-1] in COMMENT]
    rng = random.Random(20)
    annotated = sorted(rng.sample(sources, max(2, len(sources) // 50)))

    def append(rel, text):
        with open(os.path.join(out, rel), "a", encoding="utf-8") as fh:
            fh.write(text)

    for i, rel in enumerate(annotated):
        c = COMMENT[rel.rsplit(".", 1)[-1]]
        block = [
            f"@component Bench/Part{i} (#part{i})",
            f"@threat Tampering with part {i} (#tamper{i})",
            f"@control Check of part {i} (#check{i})",
            f"@exposes #part{i} to #tamper{i} with crafted input [likelihood: possible]",
            f"@mitigates #part{i} against #tamper{i} with #check{i}",
        ]
        if i > 0:
            block.append(f"@connects #part{i - 1} to #part{i} with calls")
        append(rel, "\n" + "".join(f"{c} {line}\n" for line in block))
    git(out, "add", "-A")
    git(out, "commit", "-qm", "annotated")

    one = max(1, len(files) // 100)
    chosen = sorted(set(rng.sample(files, one)) | set(annotated[: one // 3]))
    for rel in chosen:
        path = os.path.join(out, rel)
        with open(path, "rb") as fh:
            data = fh.read()
        if rel in annotated:
            data = data.replace(b"[likelihood: possible]", b"[likelihood: likely]")
        with open(path, "wb") as fh:
            fh.write(data + b"\n")
    git(out, "add", "-A")
    git(out, "commit", "-qm", "annotations")

    chosen = sorted(set(rng.sample(files, one - one // 3)) | set(annotated[-(one // 3):]))
    for rel in chosen:
        c = COMMENT.get(rel.rsplit(".", 1)[-1], "#")
        append(rel, f"\n{c} one-percent\n")
    git(out, "add", "-A")
    git(out, "commit", "-qm", "one-percent")


if __name__ == "__main__":
    main()
