#!/usr/bin/env bash
# Tracker benchmark: bttrack against Debian's opentracker in the same run, on loopback.
#  1. Announces per tracker CPU-second (CPU = utime+stime of the tracker from /proc/PID/stat,
#     fields 14+15, over the wrk run): wrk -t2 -c64 -d${DURATION}s with tracker_announce.lua
#     (1000 whitelisted hashes, random peer id/port), keep-alive and connection-per-request.
#  2. Memory per held peer: RSS after FILL_N distinct peers (tracker_fill.lua) minus RSS before,
#     divided by the number of peers the tracker reports holding (summed scrape counts).
# Prints a table and writes bench/results/tracker.md.
#
#  3. UDP (BEP 15) announces per tracker CPU-second: the udp_load example (2 threads, 32 in
#     flight each, same hashes) against both trackers' UDP side.
#
#  4. A million swarms (bench/tracker_million.sh): 1,000,000 swarms x 10 IPv4 peers over UDP,
#     memory per peer and announces per CPU-second at that size, MILLION_RUNS alternating runs
#     (MILLION_SWARMS=0 leaves it out).
#
#   cargo build --release -p bttrack --bin bttrack --example udp_load --example udp_fill && bench/tracker.sh
#   DURATION=5 FILL_N=200000 bench/tracker.sh     # a quicker look
#   MODES=udp FILL_N=0 bench/tracker.sh            # one mode, no memory run, results file untouched
#   bench/tracker_rounds.sh 5 6 close               # repeated interleaved rounds (to compare changes)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10}
FILL_N=${FILL_N:-1000000}
MODES=${MODES:-keepalive close udp}
BTTRACK=${BTTRACK:-$ROOT/target/release/bttrack}
UDP_LOAD=${UDP_LOAD:-$ROOT/target/release/examples/udp_load}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/swarmlink-trackbench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BTTRACK" ] && [ -x "$UDP_LOAD" ] || { echo "build first: cargo build --release -p bttrack --bin bttrack --example udp_load --example udp_fill" >&2; exit 1; }
MILLION_SWARMS=${MILLION_SWARMS:-1000000}
MILLION_RUNS=${MILLION_RUNS:-3}
command -v opentracker >/dev/null && command -v wrk >/dev/null || { echo "needs opentracker and wrk (scripts/install-test-deps.sh)" >&2; exit 1; }
TCK=$(getconf CLK_TCK)

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
wait_http() { for _ in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; exit 1; }

for i in $(seq 1 1000); do printf '%040x\n' "$i"; done > "$WORK/wl.txt"

# start NAME -> sets PID and URL
start() {
  local port; port=$(free_port)
  case $1 in
    bttrack)
      "$BTTRACK" --bind 127.0.0.1 --port "$port" --open --log - --peer-timeout 7200 \
        --max-numwant 50 > "$WORK/bttrack.out" 2>&1 &
      ;;
    bttrack-weblog)
      "$BTTRACK" --bind 127.0.0.1 --port "$port" --open --log "$WORK/weblog" --peer-timeout 7200 \
        --max-numwant 50 > "$WORK/bttrack.out" 2>&1 &
      ;;
    opentracker)
      opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$WORK" -w /wl.txt > /dev/null 2>&1 &
      ;;
  esac
  PID=$!
  PIDS+=("$PID")
  URL="http://127.0.0.1:$port"
  wait_http "$URL/scrape?info_hash=%00"
  sleep 0.5  # let opentracker finish reading its whitelist
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

# bench NAME MODE(keepalive|close) -> "announces cpu_s rate errors"
bench() {
  local name=$1 mode=$2 close=0
  [ "$mode" = close ] && close=1
  start "$name"
  local c0 c1 s0 s1 out reqs errs
  c0=$(cpu_ticks "$PID"); s0=$(sys_ticks "$PID")
  if [ "$mode" = udp ]; then
    reqs=$("$UDP_LOAD" "127.0.0.1:${URL##*:}" "$DURATION" 2 32)
    errs=0
  else
    out=$(WRK_CLOSE=$close wrk -t2 -c64 -d"${DURATION}s" -s bench/tracker_announce.lua "$URL" 2>&1)
    reqs=$(echo "$out" | awk '/requests in/{print $1}')
    errs=$(echo "$out" | awk '/Non-2xx/{print $NF}'); errs=${errs:-0}
    local sock; sock=$(echo "$out" | awk '/Socket errors/{print}')
    [ -n "$sock" ] && echo "  ($name $mode: $sock)" >&2
  fi
  c1=$(cpu_ticks "$PID"); s1=$(sys_ticks "$PID")
  stop
  $PY -c "
r, e, t, k = $reqs, $errs, ($c1 - $c0) / $TCK, ($s1 - $s0) / $TCK
ok = r - e
print(ok, '%.2f' % t, int(ok / t) if t else 0, e, '%d%%' % (100 * k / t if t else 0))"
}

