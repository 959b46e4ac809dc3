#!/usr/bin/env bash
# Side-by-side benchmark of threatmark against ripgrep (the physical limit of reading the files),
# Threatspec 0.5.0, and git itself. Prints one table of medians, ratios and peak RSS.
#
#   benches/compare.sh [--files 50000] [--runs 5] [--real DIR] [--million] [--diff DIR]
#
# --real DIR: any folder of real code, e.g. shallow clones of real repositories (see
# docs/performance.md for the ones of issue 20 and their commits).
# --diff DIR: only the `diff` part in fresh clones: each git repository in DIR (e.g. the same
# shallow clones) gets three commits on top (benches/diff_repo.py), and a fresh clone of that
# is timed against `git diff --name-only` (a 1% change that leaves the model as it is, and a 2%
# change that edits annotations).
#
# Installs what is missing: ripgrep, hyperfine and GNU time from Debian (as root), Threatspec in a
# venv under target/bench/. Corpora live under target/bench/ and are deterministic (seeded).
# Not part of `cargo test`; CI only builds the benches.
#
# "cold" rows run with THREATMARK_NO_CACHE=1: every file is read and parsed, as on a fresh CI
# machine. "warm" rows keep the work-tree scan cache of the previous run (as in a pre-commit
# hook): unchanged files are stat-ed, not read.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=50000
RUNS=5
REAL=""
MILLION=0
DIFF=""
while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --real) REAL="$2"; shift 2 ;;
    --million) MILLION=1; shift ;;
    --diff) DIFF="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

