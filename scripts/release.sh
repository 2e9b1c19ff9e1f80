#!/usr/bin/env bash
# Builds a Swarmlink release into dist/:
#   swarmlink_VERSION-1_amd64.deb          bthelper + btpublish, the native-messaging host
#                                          registered system-wide, btpublish@.service
#   swarmlink-tracker_VERSION-1_amd64.deb  bttrack and its systemd unit
#   swarmlink-VERSION-x86_64-linux-musl.tar.gz  static binaries for other distributions
#   swarmlink-chromium-VERSION.zip, swarmlink-firefox-VERSION.zip  the extension for the stores
#                                          (the Chromium one without the manifest `key`)
#   swarmlink-chromium-unpacked-VERSION.zip  the Chromium extension with its fixed key, for
#                                          "Load unpacked" (the id the host allows)
#   SHA256SUMS
# Needs cargo-deb (scripts/install-test-deps.sh installs it), node, and for the tarball the Rust
# target x86_64-unknown-linux-musl and musl-tools (installed here if missing).
#
# ONLY=PART[,PART...] builds only those parts (default all): debs, tarball (musl), zips (the
# extension's, copied into dist/), sums (SHA256SUMS of whatever dist/ then holds).
# PROFILE=dev packages the debug binaries `cargo build --workspace --bins` made, without a second
# (release) build. CI's packaging stage (scripts/test.d/70-package.sh) runs
# `PROFILE=dev ONLY=debs,zips,sums`: everything but the musl build, which takes minutes; then
# scripts/check-dist.sh checks the sums and the zips (and, after a full run, the tarball).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${PROFILE:-release}
ONLY=${ONLY:-all}
case "$PROFILE" in
  release) profile_dir=release ;;
  dev) profile_dir=debug ;;
  *) echo "release.sh: PROFILE must be release or dev" >&2; exit 2 ;;
esac
[ "$ONLY" = all ] && ONLY=debs,tarball,zips,sums
for part in ${ONLY//,/ }; do
  case "$part" in
    debs | tarball | zips | sums) ;;
    *) echo "release.sh: ONLY takes all or a comma-separated list of debs, tarball, zips, sums" >&2; exit 2 ;;
  esac
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
target_dir=${CARGO_TARGET_DIR:-target}
bins="$target_dir/$profile_dir"
version=$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="bthelper"))')

gen=packaging/generated
mkdir -p dist
if want debs || want tarball; then
  echo "== build ($PROFILE)"
  # The same invocation as scripts/test.sh for dev, so CI reuses its binaries as they are.
  cargo build --workspace --bins --locked --profile "$PROFILE"

  echo "== man pages, completions, native-messaging manifests"
  rm -rf "$gen"
  for b in bthelper btpublish bttrack; do
    "$bins/$b" --generate-docs "$gen/$b" >/dev/null
    gzip -9n "$gen/$b"/man/*.1
  done
  for family in chromium firefox; do
    mkdir -p "$gen/native-messaging-hosts/$family"
    sed 's|@BTHELPER_PATH@|/usr/bin/bthelper|' "manifests/host-$family.json" \
      >"$gen/native-messaging-hosts/$family/org.swarmlink.bthelper.json"
  done
fi

if want debs; then
  echo "== Debian packages"
  command -v cargo-deb >/dev/null || { echo "release.sh: cargo-deb is missing (cargo install cargo-deb --locked)" >&2; exit 1; }
  rm -f dist/*.deb
  for crate in bthelper bttrack; do
    cargo deb --no-build --locked --profile "$PROFILE" -p "$crate" --output dist/
  done
fi

if want tarball; then
  echo "== static tarball (musl)"
  rustup target list --installed | grep -qx x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl
  if ! command -v musl-gcc >/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q musl-tools
  fi
  # ring compiles C: musl-gcc links it against musl rather than glibc.
  CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --target x86_64-unknown-linux-musl \
    -p bthelper -p btpublish -p bttrack --bins
  name="swarmlink-$version-x86_64-linux-musl"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/$name"/{bin,man,completions}
  for b in bthelper btpublish bttrack; do
    cp "$target_dir/x86_64-unknown-linux-musl/release/$b" "$stage/$name/bin/"
    # The release profile keeps line tables for the packages' backtraces; the tarball goes lean.
    strip "$stage/$name/bin/$b"
    cp "$gen/$b"/man/*.1.gz "$stage/$name/man/"
    cp "$gen/$b"/completions/* "$stage/$name/completions/"
  done
  cp -r packaging/systemd packaging/etc "$stage/$name/"
  cp README.md "$stage/$name/"
  rm -f dist/*.tar.gz
  tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "dist/$name.tar.gz" "$name"
fi

if want zips; then
  echo "== extension zips"
  # Zips of an earlier version would be copied too.
  rm -f extension/dist/swarmlink-*.zip
  node extension/build.mjs
  rm -f dist/*.zip
  cp extension/dist/swarmlink-chromium-*.zip extension/dist/swarmlink-firefox-*.zip dist/
fi

if want sums; then
  echo "== checksums"
  (cd dist && shopt -s nullglob && rm -f SHA256SUMS && files=(*.deb *.tar.gz *.zip) && sha256sum -- "${files[@]}" >SHA256SUMS)
fi
ls -l dist/
