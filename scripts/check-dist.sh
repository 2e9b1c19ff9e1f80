#!/usr/bin/env bash
# Checks what scripts/release.sh left in dist/, whichever parts it built:
#   - SHA256SUMS lists every .deb, .tar.gz and .zip there, and `sha256sum -c` passes;
#   - the extension zips' manifests: the Chrome Web Store zip has no `key` (the store refuses
#     one), the unpacked zip has the fixed key (the id the host allows), the Firefox zip has
#     browser_specific_settings with the add-on id (scripts/check_zips.py);
#   - the musl tarball, if there is one: its binaries are static (`file`, `ldd`), and each
#     prints `NAME VERSION` for --version from the unpacked tarball.
# CI's packaging stage (scripts/test.d/70-package.sh) runs it after `ONLY=debs,zips,sums`.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=dist

echo "-- SHA256SUMS"
[ -s "$dist/SHA256SUMS" ] || { echo "check-dist: no $dist/SHA256SUMS" >&2; exit 1; }
shopt -s nullglob
for f in "$dist"/*.deb "$dist"/*.tar.gz "$dist"/*.zip; do
  name=$(basename "$f")
  # Two spaces: sha256sum's text-mode separator.
  grep -q "  $name\$" "$dist/SHA256SUMS" || { echo "check-dist: $name is not in SHA256SUMS" >&2; exit 1; }
done
(cd "$dist" && sha256sum -c --strict SHA256SUMS)

zips=("$dist"/swarmlink-*.zip)
if ((${#zips[@]})); then
  echo "-- extension zips"
  python3 scripts/check_zips.py "$dist" manifests/extension-ids.json
fi

tarballs=("$dist"/swarmlink-*-x86_64-linux-musl.tar.gz)
if ((${#tarballs[@]})); then
  echo "-- musl tarball"
  unpack=$(mktemp -d)
  trap 'rm -rf "$unpack"' EXIT
  for t in "${tarballs[@]}"; do
    tar -C "$unpack" -xzf "$t"
    dir="$unpack/$(basename "$t" .tar.gz)"
    version=${dir##*/swarmlink-}
    version=${version%-x86_64-linux-musl}
    for b in bthelper btpublish bttrack; do
      bin="$dir/bin/$b"
      desc=$(file -b "$bin")
      echo "$b: $desc"
      # A static-pie binary reads "static-pie linked", a plain static one "statically linked".
      case "$desc" in
        *"statically linked"* | *"static-pie linked"*) ;;
        *) echo "check-dist: $b in $(basename "$t") is not static" >&2; exit 1 ;;
      esac
      # ldd answers "not a dynamic executable" (static) or "statically linked" (static-pie),
      # with exit codes that differ between the two; a library it lists is a failure.
      ldd_out=$(ldd "$bin" 2>&1 || true)
      case "$ldd_out" in
        *"=>"* | *"ld-linux"*) echo "check-dist: ldd lists libraries for $b: $ldd_out" >&2; exit 1 ;;
        *"not a dynamic executable"* | *"statically linked"*) ;;
        *) echo "check-dist: ldd says '$ldd_out' of $b" >&2; exit 1 ;;
      esac
      echo "  ldd: $(echo "$ldd_out" | tr -d '\t')"
      got=$("$bin" --version)
      [ "$got" = "$b $version" ] || { echo "check-dist: '$b --version' says '$got', the tarball is $version" >&2; exit 1; }
      echo "  --version: $got"
    done
  done
fi
echo "check-dist: ok"
