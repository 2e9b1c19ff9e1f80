#!/usr/bin/env bash
# Repeated, interleaved rounds of one tracker mode: bttrack and opentracker alternate, so both see
# the same background load (a shared 2-core machine moves single runs by 10-20%). Per round it
# prints the tracker's CPU per request (utime+stime from /proc/PID/stat), its kernel part, the
# ksoftirqd CPU per request over the run (softirq work the tracker's CPU figure may not carry)
# and the load average. bench/tracker.sh is the full run; this is for comparing changes.
#
#   bench/tracker_rounds.sh [ROUNDS] [SECONDS] [close|keepalive|udp]
#   BTTRACK=/path/to/other/bttrack BTTRACK_ARGS="--http-threads 2" bench/tracker_rounds.sh 3 6 close
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}; DUR=${2:-6}; MODE=${3:-close}
BTTRACK=${BTTRACK:-$PWD/target/release/bttrack}
UDP_LOAD=${UDP_LOAD:-$PWD/target/release/examples/udp_load}
TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/swarmlink-rounds.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
for i in $(seq 1 1000); do printf '%040x\n' "$i"; done > "$WORK/wl.txt"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ksoftirqd_ticks() { for k in $(pgrep ksoftirqd); do awk '{print $14+$15}' "/proc/$k/stat"; done | awk '{s+=$1} END {print s+0}'; }
for r in $(seq "$ROUNDS"); do
  for name in bttrack opentracker; do
    port=$(free_port)
    if [ "$name" = opentracker ]; then
      opentracker -i 127.0.0.1 -p "$port" -P "$port" -w "$WORK/wl.txt" > /dev/null 2>&1 &
    else
      # shellcheck disable=SC2086
      "$BTTRACK" ${BTTRACK_ARGS:-} --bind 127.0.0.1 --port "$port" --open --log - \
        --peer-timeout 7200 --max-numwant 50 > /dev/null 2>&1 &
    fi
    PID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/scrape?info_hash=%00" && break; sleep 0.05; done
    sleep 0.3
    k0=$(ksoftirqd_ticks); read -r c0 s0 < <(awk '{print $14+$15, $15}' "/proc/$PID/stat")
    if [ "$MODE" = udp ]; then
      reqs=$("$UDP_LOAD" "127.0.0.1:$port" "$DUR" 2 32)
    else
      out=$(WRK_CLOSE=$([ "$MODE" = close ] && echo 1 || echo 0) wrk -t2 -c64 -d"${DUR}s" \
        -s bench/tracker_announce.lua "http://127.0.0.1:$port" 2>&1)
      reqs=$(echo "$out" | awk '/requests in/{print $1}')
    fi
    read -r c1 s1 < <(awk '{print $14+$15, $15}' "/proc/$PID/stat"); k1=$(ksoftirqd_ticks)
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    python3 -c "
r, t, k, q = $reqs, ($c1 - $c0) / $TCK, ($s1 - $s0) / $TCK, ($k1 - $k0) / $TCK
print('%-11s $MODE round $r: %8d req %5.2f CPU s %6.2f us/req (%5.2f kernel) ksoftirqd %4.2f us/req, load %s'
      % ('$name', r, t, t / r * 1e6, k / r * 1e6, q / r * 1e6, open('/proc/loadavg').read().split()[0]))"
  done
done
