#!/usr/bin/env bash
# The daemon with 2,000 torrents (issue 20): N complete torrents, their data present, added to one
# client and seeding; then the client is restarted and measured:
#   - start-up: from starting the process to every torrent seeding (polled every 0.1 s through
#     the client's own interface), and whether that re-read the data (bytes read from /proc/PID/io,
#     states seen on the way);
#   - peak RSS (VmHWM of the restarted process) and steady RSS (VmRSS after the idle window);
#   - open file descriptors and threads after the idle window;
#   - how long the first process took to stop on SIGTERM (saving its resume data);
#   - idle CPU: utime+stime (/proc/PID/stat) over IDLE seconds with nothing to do, SETTLE seconds
#     after the last torrent reached seeding (nobody polls it meanwhile).
# Contestants, one after the other in the same run, each at its defaults and its own state:
#   bthelper daemon       (torrents added over its socket: `add` with `save_dir`, see PROTOCOL.md)
#   transmission-daemon   (`transmission-remote PORT -a *.torrent`, -w the data directory)
#   rqbit server          (POST /torrents?overwrite=true&output_folder=DATA to its HTTP API); at
#                         its defaults it re-checks every torrent after a restart
#   rqbit --fastresume    (optional, CONTESTANTS; its experimental flag that skips the re-check)
# Goal: bthelper's start-up, RSS and idle CPU each at most half of the better of transmission and
# rqbit (defaults). Prints the table; a full run (N=2000, IDLE=60) writes bench/results/scale.md.
#
#   bench/scale.sh [RUNS]       (from the repository root; RUNS>1 alternates the order, medians)
#   env: N=2000 IDLE=60 SETTLE=10 CACHE=~/.cache/swarmlink-bench/scale-N
#        CONTESTANTS="bthelper transmission rqbit"   (add rqbit-fastresume for the extra row)
#
# The torrents are made once into CACHE (about 7.5 GiB of real random data for N=2000: torrent 0
# is 1 GiB, 1-3 are 256 MiB, 4-19 are 64 MiB, the rest 1-4 MiB; every third one holds 2-5 files)
# and reused by every client and every run (they only read it). No tracker in the torrents: the
# DHT (on at everyone's defaults) is the only peer source, and in the benchmark's own network
# namespace it has no route. Every process is started here and stopped by its own PID.
#
# Needs: cargo build --release -p bthelper; transmission-daemon and transmission-remote
# (Debian's transmission-daemon, transmission-cli); rqbit (cargo install rqbit --locked).
set -euo pipefail
. "$(dirname "$0")/own_network.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-1}
N=${N:-2000}
IDLE=${IDLE:-60}
SETTLE=${SETTLE:-10}
ADD_TIMEOUT=${ADD_TIMEOUT:-1800}     # adding N torrents and checking their data, per client
START_TIMEOUT=${START_TIMEOUT:-900}  # a restart to every torrent seeding
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarmlink-bench/scale-$N}
CONTESTANTS=${CONTESTANTS:-bthelper transmission rqbit}
BTHELPER=${BTHELPER:-$ROOT/target/release/bthelper}
RQBIT=${RQBIT:-$(command -v rqbit || echo "$HOME/.cargo/bin/rqbit")}
PY=python3
LIB=$ROOT/bench/scale_lib.py
TCK=$(getconf CLK_TCK)

for c in $CONTESTANTS; do
  case $c in
    bthelper) [ -x "$BTHELPER" ] || { echo "build it first: cargo build --release -p bthelper" >&2; exit 1; } ;;
    transmission) command -v transmission-daemon > /dev/null && command -v transmission-remote > /dev/null ||
      { echo "transmission-daemon and transmission-remote are missing (apt install transmission-daemon transmission-cli)" >&2; exit 1; } ;;
    rqbit|rqbit-fastresume) [ -x "$RQBIT" ] || { echo "rqbit is missing: cargo install rqbit --locked" >&2; exit 1; } ;;
    *) echo "unknown contestant $c" >&2; exit 1 ;;
  esac
done

