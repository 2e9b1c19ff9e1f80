#!/usr/bin/env bash
# Many peers on one torrent (issue 20), two measurements, RUNS rounds each, contestants alternating:
#
# 1. Memory per idle peer connection. The client seeds one torrent (SIZE_MIB of random data); a
#    light scripted peer (bench/peers_lib.py idle) opens PEERS connections to it, each from an
#    address of its own (127.0.x.y), handshakes as libtorrent does (extension protocol, fast
#    extension, have_none) and idles; then it churns (closes a hundred, opens a hundred) until
#    TOTAL connections were made. Printed: (RSS with PEERS connected - RSS before) / connections
#    it held, RSS growth over the churn, and RSS after all closed. Contestants: bthelper
#    (`download --seed --max-peers`) and a python3-libtorrent seeder (connection limit raised).
#    Goal: bthelper under 64 KiB per idle peer.
# 2. Throughput from many seeders: bthelper downloads the same file from one python3-libtorrent
#    seeder and from SEEDERS of them at once (each a session of its own on its own address,
#    TCP only), and libtorrent's own downloader does the same for reference. Wall time from
#    process start to exit, as bench/download.sh. Goal: bthelper from SEEDERS at least as fast as
#    from one.
#
#   bench/peers.sh               # needs target/release/bthelper (cargo build --release -p bthelper)
#   RUNS=1 SIZE_MIB=64 OUT=/tmp/peers.md bench/peers.sh   # a quick look, results file untouched
#   env: RUNS=3 PEERS=200 TOTAL=1000 SEEDERS=20 SIZE_MIB=256 OUT=bench/results/peers.md
#        SKIP_MEMORY=1 / SKIP_THROUGHPUT=1
# Runs in a network namespace of its own where it can (bench/own_network.sh), bthelper at its
# defaults (DHT and local discovery on). Every process is started here and stopped by its PID.
set -euo pipefail
. "$(dirname "$0")/own_network.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
PEERS=${PEERS:-200}
TOTAL=${TOTAL:-1000}
SEEDERS=${SEEDERS:-20}
SIZE_MIB=${SIZE_MIB:-256}
OUT=${OUT:-$ROOT/bench/results/peers.md}
WORK=$(mktemp -d /tmp/swarmlink-peers.XXXXXX)
REF=$WORK/seed/data.bin
# shellcheck source=bench/lib.sh
source bench/lib.sh
PLIB=$ROOT/bench/peers_lib.py
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
require_bthelper

mkdir -p "$WORK/seed"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$REF"
"$PY" "$LT_PEER" create "$REF" "$WORK/data.torrent"
T=$WORK/data.torrent

# wait_for FILE PATTERN SECONDS
wait_for() {
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1:" >&2; tail -5 "$1" >&2; return 1
}
# stop PID: SIGTERM, then SIGKILL after 30 s.
stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# ---- 1. memory per idle peer connection ----
declare -A PER CHURN CLOSED HELD
memory_run() { # WHO ROUND
  local who=$1 r=$2 log=$WORK/mem-$1-$2.log pid port line
  case $who in
    bthelper)
      "$BTHELPER" download "$T" -o "$WORK/seed" --state-dir "$WORK/state-$r" --seed \
        --max-peers $((PEERS + 100)) > "$log" 2>&1 &
      pid=$!; PIDS+=("$pid")
      wait_for "$log" '^seeding' 120 || { stop "$pid"; return 1; }
      port=$(awk '/^listening on port/ {print $4}' "$log") ;;
    libtorrent)
      "$PY" "$PLIB" seed "$T" "$WORK/seed" $((PEERS + 100)) > "$log" 2>&1 &
      pid=$!; PIDS+=("$pid")
      wait_for "$log" '^seeding' 60 || { stop "$pid"; return 1; }
      port=$(awk '/^port/ {print $2}' "$log") ;;
  esac
  line=$("$PY" "$PLIB" idle "$pid" "$port" "$T" "$PEERS" "$TOTAL") || { stop "$pid"; return 1; }
  stop "$pid"
  echo "run $r $who: $line" >&2
  # rss_kib base=B connected=C churned=H closed=X open=N open_after_churn=M opened=T
  eval "$(tr ' ' '\n' <<< "${line#rss_kib }" | sed 's/^/local m_/')"
  [ "$m_open" -gt 0 ] || { echo "$who held no connection" >&2; return 1; }
  PER[$who]+=" $(echo "($m_connected - $m_base) / $m_open" | bc -l)"
  CHURN[$who]+=" $((m_churned - m_connected))"
  CLOSED[$who]+=" $((m_closed - m_base))"
  HELD[$who]+=" $m_open/$m_open_after_churn"
}
if [ -z "${SKIP_MEMORY:-}" ]; then
  echo "==> memory: $PEERS idle peers, $TOTAL connections in all" >&2
  MORDER=(bthelper libtorrent)
  for r in $(seq "$RUNS"); do
    for i in 0 1; do
      who=${MORDER[$(( (i + r - 1) % 2 ))]}
      memory_run "$who" "$r" || echo "run $r $who failed" >&2
    done
  done