# memory NAME -> "peers rss_before_kib rss_after_kib bytes_per_peer"
memory() {
  start "$1"
  local before after held
  before=$(rss_kib "$PID")
  # Enough requests to cover FILL_N at the rates seen (opentracker ~30-40k/s closes each time).
  WRK_THREADS=2 FILL_N=$FILL_N wrk -t2 -c32 -d"$((FILL_N / 12000 + 5))s" -s bench/tracker_fill.lua "$URL" > "$WORK/fill.out" 2>&1
  after=$(rss_kib "$PID")
  held=$($PY bench/tracker_count.py "$URL")
  stop
  $PY -c "print($held, $before, $after, '%.1f' % (($after - $before) * 1024 / max($held, 1)))"
}

echo "announce throughput: wrk -t2 -c64 -d${DURATION}s (udp: udp_load 2x32), 1000 hashes, numwant 50" >&2
declare -A R
for mode in $MODES; do
  for name in bttrack opentracker; do
    R[$name.$mode]=$(bench "$name" "$mode")
    echo "  $name $mode: ${R[$name.$mode]}" >&2
  done
  echo "  ratio $mode: $($PY -c "print('%.2f' % ($(echo "${R[bttrack.$mode]}" | awk '{print $3}') / $(echo "${R[opentracker.$mode]}" | awk '{print $3}')))")x" >&2
done
# A partial run (some modes, or no memory run) prints its figures and leaves the results file alone.
if [ "$MODES" != "keepalive close udp" ] || [ "$FILL_N" = 0 ]; then exit 0; fi
R[bttrack-weblog.keepalive]=$(bench bttrack-weblog keepalive)
echo "  bttrack with weblog keepalive: ${R[bttrack-weblog.keepalive]}" >&2
echo "memory: $FILL_N distinct peers" >&2
M_BT=$(memory bttrack); echo "  bttrack: $M_BT" >&2
M_OT=$(memory opentracker); echo "  opentracker: $M_OT" >&2
MILLION=
if [ "$MILLION_SWARMS" != 0 ]; then
  MILLION=$(SWARMS=$MILLION_SWARMS RUNS=$MILLION_RUNS BTTRACK=$BTTRACK bench/tracker_million.sh)
fi

rate() { echo "${R[$1]}" | awk '{print $3}'; }
ratio() { $PY -c "print('%.2f' % ($1 / $2))"; }
mkdir -p bench/results
{
  echo "# Tracker benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, loopback)"
  echo
  echo "wrk -t2 -c64 -d${DURATION}s, announces over 1000 hashes with random peer id and port, numwant 50."
  echo "Rate = successful announces / tracker CPU seconds (utime+stime from /proc/PID/stat)."
  echo
  echo "| tracker | mode | announces | tracker CPU s | announces per CPU-second | non-2xx | kernel share of CPU |"
  echo "|---|---|---|---|---|---|---|"
  for key in bttrack.keepalive opentracker.keepalive bttrack.close opentracker.close bttrack.udp opentracker.udp bttrack-weblog.keepalive; do
    read -r ok cpu rt errs sys <<< "${R[$key]}"
    echo "| ${key%.*} | ${key#*.} | $ok | $cpu | $rt | $errs | $sys |"
  done
  echo
  echo "Ratio bttrack / opentracker: keep-alive $(ratio "$(rate bttrack.keepalive)" "$(rate opentracker.keepalive)")x," \
       "connection per request $(ratio "$(rate bttrack.close)" "$(rate opentracker.close)")x," \
       "UDP $(ratio "$(rate bttrack.udp)" "$(rate opentracker.udp)")x" \
       "(opentracker closes every connection after its reply in both HTTP modes)."
  echo
  echo "Memory per held peer (RSS after $FILL_N distinct IPv4 peers minus RSS empty, / peers held):"
  echo
  echo "| tracker | peers held | RSS empty KiB | RSS full KiB | bytes per peer |"
  echo "|---|---|---|---|---|"
  read -r h b a p <<< "$M_BT"; echo "| bttrack | $h | $b | $a | $p |"
  read -r h b a p <<< "$M_OT"; echo "| opentracker | $h | $b | $a | $p |"
  if [ -n "$MILLION" ]; then
    echo
    echo "## A million swarms (bench/tracker_million.sh)"
    echo
    echo "$MILLION_SWARMS swarms x 10 IPv4 peers filled over UDP (numwant 0), then 2,000,000 re-announces of held"
    echo "peers (numwant 50); RSS growth / peers held; announces / tracker CPU-second; bttrack and opentracker alternating."
    echo
    echo "$MILLION"
  fi
} > bench/results/tracker.md
cat bench/results/tracker.md
