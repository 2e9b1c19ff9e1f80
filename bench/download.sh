#!/usr/bin/env bash
# Download benchmark: SIZE_MIB (default 512) of random data from one python3-libtorrent seeder on
# loopback (TCP only), fetched by bthelper, rqbit and libtorrent's own downloader in the same run,
# RUNS times each (default 2; the median is reported). Throughput is size / wall time from process
# start to exit (start-up and the final flush included for everyone); peak RSS from /usr/bin/time -v.
# Results: printed and written to OUT (default bench/results/download.md). The measuring loop is
# bench/lib.sh, shared with bench/webseed.sh.
#
#   bench/download.sh            # needs target/release/bthelper (cargo build --release -p bthelper)
#   SIZE_MIB=128 RUNS=1 bench/download.sh
#   SIZE_MIB=16 RUNS=1 OUT=/tmp/download.md bench/download.sh   # a quick check, results file untouched
#   BTHELPER_BASE=/path/to/old/bthelper bench/download.sh        # also times an earlier build, in the same
#                                                                # rounds, to show a change's effect
set -euo pipefail
. "$(dirname "$0")/own_network.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-512}
RUNS=${RUNS:-2}
RQBIT=${RQBIT:-$HOME/.cargo/bin/rqbit}
OUT=${OUT:-$ROOT/bench/results/download.md}
WORK=$(mktemp -d /tmp/swarmlink-bench.XXXXXX)
REF=$WORK/seed/data.bin
# shellcheck source=bench/lib.sh
source bench/lib.sh
SEED_PID=
cleanup() {
  [ -n "$SEED_PID" ] && kill "$SEED_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

require_bthelper
mkdir -p "$WORK/seed"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$REF"
"$PY" "$LT_PEER" create "$REF" "$WORK/data.torrent"
PIECE_LEN=$("$BTHELPER" inspect --json "$WORK/data.torrent" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["piece_length"])')

"$PY" "$LT_PEER" seed "$WORK/data.torrent" "$WORK/seed" > "$WORK/seed.out" 2>&1 &
SEED_PID=$!
for _ in $(seq 100); do grep -q seeding "$WORK/seed.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^port/{print $2}' "$WORK/seed.out")
[ -n "$PORT" ] || { echo "seeder did not start" >&2; cat "$WORK/seed.out" >&2; exit 1; }
# Warm the seeder's page cache so the first contestant is not penalised.
cat "$REF" > /dev/null

# contestant WHO OUTDIR ROUND (see bench/lib.sh)
contestant() {
  local who=$1 out=$2 r=$3
  case $who in
    bthelper) measure bthelper "$out" "$BTHELPER" download "$WORK/data.torrent" -o "$out" --state-dir "$WORK/state-$r" --peer "127.0.0.1:$PORT" ;;
    bthelper-base) measure bthelper-base "$out" "$BTHELPER_BASE" download "$WORK/data.torrent" -o "$out" --state-dir "$WORK/state-base-$r" --peer "127.0.0.1:$PORT" ;;
    rqbit)
      [ -x "$RQBIT" ] || { echo "no rqbit at $RQBIT" >&2; return; }
      measure rqbit "$out" "$RQBIT" --disable-dht --disable-dht-persistence --disable-lsd --disable-upnp-port-forward \
        --listen-port 0 download -o "$out" --exit-on-finish --disable-http-api --initial-peers "127.0.0.1:$PORT" "$WORK/data.torrent" ;;
    libtorrent) measure libtorrent "$out" env DL_TIMEOUT=300 "$PY" "$LT_PEER" download "$WORK/data.torrent" "$out" "127.0.0.1:$PORT" ;;
  esac
}
ORDER=(bthelper rqbit libtorrent)
[ -n "${BTHELPER_BASE:-}" ] && ORDER=(bthelper bthelper-base rqbit libtorrent)
rounds

report=$WORK/report.md
{
  echo "# Download benchmark"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${SIZE_MIB} MiB random file, piece length $PIECE_LEN, one python3-libtorrent seeder on loopback (TCP), median of $RUNS runs, wall time from process start to exit."
  echo
  echo "| downloader | seconds | throughput MiB/s | peak RSS MiB |"
  echo "|---|---|---|---|"
  for who in bthelper bthelper-base rqbit libtorrent; do
    [ -n "${SECS[$who]:-}" ] || continue
    s=$(median ${SECS[$who]}); m=$(median ${RSS[$who]})
    printf '| %s | %.2f | %.1f | %.1f |\n' "$who" "$s" "$(echo "$SIZE_MIB / $s" | bc -l)" "$(echo "$m / 1024" | bc -l)"
  done
  if [ -n "${SECS[rqbit]:-}" ]; then
    b=$(median ${SECS[bthelper]}); q=$(median ${SECS[rqbit]})
    br=$(median ${RSS[bthelper]}); qr=$(median ${RSS[rqbit]})
    echo
    printf 'bthelper / rqbit: throughput %.2fx (goal >= 1.3x), peak RSS %.2fx (goal <= 1.0x)\n' "$(echo "$q / $b" | bc -l)" "$(echo "$br / $qr" | bc -l)"
  fi
  if [ -n "${SECS[bthelper-base]:-}" ]; then
    b=$(median ${SECS[bthelper]}); o=$(median ${SECS[bthelper-base]})
    br=$(median ${RSS[bthelper]}); orr=$(median ${RSS[bthelper-base]})
    echo
    printf 'bthelper / bthelper-base (%s): throughput %.2fx, peak RSS %.2fx\n' "$BTHELPER_BASE" "$(echo "$o / $b" | bc -l)" "$(echo "$br / $orr" | bc -l)"
  fi
} > "$report"
cat "$report"
cp "$report" "$OUT"
