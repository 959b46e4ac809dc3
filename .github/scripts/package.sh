#!/usr/bin/env bash
# Build and package one release archive. The release workflow runs exactly this, one target per
# job, and so can anyone locally:
#
#   .github/scripts/package.sh x86_64-unknown-linux-gnu          # -> dist/
#   .github/scripts/package.sh x86_64-unknown-linux-musl dist
#
# Output, for version V (Cargo.toml) and TARGET:
#   OUT/threatmark-V-TARGET.tar.gz (a .zip for Windows targets) holding the folder
#   threatmark-V-TARGET/ with the binary, README.md, LICENSE-MIT, LICENSE-APACHE,
#   completions/ (bash, zsh, fish, PowerShell, Elvish) and man/man1/ (one page per subcommand);
#   OUT/threatmark-V-TARGET.tar.gz.sha256 in `sha256sum` format (check with `sha256sum -c`).
#
# Environment:
#   CARGO            the build command (default `cargo`; e.g. `cargo zigbuild` or `cross`)
#   TM_SKIP_BUILD=1  package an existing target/TARGET/release binary without building
#   STRIP            the strip command (default strip; e.g. aarch64-linux-gnu-strip for a cross build)
#   TM_GEN_BIN       a threatmark that runs on this machine, to generate completions and man pages
#                    when the built binary cannot run here (a cross build); default: the built one
set -euo pipefail

target="${1:?usage: package.sh TARGET [OUT_DIR]}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${2:-$root/dist}"
cd "$root"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || { echo "package.sh: no version in Cargo.toml" >&2; exit 2; }
name="threatmark-$version-$target"

case "$target" in
  *windows*) exe=threatmark.exe; format=zip ;;
  *) exe=threatmark; format=tar.gz ;;
esac

if [ "${TM_SKIP_BUILD:-0}" != 1 ]; then
  ${CARGO:-cargo} build --release --locked --target "$target"
fi
bin="${CARGO_TARGET_DIR:-target}/$target/release/$exe"
[ -f "$bin" ] || { echo "package.sh: $bin was not built" >&2; exit 2; }
gen="${TM_GEN_BIN:-$bin}"
"$gen" --version > /dev/null || {
  echo "package.sh: $gen does not run here; set TM_GEN_BIN to a threatmark for this machine" >&2
  exit 2
}

mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir/completions" "$dir/man/man1"
cp "$bin" "$dir/$exe"
# The release profile keeps line tables (for backtraces at home); the archive drops them: a
# quarter of the size (Linux x86_64: 117 MB -> 49 MB, 25 MB -> 9 MB compressed). Symbols stay.
case "$target" in
  *windows*) ;; # debug info is in the .pdb, not the .exe
  *apple*) ${STRIP:-strip} -S "$dir/$exe" ;;
  *) ${STRIP:-strip} --strip-debug "$dir/$exe" ;;
esac
cp README.md LICENSE-MIT LICENSE-APACHE "$dir/"
"$gen" completions bash > "$dir/completions/threatmark.bash"
"$gen" completions zsh > "$dir/completions/_threatmark"
"$gen" completions fish > "$dir/completions/threatmark.fish"
"$gen" completions powershell > "$dir/completions/_threatmark.ps1"
"$gen" completions elvish > "$dir/completions/threatmark.elv"
"$gen" man -o "$dir/man/man1"

archive="$name.$format"
rm -f "$out/$archive" "$out/$archive.sha256"
if [ "$format" = zip ]; then
  if command -v 7z > /dev/null; then
    # Relative paths only: 7z is a Windows program and does not read Git Bash's /d/... paths.
    (cd "$stage" && 7z a -tzip -bd "$archive" "$name" > /dev/null)
  else
    (cd "$stage" && zip -qr "$archive" "$name")
  fi
  mv "$stage/$archive" "$out/$archive"
else
  # Stable order, owners and times (the commit's), so packaging the same binary twice gives the
  # same archive where GNU tar is there.
  if tar --version 2> /dev/null | grep -q GNU; then
    when="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2> /dev/null || echo 0)}"
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$when" -cf - "$name" | gzip -n > "$out/$archive"
  else
    tar -C "$stage" -czf "$out/$archive" "$name"
  fi
fi

if command -v sha256sum > /dev/null; then
  (cd "$out" && sha256sum "$archive" > "$archive.sha256")
else
  (cd "$out" && shasum -a 256 "$archive" > "$archive.sha256")
fi
echo "$out/$archive"
