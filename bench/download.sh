#!/usr/bin/env bash
# Download benchmark: SIZE_MIB (default 512) of random data from one python3-libtorrent seeder on
# loopback (TCP only), fetched by bthelper, rqbit and libtorrent's own downloader in the same run,
# RUNS times each (default 2; the median is reported). Throughput is size / wall time from process
# start to exit (start-up and the final flush included for everyone); peak RSS from /usr/bin/time -v.
# Results: printed and written to bench/results/download.md.
#
#   bench/download.sh            # needs target/release/bthelper (cargo build --release -p bthelper)
#   SIZE_MIB=128 RUNS=1 bench/download.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-512}
RUNS=${RUNS:-2}
BTHELPER=${BTHELPER:-$ROOT/target/release/bthelper}
RQBIT=${RQBIT:-$HOME/.cargo/bin/rqbit}
LT_PEER=$ROOT/bench/download_lt_peer.py
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/swarmlink-bench.XXXXXX)
SEED_PID=
cleanup() {
  [ -n "$SEED_PID" ] && kill "$SEED_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BTHELPER" ] || { echo "build it first: cargo build --release -p bthelper" >&2; exit 1; }
mkdir -p "$WORK/seed"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/seed/data.bin"
"$PY" "$LT_PEER" create "$WORK/seed/data.bin" "$WORK/data.torrent"
PIECE_LEN=$("$BTHELPER" inspect --json "$WORK/data.torrent" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["piece_length"])')

"$PY" "$LT_PEER" seed "$WORK/data.torrent" "$WORK/seed" > "$WORK/seed.out" 2>&1 &
SEED_PID=$!
for _ in $(seq 100); do grep -q seeding "$WORK/seed.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^port/{print $2}' "$WORK/seed.out")
[ -n "$PORT" ] || { echo "seeder did not start" >&2; cat "$WORK/seed.out" >&2; exit 1; }
# Warm the seeder's page cache so the first contestant is not penalised.
cat "$WORK/seed/data.bin" > /dev/null

# run NAME OUTDIR COMMAND...: prints "seconds peak_rss_kib"
run() {
  local name=$1 out=$2; shift 2
  rm -rf "$out"; mkdir -p "$out"
  # Flush the previous run's writes so nobody pays for someone else's writeback, and keep the
  # page cache warm (dropping it would time binaries and libraries loading from disk).
  sync
  cat "$WORK/seed/data.bin" > /dev/null
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 || { echo "$name failed" >&2; tail -5 "$WORK/$name.log" >&2; echo "nan 0"; return; }
  t1=$(date +%s.%N)
  if ! cmp -s "$WORK/seed/data.bin" "$(find "$out" -name data.bin | head -1)"; then
    echo "$name: downloaded data differs" >&2; echo "nan 0"; return
  fi
  local rss
  rss=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$WORK/$name.time")
  echo "$(echo "$t1 - $t0" | bc -l) $rss"
}

declare -A SECS RSS
ORDER=(bthelper rqbit libtorrent)
for r in $(seq "$RUNS"); do
  # Rotate who goes first: the first download from the fresh seeder also pays for its
  # seed-mode piece checks.
  for i in 0 1 2; do
    who=${ORDER[$(( (i + r - 1) % 3 ))]}
    out=$WORK/out-$who
    case $who in
      bthelper) res=$(run bthelper "$out" "$BTHELPER" download "$WORK/data.torrent" -o "$out" --state-dir "$WORK/state-$r" --peer "127.0.0.1:$PORT") ;;
      rqbit)
        [ -x "$RQBIT" ] || { echo "no rqbit at $RQBIT" >&2; continue; }
        res=$(run rqbit "$out" "$RQBIT" --disable-dht --disable-dht-persistence --disable-lsd --disable-upnp-port-forward \
          --listen-port 0 download -o "$out" --exit-on-finish --disable-http-api --initial-peers "127.0.0.1:$PORT" "$WORK/data.torrent") ;;
      libtorrent) res=$(run libtorrent "$out" env DL_TIMEOUT=300 "$PY" "$LT_PEER" download "$WORK/data.torrent" "$out" "127.0.0.1:$PORT") ;;
    esac
    SECS[$who]="${SECS[$who]:-} ${res% *}"
    RSS[$who]="${RSS[$who]:-} ${res#* }"
    echo "run $r $who: ${res% *} s, peak RSS ${res#* } KiB" >&2
  done
done

median() { printf '%s\n' $@ | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
report=$WORK/report.md
{
  echo "# Download benchmark"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${SIZE_MIB} MiB random file, piece length $PIECE_LEN, one python3-libtorrent seeder on loopback (TCP), median of $RUNS runs, wall time from process start to exit."
  echo
  echo "| downloader | seconds | throughput MiB/s | peak RSS MiB |"
  echo "|---|---|---|---|"
  for who in bthelper rqbit libtorrent; do
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
} > "$report"
cat "$report"
cp "$report" "$ROOT/bench/results/download.md"