WORK=$(mktemp -d /tmp/swarmlink-scale.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then stop_pid "$PID" || true; fi
  rm -rf "$WORK"
}
# stop_pid PID: SIGTERM (each client saves its resume data on it), up to STOP_TIMEOUT s, then
# SIGKILL. Sets STOP_SECS to how long it took.
STOP_TIMEOUT=${STOP_TIMEOUT:-300}
stop_pid() {
  local t0
  t0=$(date +%s.%N)
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq $((STOP_TIMEOUT * 10))); do
    kill -0 "$1" 2>/dev/null || { PID=; STOP_SECS=$(echo "$(date +%s.%N) - $t0" | bc); return 0; }
    sleep 0.1
  done
  STOP_SECS=$STOP_TIMEOUT+
  echo "  pid $1 did not stop in $STOP_TIMEOUT s: killed" >&2
  kill -KILL "$1" 2>/dev/null || true
  PID=
  return 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> the $N torrents (made once into $CACHE)" >&2
$PY "$LIB" make "$CACHE" "$N" >&2
DATA=$CACHE/data
TDIR=$CACHE/torrents
TOTAL_BYTES=$(awk '{print $3}' "$CACHE/.complete-$N")
# The data is read once so every client starts from a warm page cache (the machine has room).
cat "$DATA"/* "$DATA"/*/* > /dev/null 2>&1 || true

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
read_mib() { awk '/^rchar:/ {printf "%.0f", $2 / 1048576}' "/proc/$1/io"; }

# start WHO DIR PHASE: starts the client WHO with its state in DIR, sets PID.
start() {
  local who=$1 dir=$2
  case $who in
    bthelper)
      SWARMLINK_HOME=$dir setsid "$BTHELPER" daemon >> "$dir.log" 2>&1 &
      PID=$! ;;
    transmission)
      setsid transmission-daemon -f -g "$dir" -p "$PORT" -w "$DATA" >> "$dir.log" 2>&1 &
      PID=$! ;;
    rqbit|rqbit-fastresume)
      local fast=()
      [ "$who" = rqbit-fastresume ] && fast=(--fastresume)
      XDG_CACHE_HOME=$dir/xdg-cache XDG_CONFIG_HOME=$dir/xdg-config XDG_DATA_HOME=$dir/xdg-data \
        setsid "$RQBIT" --http-api-listen-addr "127.0.0.1:$PORT" server start \
        --persistence-location "$dir/session" "${fast[@]}" "$dir/out" >> "$dir.log" 2>&1 &
      PID=$! ;;
  esac
}

# wait_all WHO DIR TIMEOUT: until every torrent is seeding; prints the helper's summary line.
wait_all() {
  local who=$1 dir=$2 t=$3
  case $who in
    bthelper) # the socket appears once the daemon listens
      for _ in $(seq 600); do [ -S "$dir/run/daemon.sock" ] && break; sleep 0.05; done
      timeout $((t + 30)) $PY "$LIB" bthelper-wait "$dir/run/daemon.sock" "$N" "$t" ;;
    transmission) timeout $((t + 30)) $PY "$LIB" transmission-wait "$PORT" "$N" "$t" ;;
    rqbit*) timeout $((t + 30)) $PY "$LIB" rqbit-wait "$PORT" "$N" "$t" ;;
  esac
}

