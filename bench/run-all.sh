#!/usr/bin/env bash
# The whole benchmark suite in one command, every contestant side by side in the same run, all on
# loopback:
#   bench/download.sh  bthelper against rqbit and libtorrent (throughput, peak memory)
#   bench/tracker.sh   bttrack against opentracker (announces per CPU-second, memory per peer)
#   bench/hash.sh      btpublish make against mktorrent and transmission-create
#   bench/swarm.sh     the swarm's promise: publisher upload and download times for N downloaders
#   bench/scale.sh     2,000 seeding torrents in bthelper's daemon, transmission-daemon and rqbit
#                      (start-up, RSS, idle CPU, descriptors; its data, 7.5 GiB, is made once into
#                      ~/.cache/swarmlink-bench)
#   bench/peers.sh     many peers on one torrent: bthelper's memory per idle peer connection
#                      (200 scripted peers, 1,000 connections) against libtorrent's, and its
#                      throughput from 20 python3-libtorrent seeders against from one
#   bench/stream.sh    streaming while it downloads: bthelper against rqbit's HTTP stream (first
#                      byte, first byte after a seek to 80%, stalls during paced playback)
# It installs what it needs (Debian packages through scripts/install-test-deps.sh; rqbit with
# `cargo install rqbit --locked`, about 8 minutes, when it is missing), builds the release
# binaries, runs the four, prints one table of ratios and writes it with the machine's description
# (and each benchmark's own table) to bench/results/latest.md.
#
#   bash bench/run-all.sh                 # the full suite (about 10 minutes after installing)
#   QUICK=1 bash bench/run-all.sh         # smaller sizes and shorter runs, for a first look
#   SKIP="tracker hash" bash bench/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/bench/results
SKIP=${SKIP:-}
QUICK=${QUICK:-}
RQBIT=${RQBIT:-$(command -v rqbit || echo "$HOME/.cargo/bin/rqbit")}
skip() { [[ " $SKIP " == *" $1 "* ]]; }

if [ -z "${NO_BUILD:-}" ]; then   # NO_BUILD=1: everything is installed and built already
  echo "==> installing what the benchmarks run against" >&2
  bash scripts/install-test-deps.sh
  if ! skip download && [ ! -x "$RQBIT" ]; then
    echo "==> cargo install rqbit --locked (about 8 minutes)" >&2
    cargo install rqbit --locked
    RQBIT=$HOME/.cargo/bin/rqbit
  fi
  echo "==> building the release binaries" >&2
  cargo build --release -p bttrack -p btpublish -p bthelper
  cargo build --release -p bttrack --example udp_load --example udp_fill
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
FAILED=()
run() {
  local name=$1; shift
  if skip "$name"; then echo "==> skipping $name" >&2; return; fi
  echo "==> bench/$name.sh" >&2
  "$@" || FAILED+=("$name")
}
if [ -n "$QUICK" ]; then
  run tracker env DURATION=3 FILL_N=100000 MILLION_SWARMS=100000 MILLION_RUNS=1 bench/tracker.sh
  run hash env RUNS=3 bench/hash.sh 256
  run swarm env NS="4 16" SIZE_MIB=32 bench/swarm.sh
  run download env RQBIT="$RQBIT" SIZE_MIB=128 RUNS=1 bench/download.sh
  run scale env RQBIT="$RQBIT" N=200 IDLE=20 bench/scale.sh
  run peers env RUNS=1 SIZE_MIB=64 TOTAL=400 bench/peers.sh
  run stream env RQBIT="$RQBIT" SIZE_MIB=64 RUNS=1 PLAY_SECS=10 bench/stream.sh
