#!/usr/bin/env bash
# A million swarms: bttrack against Debian's opentracker in the same run, on loopback, over UDP.
# Per run and tracker (RUNS runs, bttrack and opentracker alternating):
#  1. start it empty (opentracker with a whitelist of the SWARMS hashes, already loaded), RSS;
#  2. fill: every one of PEERS peers (127.0.0.1, ports 1..PEERS) of every one of SWARMS swarms
#     announces once (udp_fill fill, numwant 0): tracker CPU over the fill / announces;
#  3. RSS again; memory per peer = RSS growth / peers held (summed UDP scrapes of every swarm);
#  4. AGAIN re-announces of held peers with numwant 50 (udp_fill again): tracker CPU / announces.
# CPU = utime+stime from /proc/PID/stat (fields 14+15) / CLK_TCK. Prints each run, then the
# medians and the ratios as markdown on stdout (bench/tracker.sh puts them in
# bench/results/tracker.md).
#
#   cargo build --release -p bttrack --bin bttrack --example udp_fill && bench/tracker_million.sh
#   SWARMS=100000 RUNS=1 bench/tracker_million.sh      # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SWARMS=${SWARMS:-1000000}
PEERS=${PEERS:-10}
AGAIN=${AGAIN:-2000000}
RUNS=${RUNS:-3}
BTTRACK=${BTTRACK:-$ROOT/target/release/bttrack}
UDP_FILL=${UDP_FILL:-$ROOT/target/release/examples/udp_fill}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/swarmlink-million.XXXXXX)
chmod 755 "$WORK"
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BTTRACK" ] && [ -x "$UDP_FILL" ] || { echo "build first: cargo build --release -p bttrack --bin bttrack --example udp_fill" >&2; exit 1; }
command -v opentracker >/dev/null || { echo "needs opentracker (scripts/install-test-deps.sh)" >&2; exit 1; }
TCK=$(getconf CLK_TCK)

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }

$PY -c "
import sys
w = sys.stdout.write
for i in range(1, $SWARMS + 1):
    w('%040x\n' % i)" > "$WORK/wl.txt"

# start NAME -> sets PID and ADDR, once the tracker answers a UDP scrape
start() {
  local port; port=$(free_port)
  case $1 in
    bttrack)
      "$BTTRACK" --bind 127.0.0.1 --port "$port" --open --log - \
        --peer-timeout 7200 --max-numwant 50 > "$WORK/bttrack.out" 2>&1 &
      ;;
    opentracker)
      opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$WORK" -w /wl.txt > /dev/null 2>&1 &
      ;;
  esac
  PID=$!
  ADDR="127.0.0.1:$port"
  for _ in $(seq 100); do
    timeout 5 "$UDP_FILL" "$ADDR" count 1 > /dev/null 2>&1 && break
    sleep 0.2
  done
  # opentracker reads its whitelist in a thread: wait until its RSS stops growing.
  local last=0 now
  for _ in $(seq 100); do
    now=$(rss_kib "$PID"); [ "$now" = "$last" ] && break; last=$now; sleep 0.5
  done
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }

# run NAME -> "held rss_empty_kib rss_full_kib bytes_per_peer fill_rate again_rate errors"
run() {
  start "$1"
  local r0 r1 c0 c1 c2 fill again held
  r0=$(rss_kib "$PID")
  c0=$(cpu_ticks "$PID")
  fill=$("$UDP_FILL" "$ADDR" fill "$SWARMS" "$PEERS")
  c1=$(cpu_ticks "$PID")
  r1=$(rss_kib "$PID")
  held=$("$UDP_FILL" "$ADDR" count "$SWARMS")
  c2=$(cpu_ticks "$PID")
  again=$("$UDP_FILL" "$ADDR" again "$SWARMS" "$PEERS" "$AGAIN")
  local c3; c3=$(cpu_ticks "$PID")
  stop
  $PY -c "
fill_ok, fill_err = map(int, '$fill'.split())
again_ok, again_err = map(int, '$again'.split())
held, r0, r1 = $held, $r0, $r1
fill_cpu, again_cpu = ($c1 - $c0) / $TCK, ($c3 - $c2) / $TCK
print(held, r0, r1, '%.1f' % ((r1 - r0) * 1024 / max(held, 1)),
      int(fill_ok / fill_cpu) if fill_cpu else 0, int(again_ok / again_cpu) if again_cpu else 0,
      fill_err + again_err)"
}

echo "a million swarms: $SWARMS swarms x $PEERS IPv4 peers over UDP, then $AGAIN re-announces (numwant 50); $RUNS runs" >&2
declare -a BT OT
for r in $(seq "$RUNS"); do
  BT+=("$(run bttrack)"); echo "  run $r bttrack:     ${BT[-1]}" >&2
  OT+=("$(run opentracker)"); echo "  run $r opentracker: ${OT[-1]}" >&2
done
$PY - "${BT[@]}" -- "${OT[@]}" <<'EOF'
import statistics, sys
args = sys.argv[1:]
cut = args.index('--')
rows = {'bttrack': [a.split() for a in args[:cut]], 'opentracker': [a.split() for a in args[cut + 1:]]}
cols = ['peers held', 'RSS empty KiB', 'RSS full KiB', 'bytes per peer', 'fill announces per CPU-s',
        're-announces per CPU-s', 'error replies']
med = {k: [statistics.median(float(r[i]) for r in v) for i in range(len(cols))] for k, v in rows.items()}
print('| tracker (median of %d runs) | ' % len(rows['bttrack']) + ' | '.join(cols) + ' |')
print('|---' * (len(cols) + 1) + '|')
for k, m in med.items():
    print('| %s (million run) | ' % k + ' | '.join(('%.1f' % x if i == 3 else '%d' % x) for i, x in enumerate(m)) + ' |')
b, o = med['bttrack'], med['opentracker']
print()
print('bttrack / opentracker: memory per peer %.2fx, fill announces per CPU-second %.2fx, '
      're-announces per CPU-second %.2fx' % (b[3] / o[3], b[4] / o[4], b[5] / o[5]))
print()
print('Per run (bttrack | opentracker): bytes per peer ' + ', '.join(
    '%s | %s' % (x[3], y[3]) for x, y in zip(rows['bttrack'], rows['opentracker'])) +
    '; re-announces per CPU-s ' + ', '.join(
    '%s | %s' % (x[5], y[5]) for x, y in zip(rows['bttrack'], rows['opentracker'])))
EOF
