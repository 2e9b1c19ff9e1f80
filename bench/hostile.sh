#!/usr/bin/env bash
# Hostile peers against a seeder (issue 14, section 2): for SECS seconds, ATTACKERS scripted
# hostile peers (request floods that never read, handshake floods, slow-loris, reconnect after a
# ban with fresh ports and peer ids, corrupt/unasked blocks) attack each victim in turn:
#   - bthelper seeding (`bthelper download --seed`),
#   - btpublish (registered at a local bttrack),
#   - python3-libtorrent seeding (the reference),
# while an honest python3-libtorrent downloader fetches the file. Prints, per victim, RSS before
# the attack, its peak during it, after it, the growth (peak - before), and the honest rate
# attacked vs unattacked (same victim, same run) and their ratio.
# Goal for our victims: growth at most 32 MiB, no crash, ratio at least 0.80.
#
#   bench/hostile.sh [RUNS]        (from the repository root; env: SIZE_MIB=64 SECS=60 ATTACKERS=64)
#
# Needs release builds (it builds nothing itself):
#   cargo build --release --bins -p bthelper -p btpublish -p bttrack -p swarmlink-tests
# and python3-libtorrent under /usr/bin/python3 (scripts/install-test-deps.sh installs it).
# Attackers dial from 127.0.0.2 and up (Linux routes all of 127/8 to lo); the honest
# downloader from 127.0.0.1. Everything stays on loopback; every process is stopped by its PID.
set -euo pipefail
. "$(dirname "$0")/own_network.sh"

ROOT=${ROOT:-$PWD}
RUNS=${1:-1}
SIZE_MIB=${SIZE_MIB:-64}
SECS=${SECS:-60}
ATTACKERS=${ATTACKERS:-64}
REL=$ROOT/target/release
PY=/usr/bin/python3
LT_PEER=$ROOT/bench/download_lt_peer.py
for b in bthelper btpublish bttrack hostile-peer; do
  [ -x "$REL/$b" ] || {
    echo "missing $REL/$b: cargo build --release --bins -p bthelper -p btpublish -p bttrack -p swarmlink-tests" >&2
    exit 1
  }
