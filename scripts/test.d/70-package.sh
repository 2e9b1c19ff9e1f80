#!/usr/bin/env bash
# The release: scripts/release.sh packages the debug binaries scripts/test.sh already built
# (PROFILE=dev: no second build) and makes the extension zips and SHA256SUMS (ONLY=debs,zips,sums:
# all but the musl tarball, whose build takes minutes); scripts/check-dist.sh checks the sums
# and the zips' manifests (no `key` in the Chrome Web Store zip, the fixed key in the unpacked
# one, the gecko id in Firefox's). Then the Debian packages: lintian finds no errors, `dpkg -i`
# installs them, systemd-analyze accepts the installed units, the binaries' --version agrees with the
# packages, Chromium downloads a clicked file through the system-installed host with no
# `bthelper install` (tests/browser/e2e-system/), and `dpkg --purge` leaves nothing behind.
# Needs root (dpkg); installs nothing it does not remove.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
  echo "70-package: needs root to install the packages; run it as root (CI does)" >&2
  exit 1
fi
if dpkg-query -W -f='${Status}' swarmlink swarmlink-tracker 2>/dev/null | grep -q "install ok installed"; then
  echo "70-package: swarmlink is already installed on this machine; not touching it" >&2
  exit 1
fi

PROFILE=dev ONLY=debs,zips,sums bash scripts/release.sh
bash scripts/check-dist.sh

echo "-- lintian"
# Errors fail the stage; warnings are printed for the record.
lintian --fail-on error --tag-display-limit 0 dist/swarmlink_*.deb dist/swarmlink-tracker_*.deb

# Everything the packages may put on the machine, for the after-purge check.
leftovers=(
  /usr/bin/bthelper /usr/bin/btpublish /usr/bin/bttrack /usr/share/swarmlink /etc/swarmlink
  /usr/lib/mozilla/native-messaging-hosts/org.swarmlink.bthelper.json
  /etc/chromium/native-messaging-hosts /etc/opt/chrome /etc/opt/edge /var/lib/bttrack /var/lib/btpublish
  /usr/lib/systemd/system/bttrack.service "/usr/lib/systemd/system/btpublish@.service"
  /usr/share/man/man1/bthelper.1.gz /usr/share/bash-completion/completions/bthelper
  /usr/share/doc/swarmlink /usr/share/doc/swarmlink-tracker
)
for f in "${leftovers[@]}"; do
  if [ -e "$f" ] && [ "$f" != /etc/chromium/native-messaging-hosts ]; then
    echo "70-package: $f exists before the install; this check needs a machine without it" >&2
    exit 1
  fi
done
chromium_dir_before=$([ -e /etc/chromium/native-messaging-hosts ] && echo yes || echo no)

purge() { dpkg --purge swarmlink swarmlink-tracker >/dev/null 2>&1 || true; }
trap purge EXIT

echo "-- dpkg -i"
dpkg -i dist/swarmlink_*.deb dist/swarmlink-tracker_*.deb

echo "-- systemd-analyze verify"
systemd-analyze verify /usr/lib/systemd/system/bttrack.service
# A template is verified through an instance.
systemd-analyze verify "/usr/lib/systemd/system/btpublish@$(systemd-escape --path /srv/files/movie.mpeg).service"

echo "-- versions"
for pair in bthelper:swarmlink btpublish:swarmlink bttrack:swarmlink-tracker; do
  bin=${pair%%:*} pkg=${pair#*:}
  upstream=$(dpkg-query -W -f='${Version}' "$pkg")
  upstream=${upstream%-*}
  got=$("/usr/bin/$bin" --version)
  if [ "$got" != "$bin $upstream" ]; then
    echo "70-package: '$bin --version' says '$got', the package $pkg is $upstream" >&2
    exit 1
  fi
done
for b in bthelper btpublish bttrack; do man -w "$b" >/dev/null; done

echo "-- the host, registered system-wide"
for dir in /etc/chromium/native-messaging-hosts /etc/opt/chrome/native-messaging-hosts \
  /etc/opt/edge/native-messaging-hosts /usr/lib/mozilla/native-messaging-hosts; do
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["path"]=="/usr/bin/bthelper", m' \
    "$dir/org.swarmlink.bthelper.json"
done

echo "-- Chromium with the system-installed host"
export SWARMLINK_LISTEN_IP=127.0.0.1 SWARMLINK_NO_DHT=1 SWARMLINK_NO_LSD=1 SWARMLINK_SYSTEM_HOST=1
(cd tests/browser && { [ -d node_modules ] && npm ls >/dev/null 2>&1 || npm ci --no-audit --no-fund; })
(cd tests/browser && node --test --test-concurrency=1 --test-timeout=240000 e2e-system/)

echo "-- dpkg --purge"
trap - EXIT
dpkg --purge swarmlink swarmlink-tracker
left=()
for f in "${leftovers[@]}"; do
  if [ "$f" = /etc/chromium/native-messaging-hosts ] && [ "$chromium_dir_before" = yes ]; then
    [ -e "$f/org.swarmlink.bthelper.json" ] && left+=("$f/org.swarmlink.bthelper.json")
    continue
  fi
  [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
if ((${#left[@]})); then
  echo "70-package: left after purge: ${left[*]}" >&2
  exit 1
fi
echo "70-package: ok"