fi

# ---- 2. throughput from one seeder and from SEEDERS ----
if [ -z "${SKIP_THROUGHPUT:-}" ]; then
  echo "==> throughput: $SIZE_MIB MiB from 1 and from $SEEDERS python3-libtorrent seeders" >&2
  "$PY" "$PLIB" seeders "$SEEDERS" "$T" "$WORK/seed" > "$WORK/seeders.out" 2>&1 &
  PIDS+=($!)
  wait_for "$WORK/seeders.out" '^seeding' 120
  mapfile -t ADDRS < <(awk '/^peer/ {print $2}' "$WORK/seeders.out")
  ONE=(--peer "${ADDRS[0]}")
  MANY=()
  for a in "${ADDRS[@]}"; do MANY+=(--peer "$a"); done
  # contestant WHO OUTDIR ROUND (see bench/lib.sh)
  contestant() {
    local who=$1 out=$2 r=$3
    case $who in
      bthelper-1) measure "$who" "$out" "$BTHELPER" download "$T" -o "$out" --state-dir "$WORK/st-$who-$r" "${ONE[@]}" ;;
      bthelper-many) measure "$who" "$out" "$BTHELPER" download "$T" -o "$out" --state-dir "$WORK/st-$who-$r" "${MANY[@]}" ;;
      libtorrent-1) measure "$who" "$out" env DL_TIMEOUT=300 "$PY" "$LT_PEER" download "$T" "$out" "${ADDRS[0]}" ;;
      libtorrent-many) measure "$who" "$out" env DL_TIMEOUT=300 "$PY" "$LT_PEER" download "$T" "$out" "${ADDRS[@]}" ;;
    esac
  }
  ORDER=(bthelper-1 bthelper-many libtorrent-1 libtorrent-many)
  rounds
fi

# ---- the report ----
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
report=$WORK/report.md
{
  echo "# Many peers on one torrent (bench/peers.sh)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${SIZE_MIB} MiB random file, medians of $RUNS runs, ${BENCH_IN_NETNS:+in a network namespace of its own (loopback only), }bthelper at its defaults (DHT, local discovery on)."
  if [ -z "${SKIP_MEMORY:-}" ]; then
    echo
    echo "Memory per idle peer: $PEERS scripted peers (handshake, extension handshake, have_none, then idle), each from its own 127.0.x.y, on the client seeding the torrent; then churned to $TOTAL connections in all."
    echo
    echo "| seeder | KiB per idle peer connection | RSS growth over the churn KiB | RSS after all closed, over before KiB | connections held (at $PEERS / after churn) |"
    echo "|---|---|---|---|---|"
    for who in bthelper libtorrent; do
      [ -n "${PER[$who]:-}" ] || { echo "| $who | failed | | | |"; continue; }
      printf '| %s | %.1f | %s | %s | %s |\n' "$who" "$(median ${PER[$who]})" "$(median ${CHURN[$who]})" \
        "$(median ${CLOSED[$who]})" "$(tr ' ' '\n' <<< "${HELD[$who]# }" | sort -u | paste -sd' ')"
    done
    echo
    echo "Goal: bthelper under 64 KiB per idle peer."
  fi
  if [ -z "${SKIP_THROUGHPUT:-}" ]; then
    echo
    echo "Throughput: the file from one python3-libtorrent seeder and from $SEEDERS at once (sessions of their own, each on its own address, TCP), wall time from process start to exit."
    echo
    echo "| downloader | seeders | seconds | MiB/s | peak RSS MiB |"
    echo "|---|---|---|---|---|"
    for who in bthelper-1 bthelper-many libtorrent-1 libtorrent-many; do
      [ -n "${SECS[$who]:-}" ] || continue
      s=$(median ${SECS[$who]})
      n=1; [[ $who == *-many ]] && n=$SEEDERS
      printf '| %s | %s | %.2f | %.1f | %s |\n' "${who%-*}" "$n" "$s" "$(echo "$SIZE_MIB / $s" | bc -l)" "$(mib "$(median ${RSS[$who]})")"
    done
    if [ -n "${SECS[bthelper-1]:-}" ] && [ -n "${SECS[bthelper-many]:-}" ]; then
      echo
      printf 'bthelper from %s seeders / from one: %.2fx the throughput (goal: at least 1.00x).\n' "$SEEDERS" \
        "$(echo "$(median ${SECS[bthelper-1]}) / $(median ${SECS[bthelper-many]})" | bc -l)"
    fi
  fi
} > "$report"
echo
cat "$report"
cp "$report" "$OUT"
echo "written to $OUT" >&2
