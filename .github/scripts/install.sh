#!/usr/bin/env bash
# Install a threatmark release binary, verified, for action.yml (and for anyone's CI script).
#
#   TM_VERSION=0.1.0 TM_OS=Linux TM_ARCH=X64 TM_DEST=/opt/threatmark .github/scripts/install.sh
#
# Environment:
#   TM_VERSION   version to install, without the v (required)
#   TM_OS        Linux, macOS or Windows (GitHub's runner.os)
#   TM_ARCH      X64 or ARM64 (GitHub's runner.arch)
#   TM_DEST      install folder: the binary ends up in TM_DEST/bin
#   TM_BASE_URL  where releases live (default https://github.com/threatmark/threatmark/releases/download);
#                the archive is TM_BASE_URL/vVERSION/threatmark-VERSION-TARGET.tar.gz (.zip on
#                Windows) beside its .sha256, as .github/scripts/package.sh makes them
#   TM_SOURCE    crate source for the fallback (default: this repository, two folders up)
#   TM_CARGO     cargo command for the fallback (default cargo)
#
# What happens:
#   - the archive and its .sha256 are downloaded and the SHA-256 is checked before anything is
#     unpacked; a mismatch, or a checksum file that does not name the archive, fails closed
#     (exit 1) and leaves nothing installed;
#   - only when no binary exists for that version and target (HTTP 404, a missing file, or a
#     runner OS/arch without a release target) does it fall back to
#     `cargo install --locked --path TM_SOURCE` when TM_SOURCE is that version, else
#     `cargo install --locked --version =VERSION threatmark` (minutes instead of seconds); any other download
#     error fails (exit 2) rather than silently compiling.
# It prints `source=release` or `source=cargo` and `target=...` lines (for $GITHUB_OUTPUT).
#
# @threat Tampered release download (#tampered_download) [stride: T; likelihood: rare; impact: severe; cwe: 494; owner: @threatmark-maintainers]:
# a truncated, corrupted or swapped archive would run in the CI job, with its token, as the gate
# @control Checksum-verified install (#verified_install): the archive's SHA-256 must equal the one its release's .sha256 gives for that exact file name before anything is unpacked; a mismatch fails closed, and only a missing asset falls back to cargo install
# @mitigates #ci against #tampered_download with #verified_install
set -euo pipefail

die() { echo "install.sh: $2" >&2; exit "$1"; }

version="${TM_VERSION:?TM_VERSION is required}"
version="${version#v}"
dest="${TM_DEST:?TM_DEST is required}"
base="${TM_BASE_URL:-https://github.com/threatmark/threatmark/releases/download}"
# HTTPS only, unless a base URL was given on purpose (a mirror, or a test's local server).
protocols='=https'
[ -z "${TM_BASE_URL:-}" ] || protocols='=https,http,file'
source_dir="${TM_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}"

case "${TM_OS:-}/${TM_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *) target="" ;;
esac
case "$target" in
  *windows*) ext=zip; exe=threatmark.exe ;;
  *) ext=tar.gz; exe=threatmark ;;
esac

fallback() {
  echo "install.sh: $1; building threatmark $version from source with cargo install (this takes minutes)" >&2
  # The action's own source when it is that version, else the published crate.
  if [ "$(sed -n 's/^version = "\(.*\)"$/\1/p' "$source_dir/Cargo.toml" 2> /dev/null | head -n 1)" = "$version" ]; then
    ${TM_CARGO:-cargo} install --locked --root "$dest" --path "$source_dir"
  else
    ${TM_CARGO:-cargo} install --locked --root "$dest" --version "=$version" threatmark
  fi
  echo "source=cargo"
  echo "target=${target:-none}"
  exit 0
}

[ -n "$target" ] || fallback "no release binary for ${TM_OS:-?}/${TM_ARCH:-?}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
name="threatmark-$version-$target"
archive="$name.$ext"

# Download URL to FILE. Returns 0, or 10 when the file does not exist there (HTTP 404, or a
# missing file:// path), or 1 for any other failure.
fetch() {
  local code status
  code="$(curl --proto "$protocols" -fsSL --retry 3 -o "$2" -w '%{http_code}' "$1")" && return 0
  status=$?
  if [ "$code" = 404 ] || [ "$status" = 37 ]; then return 10; fi
  return 1
}

for file in "$archive" "$archive.sha256"; do
  status=0
  fetch "$base/v$version/$file" "$work/$file" || status=$?
  case "$status" in
    0) ;;
    10) fallback "no $file in release v$version" ;;
    *) die 2 "cannot download $base/v$version/$file" ;;
  esac
done

# The checksum file must name exactly this archive (`<hex>  <name>` or `<hex> *<name>`).
expected="$(awk -v f="$archive" '{ n = $2; sub(/^\*/, "", n) } n == f { print tolower($1); exit }' "$work/$archive.sha256")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die 1 "$archive.sha256 has no SHA-256 for $archive; refusing to install"
if command -v sha256sum > /dev/null; then
  actual="$(sha256sum "$work/$archive" | awk '{ print $1 }')"
else
  actual="$(shasum -a 256 "$work/$archive" | awk '{ print $1 }')"
fi
[ "$actual" = "$expected" ] || die 1 "SHA-256 mismatch for $archive (expected $expected, got $actual); refusing to install"

mkdir -p "$work/unpacked"
if [ "$ext" = zip ]; then
  if command -v 7z > /dev/null; then
    (cd "$work/unpacked" && 7z x -bd "../$archive" > /dev/null)
  else
    unzip -q "$work/$archive" -d "$work/unpacked"
  fi
else
  tar -C "$work/unpacked" -xzf "$work/$archive"
fi
[ -f "$work/unpacked/$name/$exe" ] || die 1 "$archive does not hold $name/$exe"
mkdir -p "$dest/bin"
cp "$work/unpacked/$name/$exe" "$dest/bin/$exe"
chmod +x "$dest/bin/$exe"
echo "source=release"
echo "target=$target"