add_all() {
  local who=$1 dir=$2
  case $who in
    bthelper)
      for _ in $(seq 600); do [ -S "$dir/run/daemon.sock" ] && break; sleep 0.05; done
      timeout 600 $PY "$LIB" bthelper-add "$dir/run/daemon.sock" "$DATA" "$TDIR" ;;
    transmission)
      for _ in $(seq 600); do transmission-remote "$PORT" -l > /dev/null 2>&1 && break; sleep 0.05; done
      # One transmission-remote, one `-a` per file (after one `-a` it takes only the first file).
      local t0 f args=()
      for f in "$TDIR"/*.torrent; do args+=(-a "$f"); done
      t0=$(now)
      timeout 600 transmission-remote "$PORT" "${args[@]}" > "$dir.add.log" 2>&1
      echo "added $(grep -c success "$dir.add.log" || true) torrents in $(echo "$(now) - $t0" | bc) s" ;;
    rqbit*)
      for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
      timeout 1200 $PY "$LIB" rqbit-add "$PORT" "$DATA" "$TDIR" ;;
  esac
}

# contestant WHO RUN: appends "startup peak_kib steady_kib idle_ticks fds threads read_mib rehash"
# to RES[WHO] (runs in this shell, so the EXIT trap knows PID).
declare -A RES
contestant() {
  local who=$1 run=$2 dir="$WORK/$1-$2" t0 t1 line
  mkdir -p "$dir"
  PORT=$(free_port)
  echo "==> $who (run $run): adding $N torrents" >&2
  start "$who" "$dir"
  add_all "$who" "$dir" | sed 's/^/    /' >&2 || { echo "    $who: adding failed" >&2; stop_pid "$PID"; return 1; }
  wait_all "$who" "$dir" "$ADD_TIMEOUT" | sed 's/^/    /' >&2 || { echo "    $who: not all seeding after adding" >&2; stop_pid "$PID"; return 1; }
  echo "    first process: peak RSS $(( $(status_kib "$PID" VmHWM) / 1024 )) MiB" >&2
  stop_pid "$PID" || { echo "    $who: killed, its resume data may be incomplete" >&2; }
  local stop_secs=$STOP_SECS
  echo "    stopped (SIGTERM to exit) in $stop_secs s" | sed 's/\(\.[0-9]\)[0-9]* s$/\1 s/' >&2
  sync
  echo "==> $who (run $run): restart to all seeding" >&2
  t0=$(now)
  start "$who" "$dir"
  line=$(wait_all "$who" "$dir" "$START_TIMEOUT") || { echo "    $line" >&2; stop_pid "$PID"; return 1; }
  t1=$(now)
  echo "    $line" >&2
  local startup read rehash=no
  startup=$(echo "$t1 - $t0" | bc -l)
  read=$(read_mib "$PID")
  # A re-hash reads the data (a quarter of it is already far past anything else a client reads)
  # or shows a checking state on the way.
  if [ "$read" -gt $((TOTAL_BYTES / 1048576 / 4)) ] || echo "$line" | grep -Eqi 'check|initializ'; then rehash=yes; fi
  sleep "$SETTLE"
  local c0 c1 l0
  l0=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(cpu_ticks "$PID")
  sleep "$IDLE"
  c1=$(cpu_ticks "$PID")
  local peak steady fds threads
  peak=$(status_kib "$PID" VmHWM)
  steady=$(status_kib "$PID" VmRSS)
  threads=$(status_kib "$PID" Threads)
  fds=$(find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "    start-up $(printf %.2f "$startup") s, read $read MiB, peak $((peak / 1024)) MiB, steady $((steady / 1024)) MiB, idle $((c1 - c0)) ticks in $IDLE s (load ${l0} -> $(cut -d' ' -f1 /proc/loadavg)), $fds fds, $threads threads" >&2
  stop_pid "$PID" || true
  rm -rf "$dir"
  RES[$who]="${RES[$who]:-}${RES[$who]:+;}$startup $peak $steady $((c1 - c0)) $fds $threads $read $rehash $stop_secs"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
read -r -a ORDER <<< "$CONTESTANTS"
for r in $(seq "$RUNS"); do
  n=${#ORDER[@]}
  for i in $(seq 0 $((n - 1))); do
    who=${ORDER[$(( (i + r - 1) % n ))]}
    contestant "$who" "$r" || echo "    $who failed in run $r" >&2
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# col WHO K: the median over the runs of field K of WHO's results ("" when it never finished).
col() {
  [ -n "${RES[$1]:-}" ] || return 0
  local vals
  vals=$(tr ';' '\n' <<< "${RES[$1]}" | awk -v k="$2" '{print $k}')
  # Field 8 (re-hash yes/no) and a stop that had to be killed ("300+") are listed, not averaged.
  if [ "$2" = 8 ] || grep -q '+' <<< "$vals"; then sort -u <<< "$vals" | paste -sd/; else median $vals; fi
}
fmt_row() { # WHO
  local w=$1
  [ -n "${RES[$w]:-}" ] || { echo "| $w | failed | | | | | | | |"; return; }
  awk -v w="$w" -v s="$(col "$w" 1)" -v p="$(col "$w" 2)" -v st="$(col "$w" 3)" -v c="$(col "$w" 4)" \
      -v f="$(col "$w" 5)" -v th="$(col "$w" 6)" -v rd="$(col "$w" 7)" -v rh="$(col "$w" 8)" \
      -v sp="$(col "$w" 9)" -v idle="$IDLE" -v tck="$TCK" 'BEGIN {
    if (sp ~ /^[0-9.]+$/) sp = sprintf("%.1f", sp)
    printf "| %s | %.2f | %.1f | %.1f | %d (%.2f%%) | %d | %d | %d (%s) | %s |\n",
      w, s, p / 1024, st / 1024, c, c * 100 / tck / idle, f, th, rd, rh, sp }'
}
# ratio K: bthelper's median of field K over the better (smaller) of transmission's and rqbit's.
ratio() {
  local a b c
  a=$(col bthelper "$1"); b=$(col transmission "$1"); c=$(col rqbit "$1")
  awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {
    if (b == "" && c == "") m = ""; else if (b == "") m = c; else if (c == "") m = b; else m = (b + 0 < c + 0 ? b : c);
    if (a == "" || m == "") print "n/a"; else if (m + 0 == 0) print (a + 0 == 0 ? "equal (0)" : "n/a (0)");
    else printf "%.2fx", a / m }'
}

TABLE="| client | start-up to all seeding s | peak RSS MiB | steady RSS MiB | idle CPU ticks in ${IDLE} s (% of a core) | open fds | threads | MiB read at start-up (re-hash?) | stop (SIGTERM to exit) s |
|---|---|---|---|---|---|---|---|---|"
for w in "${ORDER[@]}"; do TABLE+=$'\n'"$(fmt_row "$w")"; done
RATIOS="| bthelper / better of transmission, rqbit | ratio | goal |
|---|---|---|
| start-up to all seeding | $(ratio 1) | <= 0.5x |
| peak RSS | $(ratio 2) | <= 0.5x |
| steady RSS | $(ratio 3) | <= 0.5x |
| idle CPU | $(ratio 4) | <= 0.5x |
| open fds | $(ratio 5) | |"
echo
echo "$N torrents, $(awk -v b="$TOTAL_BYTES" 'BEGIN {printf "%.2f GiB", b / 1073741824}'), $RUNS run(s), medians; load average before / after: $LOAD_BEFORE / $LOAD_AFTER"
echo "$TABLE"
echo
echo "$RATIOS"

if [ "$N" = 2000 ] && [ "$IDLE" = 60 ] && [ -z "${NO_RESULTS:-}" ]; then
  ver() { "$@" 2>/dev/null | head -1 || true; }
  REV=$(git describe --always --dirty 2>/dev/null || echo "?")   # before the results file changes
  {
    echo "# 2,000 torrents in one daemon (bench/scale.sh)"
    echo
    echo "Run $STARTED to $(date -u +%H:%MZ), $RUNS run(s) (medians), in the benchmark's own network namespace${BENCH_IN_NETNS:+ (loopback only)}."
    echo
    echo "- machine: $(awk -F: '/model name/ { sub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
    echo "- load average before / after: $LOAD_BEFORE / $LOAD_AFTER"
    echo "- Swarmlink $REV, $(transmission-daemon --version 2>&1 | head -1), rqbit $(ver "$RQBIT" --version | awk '{print $NF}')"
    echo "- $N torrents, $(awk -v b="$TOTAL_BYTES" 'BEGIN {printf "%.2f GiB", b / 1073741824}') of real data: 1 x 1 GiB, 3 x 256 MiB, 16 x 64 MiB, the rest 1-4 MiB; every third (and every other large one) multi-file"
    echo
    echo "$TABLE"
    echo
    echo "$RATIOS"
  } > bench/results/scale.md
  echo "wrote bench/results/scale.md" >&2
fi