W=target/bench
mkdir -p "$W"
need() { command -v "$1" >/dev/null 2>&1; }
if ! need rg || ! need hyperfine || [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep hyperfine time >/dev/null
  else
    echo "need ripgrep, hyperfine and GNU time (apt-get install ripgrep hyperfine time)" >&2; exit 2
  fi
fi
if [ ! -x "$W/venv/bin/threatspec" ]; then
  python3 -m venv "$W/venv" && "$W/venv/bin/pip" install -q threatspec==0.5.0
fi

cargo build --release --quiet
TM="$PWD/target/release/threatmark"
KW='@(component|threat|control|boundary|actor|mitigates?|exposes?|accepts?|transfers?|connects?|reviews?|tests?)\b'
# The caches of work-tree scans outside a git repository go here, not to the user's home.
export XDG_CACHE_HOME="$PWD/$W/xdg-cache"

rss() { # peak RSS in MB of one run of "$@"
  /usr/bin/time -f '%M' -o "$W/rss.txt" "$@" >/dev/null 2>&1 || true
  echo $(( $(tail -n1 "$W/rss.txt") / 1024 ))
}
median() { # median seconds of a hyperfine JSON export
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.4f" % r["median"])' "$1"
}
bench() { # name, command (run without a shell, so that a few milliseconds are not its start-up)
  local name=$1; shift
  hyperfine -N --style none --runs "$RUNS" --warmup 1 -i --export-json "$W/$name.json" "$*" >/dev/null 2>&1
  median "$W/$name.json"
}
cold() { (export THREATMARK_NO_CACHE=1; "$@"); }
ratio() { python3 -c "import sys; print('%.2fx %s' % (float(sys.argv[1]) / float(sys.argv[2]), sys.argv[3]))" "$@"; }
faster() { python3 -c "import sys; print('%.0fx faster' % (float(sys.argv[1]) / float(sys.argv[2])))" "$@"; }

ROWS=()
# Each row is printed as soon as it is measured (on stderr), and the table again at the end.
row() {
  ROWS+=("$(printf '%-58s %9s %16s %7s' "$1" "$2" "$3" "$4")")
  printf '%s\n' "${ROWS[-1]}" >&2
}

if [ -n "$DIFF" ]; then
  # `diff` in a fresh clone: no snapshot, no scan cache (both removed before every run), the
  # objects packed as after `git clone`. git itself hashes every file of a fresh clone here (its
  # index is racy: written in the same second as the files). "full" is the computation before
  # issue 20's fast path (THREATMARK_DIFF_FULL=1): every blob of the base read from git.
  for src in "$DIFF"/*/; do
    name=$(basename "$src")
    [ -d "$src/.git" ] || continue
    made="$W/diff-src-$name"
    [ -d "$made" ] || python3 benches/diff_repo.py "$src" "$made"
    fresh="$W/diff-fresh-$name"
    rm -rf "$fresh" && git clone -q "file://$PWD/$made" "$fresh"
    # git hashes every file whose time is not older than its index (most of a fresh clone, or
    # few of them, depending on where the second ticks during the checkout): compare with the
    # index refreshed, git's fastest case.
    sleep 1.1 && git -C "$fresh" status >/dev/null
    n=$(git -C "$fresh" ls-files | wc -l)
    # Two revisions (HEAD~1..HEAD: 1%, the model unchanged; HEAD~2..HEAD~1: 1%, annotations
    # edited), then a revision against the work tree (HEAD~1: 1%, the model unchanged; HEAD~2:
    # 2%, annotations edited).
    for range in "HEAD~1 HEAD" "HEAD~2 HEAD~1" "HEAD~1" "HEAD~2"; do
      set -- $range
      case "$range" in
        "HEAD~1 HEAD"|HEAD~1) what="model unchanged" ;;
        *) what="annotations edited" ;;
      esac
      tmrange="$1"; [ $# = 2 ] && tmrange="$1..$2"
      changed=$(git -C "$fresh" diff --name-only "$@" | wc -l)
      hyperfine -N --style none --runs "$RUNS" --warmup 1 -i --export-json "$W/fresh.json" \
        --prepare "rm -rf '$fresh/.git/threatmark'" \
        -n git "git -C '$fresh' diff --name-only $range" \
        -n tm "'$TM' diff -C '$fresh' $tmrange --format json" \
        -n full "env THREATMARK_DIFF_FULL=1 '$TM' diff -C '$fresh' $tmrange --format json" >/dev/null 2>&1
      read -r t_git t_tm t_full < <(python3 -c 'import json,sys; print(*("%.4f" % r["median"] for r in json.load(open(sys.argv[1]))["results"]))' "$W/fresh.json")
      row "git diff --name-only $range ($name, $n files, $changed changed)" "$t_git" "" ""
      row "threatmark diff $tmrange, fresh clone ($what)" "$t_tm" "$(ratio "$t_tm" "$t_git" git)" ""
      row "  before: full computation" "$t_full" "$(ratio "$t_full" "$t_git" git)" ""
    done
    rm -rf "$fresh"
  done
  printf '\n%-58s %9s %16s %7s\n' "run (median of $RUNS)" "seconds" "ratio" "RSS MB"
  printf '%s\n' "${ROWS[@]}"
  exit 0
fi

CORPUS="$W/corpus-$FILES"
[ -d "$CORPUS" ] || python3 benches/gen_corpus.py "$CORPUS" --files "$FILES" --seed 42 >/dev/null
# Issue 20's tree: small files in 11 languages, 2% annotated, no hostile files.
SMALL="$W/small-$FILES"
[ -d "$SMALL" ] || python3 benches/gen_corpus.py "$SMALL" --files "$FILES" --seed 42 --languages 11 --no-hostile >/dev/null
if [ -z "$REAL" ]; then
  # Real code that every machine of this kind has: the cargo registry and Python's library.
  REAL="$W/real"
  if [ ! -d "$REAL" ]; then
    mkdir -p "$REAL"
    cp -r "${CARGO_HOME:-$HOME/.cargo}/registry/src" "$REAL/cargo" 2>/dev/null || true
    py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
    cp -r "$py" "$REAL/python" 2>/dev/null || true
  fi
  # And annotated code, so that the model is not empty: this repository and its fixtures.
  if [ ! -d "$REAL/threatmark" ]; then
    mkdir -p "$REAL/threatmark"
    cp -r src tests/fixtures docs/examples "$REAL/threatmark/"
  fi
fi

# A "first" run (which writes the scan cache) starts without one. The trees under target/ are
# in this repository, whose git folder holds their caches; a tree outside git keeps its cache
# under $XDG_CACHE_HOME.
GITDIR=$(git rev-parse --absolute-git-dir)
mkdir -p "$GITDIR/threatmark" "$XDG_CACHE_HOME/threatmark"
no_scan_cache="find '$GITDIR/threatmark' '$XDG_CACHE_HOME/threatmark' -maxdepth 1 -name scan-* -delete"
scan_cache_kb() { find "$GITDIR/threatmark" "$XDG_CACHE_HOME/threatmark" -maxdepth 1 -name 'scan-*' -printf '%s\n' | awk '{s+=$1} END {print int(s/1024)}'; }
for tree in "$SMALL" "$CORPUS" "$REAL"; do
  n=$(find "$tree" -type f -not -path '*/.git/*' | wc -l)
  name=$(basename "$tree")
  scan="'$TM' scan '$tree' -q -o '$W/model.json' --config /dev/null"
  # rg, the cold scan and the first scan (cache written) interleaved, in one hyperfine run.
  hyperfine -N --style none --runs "$RUNS" --warmup 1 -i --export-json "$W/trio.json" \
    -n rg "rg -c --no-messages '$KW' '$tree'" \
    -n cold "env THREATMARK_NO_CACHE=1 $scan" \
    -n first --prepare "$no_scan_cache" "$scan" >/dev/null 2>&1
  read -r t_rg t_cold t_first < <(python3 -c 'import json,sys; print(*("%.4f" % r["median"] for r in json.load(open(sys.argv[1]))["results"]))' "$W/trio.json")
  sh -c "$no_scan_cache"
  rss_first=$(rss "$TM" scan "$tree" -q -o "$W/model.json" --config /dev/null)
  cache_kb=$(scan_cache_kb)
  sleep 3 # files younger than two seconds are not cached
  "$TM" scan "$tree" -q -o "$W/model.json" --config /dev/null >/dev/null 2>&1 || true
  t_warm=$(bench tm-warm "$scan")
  rss_cold=$(cold rss "$TM" scan "$tree" -q -o "$W/model.json" --config /dev/null)
  row "rg -c ($n files, $name)" "$t_rg" "" "$(rss rg -c --no-messages "$KW" "$tree")"
  row "threatmark scan, cold ($name)" "$t_cold" "$(ratio "$t_cold" "$t_rg" rg)" "$rss_cold"
  row "threatmark scan, first: cache written, $cache_kb KB ($name)" "$t_first" "$(ratio "$t_first" "$t_cold" cold)" "$rss_first"
  row "threatmark scan, warm scan cache ($name)" "$t_warm" "$(ratio "$t_warm" "$t_rg" rg)" \
    "$(rss "$TM" scan "$tree" -q -o "$W/model.json" --config /dev/null)"
done

# Threatspec reads only what its mime table knows; force a mime per file so it reads every
# file it can, on a tree small enough to finish.
TS="$W/ts-corpus"
if [ ! -d "$TS" ]; then
  python3 benches/gen_corpus.py "$TS" --files 5000 --seed 7 --no-hostile >/dev/null
fi
python3 - "$TS" <<'PY'
import os, sys
root = sys.argv[1]
mime = {"py": "text/x-python", "js": "application/javascript", "ts": "application/javascript",
        "go": "text/x-go", "java": "text/x-java", "c": "text/x-c", "cpp": "text/x-c++",
        "cs": "text/x-c", "rb": "text/x-ruby", "sh": "text/x-shellscript", "rs": "text/x-c",
        "php": "text/x-c", "kt": "text/x-java", "swift": "text/x-c", "scala": "text/x-java"}
paths = []
for d, _, files in os.walk(root):
    for f in sorted(files):
        ext = f.rsplit(".", 1)[-1]
        if ext in mime:
            rel = os.path.relpath(os.path.join(d, f), root)
            paths.append(f"  - path: '{rel}'\n    mime: '{mime[ext]}'\n")
with open(os.path.join(root, "threatspec.yaml"), "w") as out:
    out.write("project:\n  name: bench\n  description: bench\npaths:\n" + "".join(paths))
PY
mkdir -p "$TS/threatmodel"
TSBIN="$PWD/$W/venv/bin/threatspec"
t_ts=$(cd "$TS" && hyperfine -N --style none --runs "$RUNS" -i --export-json "../threatspec.json" "$TSBIN run" >/dev/null 2>&1; median "../threatspec.json")
# threatmark reads the same threatspec.yaml (its paths become includes, its mimes extensions).
scan5="'$TM' scan '$TS' -q -o '$W/model5.json'"
t_tm5_cold=$(cold bench tm5-cold "$scan5")
"$TM" scan "$TS" -q -o "$W/model5.json" >/dev/null 2>&1 || true
sleep 3
"$TM" scan "$TS" -q -o "$W/model5.json" >/dev/null 2>&1 || true
t_tm5_warm=$(bench tm5-warm "$scan5")
row "threatspec run (5000 files, mime forced per file)" "$t_ts" "" ""
row "threatmark scan, cold (same files, same yaml)" "$t_tm5_cold" "$(faster "$t_ts" "$t_tm5_cold")" ""
row "threatmark scan, warm scan cache" "$t_tm5_warm" "$(faster "$t_ts" "$t_tm5_warm")" ""
found_ts=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(len(v) for k,v in m.items() if isinstance(v,list)))' "$TS/threatmodel/threatmodel.json" 2>/dev/null || echo "?")
# Threatspec keeps one record per annotation; we merge repeats of one relation but keep each
# annotation's source, so count sources.
found_tm=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(len(r["sources"]) for k in ["mitigations","exposures","acceptances","transfers","flows","reviews","tests"] for r in m[k]))' "$W/model5.json")
row "relation annotations found: threatspec / threatmark" "$found_ts" "$found_tm" ""

# diff cost follows the change, not the repository.
# A repository of ordinary files (no hostile ones: the 10,000-annotation file alone makes a
# 17 MB model, which would measure model building, not following the change). Its history:
#   base; one-percent (appends a comment to 1% of the files); tenth-percent (0.1%);
#   annotations (1% of the files again, and in the annotated ones among them a rating changes).
# The last three commits' objects are loose, as after local commits; a packed copy (git gc), as
# after a fetch or in a CI clone, is measured too.
G="$W/git-corpus-$FILES"
if [ ! -d "$G/.git" ] || [ -z "$(git -C "$G" log --oneline --grep=annotations 2>/dev/null)" ]; then
  rm -rf "$G" "$G-packed"
  python3 benches/gen_corpus.py "$G" --files "$FILES" --seed 42 --no-hostile >/dev/null
  # No automatic gc: it would pack the "loose" commits in the background (and leave a gc.pid
  # that makes the packed copy's own gc refuse to run).
  (cd "$G" && git init -q -b main && git config gc.auto 0 && git add -A && git -c user.name=b -c user.email=b@b commit -qm base)
  python3 - "$G" <<'PY'
import os, subprocess, sys
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) if ".git" not in d for f in fs)
def commit(tag):
    subprocess.run(["git", "-C", root, "add", "-A"], check=True)
    subprocess.run(["git", "-C", root, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", tag], check=True)
def touch(chosen, tag, rerate=False):
    for p in chosen:
        with open(p) as fh:
            text = fh.read()
        if rerate:
            text = text.replace("likelihood: possible", "likelihood: likely")
        with open(p, "w") as fh:
            fh.write(text + f"\n// {tag}\n")
    commit(tag)
touch(files[::100], "one-percent")
touch(files[::1000], "tenth-percent")
touch(files[50::100], "annotations", rerate=True)
PY
fi
if [ ! -d "$G-packed/.git" ]; then
  rm -rf "$G-packed"
  cp -r "$G" "$G-packed"
  rm -rf "$G-packed/.git/threatmark" "$G-packed/.git/gc.pid"
  git -C "$G-packed" gc -q
fi
for repo in "$G" "$G-packed"; do
  kind=loose; [ "$repo" = "$G-packed" ] && kind=packed
  for range in "HEAD~3 HEAD~2" "HEAD~2 HEAD~1" "HEAD~1 HEAD"; do
    set -- $range
    changed=$(git -C "$repo" diff --name-only "$1" "$2" | wc -l)
    what="$changed files"
    [ "$2" = HEAD ] && what="$changed files, annotations changed"
    t_git=$(bench gitdiff "git -C '$repo' diff --name-only $1 $2")
    # The base's snapshot is on disk (an earlier scan, diff or check of it, as on a developer's
    # machine or a CI cache); the head's is removed before every run, so the head is followed
    # from the base through the tree diff.
    "$TM" scan "$repo" --rev "$1" -q >/dev/null 2>&1
    head_tree=$(git -C "$repo" rev-parse "$2^{tree}")
    hyperfine -N --style none --runs "$RUNS" --warmup 1 -i --export-json "$W/tmdiff.json" \
      --prepare "find '$repo/.git/threatmark/snapshots' -name '$head_tree-*' -delete" \
      "'$TM' diff -C '$repo' $1..$2 --format json" >/dev/null 2>&1
    t_tmd=$(median "$W/tmdiff.json")
    row "git diff --name-only ($what, $kind)" "$t_git" "" ""
    row "threatmark diff ($what, $kind)" "$t_tmd" "$(ratio "$t_tmd" "$t_git" git)" ""
    if [ "$2" != HEAD ]; then
      # No snapshot at all (a fresh clone): the base is read in full.
      hyperfine -N --style none --runs "$RUNS" -i --export-json "$W/tmdiff-cold.json" \
        --prepare "rm -rf '$repo/.git/threatmark'" \
        "'$TM' diff -C '$repo' $1..$2 --format json" >/dev/null 2>&1
      row "  same, no snapshot of the base (fresh clone)" "$(median "$W/tmdiff-cold.json")" "" ""
    fi
  done
done

if [ "$MILLION" = 1 ]; then
  M="$W/corpus-million"
  [ -d "$M" ] || python3 benches/gen_corpus.py "$M" --files 1000000 --seed 3 --tiny --no-hostile >/dev/null
  # One warm-up run: the first read of 1,000,000 files comes from disk (49 s here), not the page cache.
  million="'$TM' scan '$M' -q -o '$W/million-model.json' --config /dev/null"
  t_m=$(cold hyperfine -N --style none --runs "$RUNS" --warmup 1 -i --export-json "$W/million.json" "$million" >/dev/null 2>&1; median "$W/million.json")
  row "threatmark scan, cold (1,000,000 tiny files)" "$t_m" "" "$(cold rss "$TM" scan "$M" -q -o "$W/million-model.json" --config /dev/null)"
  sh -c "$no_scan_cache"
  t_mf=$( { /usr/bin/time -f '%e %M' "$TM" scan "$M" -q -o "$W/million-model.json" --config /dev/null >/dev/null 2>/dev/null; } 2>&1 | tail -n1)
  row "threatmark scan, first: cache written, $(scan_cache_kb) KB (1,000,000)" "${t_mf% *}" "one run" "$(( ${t_mf#* } / 1024 ))"
  sleep 3
  t_mw=$(hyperfine -N --style none --runs "$RUNS" --warmup 1 -i --export-json "$W/million-warm.json" "$million" >/dev/null 2>&1; median "$W/million-warm.json")
  row "threatmark scan, warm scan cache (1,000,000 tiny files)" "$t_mw" "" "$(rss "$TM" scan "$M" -q -o "$W/million-model.json" --config /dev/null)"
fi

printf '\n%-58s %9s %16s %7s\n' "run (median of $RUNS)" "seconds" "ratio" "RSS MB"
printf '%s\n' "${ROWS[@]}"
