#!/usr/bin/env bash
# Tests of .github/scripts/install.sh (the Action's download-and-verify step) against local
# release folders, over file:// and over HTTP (python3 -m http.server):
#   a good checksum installs; a bad or unrelated checksum fails closed and installs nothing; a
#   missing asset or an unsupported runner falls back to cargo install (a stub here); a download
#   error that is not "missing" fails without falling back.
#
#   .github/scripts/test-install.sh [ARCHIVE]
#
# ARCHIVE: a real archive from package.sh (e.g. dist/threatmark-0.1.0-x86_64-unknown-linux-gnu.tar.gz)
# to install and run as well; without it only a small stand-in archive is used.
#
# @tests #verified_install for #ci
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
install="$here/install.sh"
tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

sha() { if command -v sha256sum > /dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

# A release folder holding one stand-in archive for version $2, as package.sh lays it out.
make_release() {
  local root="$1" version="$2" target=x86_64-unknown-linux-musl
  local name="threatmark-$version-$target"
  mkdir -p "$root/v$version" "$tmp/stage/$name"
  printf '#!/bin/sh\necho "threatmark %s (stand-in)"\n' "$version" > "$tmp/stage/$name/threatmark"
  chmod +x "$tmp/stage/$name/threatmark"
  tar -C "$tmp/stage" -czf "$root/v$version/$name.tar.gz" "$name"
  (cd "$root/v$version" && sha "$name.tar.gz" > "$name.tar.gz.sha256")
}

# A cargo stub: records that the fallback ran and "installs" a binary into --root.
cat > "$tmp/cargo" << 'EOF'
#!/bin/sh
echo "$*" > "$STUB_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then mkdir -p "$2/bin" && printf '#!/bin/sh\necho built\n' > "$2/bin/threatmark" && chmod +x "$2/bin/threatmark"; fi
  shift
done
EOF
chmod +x "$tmp/cargo"

# run NAME BASE VERSION [OS ARCH]: install into a fresh folder; sets $rc, $out, $dest.
run() {
  dest="$tmp/dest-$1"
  rm -rf "$dest" "$tmp/stub.log"
  rc=0
  out="$(TM_SOURCE="${TM_SOURCE:-$here/../..}" TM_VERSION="$3" TM_OS="${4:-Linux}" TM_ARCH="${5:-X64}" TM_DEST="$dest" TM_BASE_URL="$2" \
    TM_CARGO="$tmp/cargo" STUB_LOG="$tmp/stub.log" bash "$install" 2> "$tmp/stderr")" || rc=$?
}

rel="$tmp/releases"
make_release "$rel" 1.2.3
url="file://$rel"

run good "$url" 1.2.3
if [ "$rc" = 0 ] && grep -q source=release <<< "$out" && [ "$("$dest/bin/threatmark")" = "threatmark 1.2.3 (stand-in)" ] && [ ! -e "$tmp/stub.log" ]; then
  ok "a good checksum installs the release binary"
else bad "a good checksum installs the release binary (rc=$rc: $out $(cat "$tmp/stderr"))"; fi

run v-prefix "$url" v1.2.3
if [ "$rc" = 0 ] && [ -x "$dest/bin/threatmark" ]; then ok "a version written v1.2.3 is the same release"; else bad "v-prefixed version (rc=$rc)"; fi

# Bad checksum: one byte of the archive changed after the checksum was made.
cp -r "$rel" "$tmp/tampered"
printf 'x' >> "$tmp/tampered/v1.2.3/threatmark-1.2.3-x86_64-unknown-linux-musl.tar.gz"
run tampered "file://$tmp/tampered" 1.2.3
if [ "$rc" = 1 ] && [ ! -e "$dest/bin/threatmark" ] && [ ! -e "$tmp/stub.log" ] && grep -q "SHA-256 mismatch" "$tmp/stderr"; then
  ok "a bad checksum fails closed: nothing installed, no fallback"
else bad "a bad checksum fails closed (rc=$rc: $(cat "$tmp/stderr"))"; fi

# A checksum file that names another file (a valid hash, the wrong asset).
cp -r "$rel" "$tmp/other"
sum="$tmp/other/v1.2.3/threatmark-1.2.3-x86_64-unknown-linux-musl.tar.gz.sha256"
sed 's/  .*/  threatmark-1.2.3-other.tar.gz/' "$sum" > "$sum.new" && mv "$sum.new" "$sum"
run other "file://$tmp/other" 1.2.3
if [ "$rc" = 1 ] && [ ! -e "$dest/bin/threatmark" ] && grep -q "no SHA-256 for" "$tmp/stderr"; then
  ok "a checksum file that does not name the archive fails closed"
else bad "a checksum for another file fails closed (rc=$rc: $(cat "$tmp/stderr"))"; fi

# A missing checksum file is "no binary": fall back rather than install unverified.
cp -r "$rel" "$tmp/nosum"
rm "$tmp/nosum/v1.2.3/"*.sha256
run nosum "file://$tmp/nosum" 1.2.3
if [ "$rc" = 0 ] && grep -q source=cargo <<< "$out" && grep -q -- "--locked" "$tmp/stub.log"; then
  ok "an archive without its checksum is never installed (falls back)"
else bad "an archive without checksum (rc=$rc: $out)"; fi

# The fallback builds the action's own source when it is the version asked for, else the crate.
mkdir -p "$tmp/src"
printf '[package]\nname = "threatmark"\nversion = "9.9.9"\n' > "$tmp/src/Cargo.toml"
run missing "$url" 9.9.9
if [ "$rc" = 0 ] && grep -q source=cargo <<< "$out" && grep -qx -- "install --locked --root $dest --version =9.9.9 threatmark" "$tmp/stub.log"; then
  ok "a missing asset falls back to cargo install --locked of that version"
else bad "a missing asset falls back (rc=$rc: $out $(cat "$tmp/stderr") $(cat "$tmp/stub.log"))"; fi
TM_SOURCE="$tmp/src" run missing-own "$url" 9.9.9
if [ "$rc" = 0 ] && grep -qx -- "install --locked --root $dest --path $tmp/src" "$tmp/stub.log"; then
  ok "a missing asset of the action's own version builds the action's source"
else bad "a missing asset of the action's version (rc=$rc: $(cat "$tmp/stub.log"))"; fi

run unsupported "$url" 1.2.3 Windows ARM64
if [ "$rc" = 0 ] && grep -q source=cargo <<< "$out" && grep -q target=none <<< "$out"; then
  ok "a runner without a release target falls back"
else bad "unsupported runner falls back (rc=$rc: $out)"; fi

# Over HTTP: 200 installs, 404 falls back, a refused connection fails without falling back.
if command -v python3 > /dev/null; then
  port=$((20000 + RANDOM % 20000))
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$rel" > /dev/null 2>&1 &
  server=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" > /dev/null 2>&1 && break; sleep 0.1; done
  run http "http://127.0.0.1:$port" 1.2.3
  if [ "$rc" = 0 ] && grep -q source=release <<< "$out" && [ -x "$dest/bin/threatmark" ]; then
    ok "over HTTP a good checksum installs"
  else bad "HTTP install (rc=$rc: $(cat "$tmp/stderr"))"; fi
  run http404 "http://127.0.0.1:$port" 9.9.9
  if [ "$rc" = 0 ] && grep -q source=cargo <<< "$out"; then ok "over HTTP a 404 falls back"; else bad "HTTP 404 falls back (rc=$rc)"; fi
  kill "$server" 2> /dev/null || true
  wait "$server" 2> /dev/null || true
  server=""
  run refused "http://127.0.0.1:$port" 1.2.3
  if [ "$rc" = 2 ] && [ ! -e "$tmp/stub.log" ] && [ ! -e "$dest/bin/threatmark" ]; then
    ok "a download error that is not a missing asset fails (exit 2), no fallback"
  else bad "a refused connection fails (rc=$rc: $out)"; fi
else
  echo "skip HTTP cases: no python3"
fi

# The pre-commit wrapper: downloads this repository's version once into the user cache, verified.
if [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ]; then
  own="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -n 1)"
  make_release "$tmp/hookrel" "$own"
  first="$(XDG_CACHE_HOME="$tmp/xdg" TM_BASE_URL="file://$tmp/hookrel" bash "$here/pre-commit.sh" --version 2>&1)" || true
  rm -rf "$tmp/hookrel"
  second="$(XDG_CACHE_HOME="$tmp/xdg" TM_BASE_URL="file://$tmp/hookrel" bash "$here/pre-commit.sh" --version 2>&1)" || true
  if [ "$first" = "threatmark $own (stand-in)" ] && [ "$second" = "$first" ] && ! ls -d "$tmp"/xdg/threatmark/bin/*partial* > /dev/null 2>&1; then
    ok "the pre-commit wrapper installs its version once and runs it from the cache"
  else bad "the pre-commit wrapper (first: $first; second: $second)"; fi
fi

# A real archive from package.sh, if given: served as a release of its version, installed, run.
if [ -n "${1:-}" ]; then
  real="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  file="$(basename "$real")"
  version="$(sed -E 's/^threatmark-([^-]+)-.*/\1/' <<< "$file")"
  target="$(sed -E "s/^threatmark-$version-(.*)\.(tar\.gz|zip)$/\1/" <<< "$file")"
  mkdir -p "$tmp/real/v$version"
  # install.sh picks the musl target for Linux/X64: serve the given archive under that name.
  musl="threatmark-$version-x86_64-unknown-linux-musl.tar.gz"
  if [ "$target" = x86_64-unknown-linux-musl ]; then
    cp "$real" "$real.sha256" "$tmp/real/v$version/"
  else
    mkdir -p "$tmp/realstage"
    tar -C "$tmp/realstage" -xzf "$real"
    mv "$tmp/realstage/threatmark-$version-$target" "$tmp/realstage/threatmark-$version-x86_64-unknown-linux-musl"
    tar -C "$tmp/realstage" -czf "$tmp/real/v$version/$musl" "threatmark-$version-x86_64-unknown-linux-musl"
    (cd "$tmp/real/v$version" && sha "$musl" > "$musl.sha256")
  fi
  run real "file://$tmp/real" "$version"
  if [ "$rc" = 0 ] && "$dest/bin/threatmark" --version | grep -q "threatmark $version"; then
    ok "the real archive $file installs and runs"
  else bad "the real archive $file (rc=$rc: $(cat "$tmp/stderr"))"; fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
