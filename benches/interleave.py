#!/usr/bin/env python3
"""Interleaved timing: interleave.py ROUNDS name=cmd ... runs each command once a round, in turn,
and prints the median and minimum wall seconds per name (issue 20, second round)."""
import statistics, subprocess, sys, time
rounds = int(sys.argv[1]); cmds = [a.split("=", 1) for a in sys.argv[2:]]
res = {n: [] for n, _ in cmds}
for r in range(rounds + 1):
    for n, c in cmds:
        t = time.perf_counter()
        subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r: res[n].append(time.perf_counter() - t)
for n, _ in cmds:
    print(f"{n:14s} median {statistics.median(res[n]):.4f}  min {min(res[n]):.4f}")
