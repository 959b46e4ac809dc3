#!/usr/bin/env bash
# The pre-commit hooks `threatmark-scan-binary` and `threatmark-check-binary` (.pre-commit-hooks.yaml,
# `language: script`): run the release binary of this hook repository's version, downloaded once
# and verified by install.sh into the user cache, instead of compiling threatmark (minutes) the
# way `language: rust` does.
#
#   pre-commit.sh scan-hook     scan, then fail if threatmodel.json changed (so it can be added)
#   pre-commit.sh ARGS...       threatmark ARGS...
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -n 1)"
case "$(uname -s)" in
  Linux) os=Linux ;;
  Darwin) os=macOS ;;
  MINGW* | MSYS* | CYGWIN*) os=Windows ;;
  *) os="$(uname -s)" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=X64 ;;
  aarch64 | arm64) arch=ARM64 ;;
  *) arch="$(uname -m)" ;;
esac
exe=threatmark
[ "$os" != Windows ] || exe=threatmark.exe
cache="${XDG_CACHE_HOME:-$HOME/.cache}/threatmark/bin/$version-$os-$arch"
if [ ! -x "$cache/bin/$exe" ]; then
  # Installed beside, then moved into place: a second hook run never sees half a binary.
  partial="$cache.partial.$$"
  rm -rf "$partial"
  TM_VERSION="$version" TM_OS="$os" TM_ARCH="$arch" TM_DEST="$partial" bash "$here/install.sh" > /dev/null
  mkdir -p "$(dirname "$cache")"
  # (Another hook run may have won the race: then its copy stays.)
  [ -e "$cache" ] || mv "$partial" "$cache"
  rm -rf "$partial"
fi
bin="$cache/bin/$exe"
if [ "${1:-}" = scan-hook ]; then
  "$bin" scan --quiet --strict
  git diff --exit-code -- threatmodel.json
else
  exec "$bin" "$@"
fi
