#!/usr/bin/env bash
# Installs the real peers and browsers the tests run against. Idempotent: a second run only checks.
set -euo pipefail

debian_packages=(
  transmission-cli transmission-daemon aria2 python3-libtorrent mktorrent opentracker wrk hyperfine
  nginx-light strace iproute2
  lintian systemd man-db
  chromium firefox-esr
)
# The tracker's listing tests read its RSS feed back with a real parser (Debian's package, for
# /usr/bin/python3, the interpreter that also has python3-libtorrent).
debian_packages+=(python3-feedparser)
# Chromium's other UI languages (Debian ships only en-US with the browser): the downloads page's
# German strings are checked in a German Chromium.
debian_packages+=(chromium-l10n)
# Port mapping is tested against a real router daemon (UPnP IGD and NAT-PMP) in a namespace,
# whose NAT rules it writes through nftables (`nft` sets up its tables first).
debian_packages+=(miniupnpd-nftables nftables)
# The player tests make their video at test time (VP9/Opus WebM, H.264/AAC MP4) and read the
# stream URL back with ffprobe and curl; Firefox decodes H.264 and AAC through the system's
# libavcodec, which ffmpeg brings.
debian_packages+=(ffmpeg curl)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi

# Node packages for the extension's unit tests and the browser end-to-end tests.
if [ -f tests/browser/package.json ]; then
  (cd tests/browser && { [ -d node_modules ] && npm ls >/dev/null 2>&1 || npm ci --no-audit --no-fund; })
fi

# cargo-deb builds the Debian packages (scripts/release.sh, scripts/test.d/70-package.sh).
# Compiled once: 9m43s wall (1m39s CPU) on the shared 2-core machine at load ~15.
if ! command -v cargo-deb >/dev/null; then
  cargo install cargo-deb --locked
fi