else
  run tracker bench/tracker.sh
  run hash bench/hash.sh
  run swarm bench/swarm.sh
  run download env RQBIT="$RQBIT" RUNS=3 bench/download.sh
  run scale env RQBIT="$RQBIT" bench/scale.sh
  run peers bench/peers.sh
  run stream env RQBIT="$RQBIT" bench/stream.sh
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the ratios, read back from each benchmark's own results file ----
# cell FILE NAME COLUMN: column COLUMN (1-based, after the leading |) of the table row named NAME.
cell() {
  [ -f "$1" ] || return 0
  awk -F'|' -v name="$2" -v col="$3" '{ n = $2; gsub(/^ +| +$/, "", n) }
    n == name { v = $(col + 1); gsub(/[ x%*]/, "", v); print v; exit }' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); }

D=$RESULTS/download.md
row "download throughput (512 MiB, one libtorrent seeder)" "bthelper / rqbit" \
  "$(ratio "$(cell "$D" bthelper 3)" "$(cell "$D" rqbit 3)")" ">= 1.3x"
row "download throughput" "bthelper / libtorrent" \
  "$(ratio "$(cell "$D" bthelper 3)" "$(cell "$D" libtorrent 3)")" ""
row "download peak memory" "bthelper / rqbit (lower is better)" \
  "$(ratio "$(cell "$D" bthelper 4)" "$(cell "$D" rqbit 4)")" "<= 1.0x"
row "download peak memory" "bthelper / libtorrent (lower is better)" \
  "$(ratio "$(cell "$D" bthelper 4)" "$(cell "$D" libtorrent 4)")" ""

T=$RESULTS/tracker.md
trk() { [ -f "$T" ] && awk -F'|' -v t="$1" -v m="$2" '{ a = $2; b = $3; gsub(/ /, "", a); gsub(/ /, "", b) }
  a == t && b == m { v = $6; gsub(/ /, "", v); print v; exit }' "$T"; }
for mode in keepalive close udp; do
  row "tracker announces per CPU-second ($mode)" "bttrack / opentracker" \
    "$(ratio "$(trk bttrack "$mode")" "$(trk opentracker "$mode")")" ""
done
# The memory table's rows: | tracker | peers held (a number) | RSS empty | RSS full | bytes per peer |
mem() { [ -f "$T" ] && awk -F'|' -v t="$1" '{ a = $2; b = $3; gsub(/ /, "", a); gsub(/ /, "", b) }
  a == t && b ~ /^[0-9]+$/ { v = $6; gsub(/ /, "", v); print v; exit }' "$T"; }
row "tracker memory per held peer" "bttrack / opentracker (lower is better)" \
  "$(ratio "$(mem bttrack)" "$(mem opentracker)")" ""
# The million-swarm table: | tracker (million run) | held | RSS empty | RSS full | bytes per peer |
# fill rate | re-announce rate | errors |
row "tracker memory per peer, 1M swarms x 10 peers" "bttrack / opentracker (lower is better)" \
  "$(ratio "$(cell "$T" "bttrack (million run)" 5)" "$(cell "$T" "opentracker (million run)" 5)")" "<= 1.0x"
row "tracker re-announces per CPU-second, 1M swarms" "bttrack / opentracker" \
  "$(ratio "$(cell "$T" "bttrack (million run)" 7)" "$(cell "$T" "opentracker (million run)" 7)")" ">= 1.5x"

H=$RESULTS/hash.md
row "hashing (make a .torrent), wall time" "mktorrent -t 2 / btpublish" \
  "$(ratio "$(cell "$H" "mktorrent -t 2" 2)" "$(cell "$H" btpublish 2)")" ">= 1.3x"
row "hashing, wall time" "transmission-create / btpublish" \
  "$(ratio "$(cell "$H" transmission-create 2)" "$(cell "$H" btpublish 2)")" ""

S=$RESULTS/swarm.md
if [ -f "$S" ]; then
  while IFS='|' read -r _ n up _ _ _ vs_http _ _ slow_ratio _; do
    n=${n// /}
    [[ "$n" =~ ^[0-9]+$ ]] || continue
    goal=""; [ "$n" = 16 ] && goal="<= 1.3x"
    row "swarm, N = $n downloaders" "publisher upload / file size" "${up// /}" "$goal"
    row "swarm, N = $n downloaders" "publisher upload / plain HTTP server's (N copies)" "${vs_http// /}" ""
    row "swarm, N = $n downloaders" "slowest download / one copy at the publisher's cap" "${slow_ratio// /}" "<= 1.5x"
  done < "$S"
fi

SC=$RESULTS/scale.md
for what in "start-up to all seeding" "peak RSS" "idle CPU"; do
  row "2,000 seeding torrents: $what" "bthelper / better of transmission, rqbit (lower is better)" \
    "$(cell "$SC" "$what" 2)x" "<= 0.5x"
done

P=$RESULTS/peers.md
row "memory per idle peer connection (200 peers)" "bthelper KiB (lower is better)" \
  "$(cell "$P" bthelper 2)" "< 64"
row "memory per idle peer connection" "bthelper / libtorrent (lower is better)" \
  "$(ratio "$(cell "$P" bthelper 2)" "$(cell "$P" libtorrent 2)")" ""
# The throughput rows: | downloader | seeders | seconds | MiB/s | peak RSS MiB |
thr() { [ -f "$P" ] && awk -F'|' -v w="$1" -v n="$2" '{ a = $2; b = $3; gsub(/ /, "", a); gsub(/ /, "", b) }
  a == w && b == n { v = $5; gsub(/ /, "", v); print v; exit }' "$P"; }
row "download from 20 seeders at once" "bthelper from 20 / from one (throughput)" \
  "$(ratio "$(thr bthelper 20)" "$(thr bthelper 1)")" ">= 1.0x"

ST=$RESULTS/stream.md
row "stream: first byte (200 MiB, seeder at 4 MiB/s)" "rqbit / bthelper time (above 1: bthelper ahead)" \
  "$(ratio "$(cell "$ST" rqbit 2)" "$(cell "$ST" bthelper 2)")" ">= 1.0x, within 1 s"
row "stream: first byte after a seek to 80%" "rqbit / bthelper time (above 1: bthelper ahead)" \
  "$(ratio "$(cell "$ST" rqbit 3)" "$(cell "$ST" bthelper 3)")" ">= 1.0x, within 1 s"

ver() { "$@" 2>/dev/null | head -1 || true; }
deb() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
CPU=$(awk -F: '/model name/ { sub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)
{
  echo "# Benchmark suite (bench/run-all.sh)"
  echo
  echo "Run $STARTED to $(date -u +%H:%MZ)${QUICK:+ (QUICK: smaller sizes)}, all on loopback."
  echo
  echo "- machine: $CPU, $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
  echo "- load average before / after: $LOAD_BEFORE / $LOAD_AFTER (a shared machine slows every contestant alike; quote ratios, not absolute times)"
  echo "- Swarmlink $(git describe --always --dirty 2>/dev/null || echo "?"), $(ver rustc --version)"
  echo "- rqbit $(ver "$RQBIT" --version | awk '{ print $NF }'), python3-libtorrent $(deb python3-libtorrent), opentracker $(deb opentracker), mktorrent $(deb mktorrent), transmission-cli $(deb transmission-cli)"
  [ ${#FAILED[@]} = 0 ] || echo "- FAILED: ${FAILED[*]} (their rows below are from an earlier run or n/a)"
  echo
  echo "| benchmark | ratio | measured | goal |"
  echo "|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  for f in download tracker hash swarm scale peers stream; do
    [ -f "$RESULTS/$f.md" ] || continue
    echo
    sed 's/^# /## /' "$RESULTS/$f.md"
  done
} > "$RESULTS/latest.md"
echo
sed -n '1,/^## /p' "$RESULTS/latest.md" | sed '$d'
echo "written to bench/results/latest.md"
[ ${#FAILED[@]} = 0 ]
