#!/usr/bin/env bash
# The one-command demo: builds Swarmlink, then runs a whole swarm on 127.0.0.1 —
#   bttrack (the tracker and its listing page), btpublish seeding a generated sample file at a
#   modest upload cap, and several `bthelper download`s of it at once —
# shows each download's progress live, then how little the publisher had to upload: the
# downloaders gave each other the rest. The tracker and the publisher keep running afterwards so
# the browser flow can be tried on the listing page; Ctrl-C stops every process it started and
# removes its temporary directory.
#
#   bash scripts/demo.sh
#   DOWNLOADERS=8 SIZE_MIB=256 RATE=16M bash scripts/demo.sh     # RATE: btpublish --upload-rate
#
# Needs only the Rust toolchain (plus bash, coreutils, awk). Everything runs at the settings a user
# gets: the tracker listens on 127.0.0.1 and hands out 127.0.0.1 peers; the downloaders also run
# the DHT, local discovery (multicast on the local link, TTL 1) and PEX, as shipped. With no route
# to the public DHT routers (a LAN, a firewalled machine) they say so once and carry on.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DOWNLOADERS=${DOWNLOADERS:-4}
SIZE_MIB=${SIZE_MIB:-128}
RATE=${RATE:-8M}
BIN=${BIN:-$ROOT/target/release}   # with NO_BUILD=1: binaries built beforehand

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

if [ -z "${NO_BUILD:-}" ]; then
  bold "==> building: cargo build --release (bttrack, btpublish, bthelper)"
  cargo build --release -p bttrack -p btpublish -p bthelper
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/swarmlink-demo.XXXXXX")
. "$ROOT/bench/swarm_lib.sh"
SL_PUB_PID=
finish() {
  trap - EXIT INT TERM
  echo
  if [ -n "$SL_PUB_PID" ] && kill -0 "$SL_PUB_PID" 2>/dev/null && [ -n "${ALL_DONE:-}" ]; then
    # A clean stop makes btpublish report its own total to the tracker.
    sl_stop "$SL_PUB_PID"
    if t=$(sl_wait_stopped_totals "$WORK/tracker.log" "$SL_PPORT" 5); then
      echo "btpublish's own count: it uploaded $(sl_mib "${t%% *}") MiB in all."
    fi
  fi
  sl_cleanup
  rm -rf "$WORK"
  echo "stopped everything the demo started and removed $WORK"
}
trap finish EXIT
trap 'exit 130' INT TERM

bold "==> working in $WORK (removed on exit)"
sl_start_tracker "$WORK"
LISTING="http://127.0.0.1:$SL_TPORT/"
echo "bttrack: listening on 127.0.0.1:$SL_TPORT, listing page $LISTING"

NAME=swarmlink-demo-${SIZE_MIB}MiB.bin
mkdir -p "$WORK/publisher"
FILE=$WORK/publisher/$NAME
echo "writing a $SIZE_MIB MiB sample file of random bytes: $FILE"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$FILE"
SIZE=$(stat -c %s "$FILE")

bold "==> btpublish $NAME --upload-rate $RATE (hashing, registering at the tracker)"
sl_start_publisher "$FILE" "$RATE" "$WORK"
echo "published: $(grep -m1 ": http://" "$WORK/publisher.out")"
ALONE=$(awk -v s="$SIZE" -v r="$(sl_rate_bytes "$RATE")" 'BEGIN { printf "%.1f", s / r }')

bold "==> $DOWNLOADERS x bthelper download $SL_TORRENT_URL, all at once"
echo "(alone, the publisher would need $ALONE s to send even one copy at $RATE/s)"
sl_start_leechers "$DOWNLOADERS" "$SL_TORRENT_URL" "$WORK"

# Live progress: the last status line each bthelper prints (every 2 s when not on a terminal).
status_line() {
  local d=$WORK/leech-$1 line
  if [ -s "$d/done" ]; then
    awk -v i="$1" '{ if ($1 == 0) printf "downloader %d: done in %.1f s\n", i, $3 - $2;
      else printf "downloader %d: FAILED (exit %d)\n", i, $1 }' "$d/done"
    return
  fi
  line=$(grep -E '% of ' "$d/log" 2>/dev/null | tail -1 || true)
  echo "downloader $1: ${line#*: }"
}
drawn=0
while :; do
  done_count=$(sl_leechers_done "$DOWNLOADERS" "$WORK")
  if [ -t 1 ]; then
    [ "$drawn" -gt 0 ] && printf '\033[%dA' "$drawn"
    for i in $(seq "$DOWNLOADERS"); do printf '\033[2K%s\n' "$(status_line "$i")"; done
    drawn=$DOWNLOADERS
  elif [ $((SECONDS % 5)) = 0 ] || [ "$done_count" = "$DOWNLOADERS" ]; then
    for i in $(seq "$DOWNLOADERS"); do status_line "$i"; done
  fi
  [ "$done_count" = "$DOWNLOADERS" ] && break
  sleep 1
done

ALL_DONE=1
bold "==> summary"
failed=0
for i in $(seq "$DOWNLOADERS"); do
  d=$WORK/leech-$i
  if [ "$(cut -d' ' -f1 "$d/done")" = 0 ] && cmp -s "$FILE" "$d/out/$NAME"; then
    awk -v i="$i" '{ printf "downloader %d: %.1f s, byte-identical to the original\n", i, $3 - $2 }' "$d/done"
  else
    failed=$((failed + 1)); echo "downloader $i: failed; its log is $d/log"
  fi
done
# Each downloader reported its own totals to the tracker when it finished (`stopped` announce).
totals=""
for _ in $(seq 50); do
  totals=$(sl_peer_totals "$WORK/tracker.log" "$SL_PPORT")
  [ -n "$totals" ] && [ "${totals##* }" -ge "$DOWNLOADERS" ] && break
  sleep 0.2
done
read -r up down _ <<< "$totals"
awk -v size="$SIZE" -v n="$DOWNLOADERS" -v up="$up" -v down="$down" -v rate="$RATE" 'BEGIN {
  mib = 1048576; pub = down - up
  printf "file: %.1f MiB; %d downloaders received %.1f MiB in all\n", size / mib, n, down / mib
  printf "the downloaders gave each other %.1f MiB\n", up / mib
  printf "the publisher (capped at %s/s) uploaded about %.1f MiB = %.2fx the file\n", rate, pub / mib, pub / size
  printf "a plain HTTP server would have uploaded %d copies = %.1f MiB\n", n, n * size / mib
}'
[ "$failed" = 0 ] || echo "$failed download(s) failed"

bold "==> still running, for the browser flow (Ctrl-C stops everything)"
cat <<EOF
listing page:  $LISTING   (the tracker; btpublish keeps seeding $NAME)
try the click-a-link flow:
  1. $BIN/bthelper install          # registers the helper with your browsers
  2. node extension/build.mjs       # builds extension/dist/chromium and extension/dist/firefox
  3. Chromium/Chrome: chrome://extensions, Developer mode, "Load unpacked": $ROOT/extension/dist/chromium
     Firefox: about:debugging, This Firefox, "Load Temporary Add-on": $ROOT/extension/dist/firefox/manifest.json
  4. open $LISTING and click $NAME: the download shows in the extension's popup
     (the helper saves to its default download directory; see extension/README.md)
EOF
# Short sleeps: bash runs the trap only between commands, so a kill -INT/-TERM of this script
# (not only a terminal's Ctrl-C, which reaches the sleep too) stops everything within a second.
while :; do sleep 1; done