done
$PY -c 'import libtorrent' 2>/dev/null || {
  echo "python3-libtorrent is missing (scripts/install-test-deps.sh installs it)" >&2
  exit 1
}
command -v curl > /dev/null || { echo "curl is missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/swarmlink-hostile.XXXXXX)
BIN=$REL
# shellcheck source=bench/swarm_lib.sh
source "$ROOT/bench/swarm_lib.sh"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sl_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# The attack mix of ATTACKERS peers: 3/8 request floods, 1/8 handshake floods, 3/16 slow-loris,
# 3/16 rebanned, the rest corrupt. Each mode gets its own range of source addresses.
attack() {
  local port=$1 torrent=$2 out=$3 n=$ATTACKERS
  local flood=$((n * 3 / 8)) hs=$((n / 8)) loris=$((n * 3 / 16)) reban=$((n * 3 / 16))
  local corrupt=$((n - flood - hs - loris - reban)) src=2 m count
  : > "$out"
  for m in "request-flood:$flood" "handshake-flood:$hs" "slow-loris:$loris" "rebanned:$reban" "corrupt:$corrupt"; do
    count=${m#*:}
    [ "$count" -gt 0 ] || continue
    "$REL/hostile-peer" --target "127.0.0.1:$port" --torrent "$torrent" --mode "${m%%:*}" \
      --peers "$count" --secs "$SECS" --source "127.0.$((src / 256)).$((src % 256))" >> "$out" 2>&1 &
    PIDS+=($!)
    src=$((src + count))
  done
}

# honest PORT TORRENT DIR: one libtorrent download from the victim; prints MiB/s (0 on failure).
honest() {
  local port=$1 torrent=$2 dir=$3 line
  rm -rf "$dir"; mkdir -p "$dir"
  line=$(DL_TIMEOUT=$((SECS * 3)) $PY "$LT_PEER" download "$torrent" "$dir" "127.0.0.1:$port" | grep '^done' || true)
  if [ -z "$line" ] || ! cmp -s "$WORK/seed/data.bin" "$dir/data.bin"; then echo 0; return; fi
  awk -v s="${line#done }" -v m="$SIZE_MIB" 'BEGIN {printf "%.1f", m / s}'
}

# run_victim NAME PID PORT TORRENT: the measurement for one victim already seeding.
run_victim() {
  local name=$1 pid=$2 port=$3 torrent=$4
  local calm before peak after attacked t rss alive ratio
  calm=$(honest "$port" "$torrent" "$WORK/calm-$name")
  sleep 1
  before=$(rss_kib "$pid")
  peak=$before
  attack "$port" "$torrent" "$WORK/attack-$name.txt"
  local start end
  start=$(date +%s)
  end=$((start + SECS))
  # The honest download starts once the attack is under way.
  sleep $((SECS / 6))
  honest "$port" "$torrent" "$WORK/attacked-$name" > "$WORK/attacked-$name.rate" &
  local hpid=$!
  while [ "$(date +%s)" -lt "$end" ] || kill -0 "$hpid" 2>/dev/null; do
    rss=$(rss_kib "$pid"); [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    sleep 0.5
  done
  wait "$hpid" || true
  attacked=$(cat "$WORK/attacked-$name.rate")
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  after=$(rss_kib "$pid")
  kill -0 "$pid" 2>/dev/null && alive=yes || alive=CRASHED
  ratio=$(awk -v a="$attacked" -v c="$calm" 'BEGIN {printf "%.2f", (c > 0 ? a / c : 0)}')
  printf '| %s | %d | %d | %d | %.1f | %s | %s | %s | %s |\n' "$name" $((before / 1024)) \
    $((peak / 1024)) $((after / 1024)) "$(awk -v p="$peak" -v b="$before" 'BEGIN {print (p - b) / 1024}')" \
    "$calm" "$attacked" "$ratio" "$alive"
  sed "s/^/    $name attackers: /" "$WORK/attack-$name.txt" >&2
}

mkdir -p "$WORK/seed"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/seed/data.bin"
$PY "$LT_PEER" create "$WORK/seed/data.bin" "$WORK/data.torrent" $((1024 * 1024))

echo "hostile peers: $ATTACKERS attackers for ${SECS}s, ${SIZE_MIB} MiB file, 1 MiB pieces; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| victim | RSS before MiB | peak MiB | after MiB | growth MiB | honest MiB/s unattacked | attacked | ratio | survived |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$RUNS"); do
  # bthelper seeding.
  "$REL/bthelper" download "$WORK/data.torrent" -o "$WORK/seed" --state-dir "$WORK/bh-state" --seed \
    > "$WORK/bthelper.out" 2>&1 &
  BH=$!; SL_PIDS+=("$BH")
  sl_wait_for "$WORK/bthelper.out" "seeding" 120 || { cat "$WORK/bthelper.out" >&2; exit 1; }
  port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$WORK/bthelper.out" | head -1)
  run_victim "bthelper seeding (run $r)" "$BH" "$port" "$WORK/data.torrent"
  sl_cleanup

  # btpublish, registered at a local tracker; the torrent is the tracker's.
  # At its defaults: no upload cap.
  sl_start_tracker "$WORK/tracker-$r"
  "$REL/btpublish" --location "http://127.0.0.1:$SL_TPORT/publish/" --ip 127.0.0.1 --port 0 \
    "$WORK/seed/data.bin" > "$WORK/pub-$r.out" 2>&1 &
  PUB=$!; SL_PIDS+=("$PUB")
  sl_wait_for "$WORK/pub-$r.out" ": http://127.0.0.1:$SL_TPORT/" 120 || { cat "$WORK/pub-$r.out" >&2; exit 1; }
  port=$(sed -n 's/.*listening for peers on port \([0-9]*\).*/\1/p' "$WORK/pub-$r.out" | head -1)
  curl -sf -o "$WORK/pub-$r.torrent" "http://127.0.0.1:$SL_TPORT/data.bin.torrent"
  run_victim "btpublish (run $r)" "$PUB" "$port" "$WORK/pub-$r.torrent"
  sl_cleanup

  # libtorrent seeding, the reference.
  $PY "$LT_PEER" seed "$WORK/data.torrent" "$WORK/seed" > "$WORK/lt.out" 2>&1 &
  LT=$!; SL_PIDS+=("$LT")
  sl_wait_for "$WORK/lt.out" "seeding" 60 || { cat "$WORK/lt.out" >&2; exit 1; }
  port=$(sed -n 's/^port \([0-9]*\)/\1/p' "$WORK/lt.out" | head -1)
  run_victim "libtorrent seeding (run $r)" "$LT" "$port" "$WORK/data.torrent"
  sl_cleanup
done
