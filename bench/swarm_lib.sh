# A local swarm on 127.0.0.1: bttrack, one btpublish seeding a file, N `bthelper download`s.
# Sourced by bench/swarm.sh and scripts/demo.sh. Needs only bash, coreutils and awk (no python,
# no bc: the demo runs on a machine with nothing but the Rust toolchain).
#
# The caller sets BIN (the directory holding bttrack, btpublish, bthelper) and WORK (a scratch
# directory), and calls sl_cleanup from its EXIT trap: every process started here is recorded in
# SL_PIDS and stopped by its own PID.
#
# Byte counts come from the tracker's web log: every peer's final `event=stopped` announce
# carries its own `uploaded` and `downloaded` totals (BEP 3), so nothing needs instrumenting.

SL_PIDS=()
# Each process gets its own session, so a Ctrl-C at the terminal reaches only the calling script,
# whose trap then stops them in order (the publisher before the tracker that logs its totals).
SL_SETSID=$(command -v setsid || true)

sl_cleanup() {
  local p
  for p in "${SL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SL_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  SL_PIDS=()
}

# A TCP port on 127.0.0.1 that nothing answers on right now (callers retry if it is taken
# before they bind it).
sl_free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

sl_now() { date +%s.%N; }

# sl_wait_for FILE PATTERN SECONDS: waits until FILE has a line matching PATTERN.
sl_wait_for() {
  local deadline=$(($(date +%s) + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# sl_start_tracker DIR: bttrack on 127.0.0.1 (web log in DIR/tracker.log). Sets SL_TPORT.
sl_start_tracker() {
  local dir=$1 try pid
  mkdir -p "$dir"
  for try in 1 2 3 4 5; do
    SL_TPORT=$(sl_free_port)
    $SL_SETSID "$BIN/bttrack" --bind 127.0.0.1 --port "$SL_TPORT" --log "$dir/tracker.log" \
      --file "$dir/btstate" --dfile "$dir/dstate" > "$dir/tracker.out" 2>&1 &
    pid=$!
    SL_PIDS+=("$pid")
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      (exec 3<>"/dev/tcp/127.0.0.1/$SL_TPORT") 2>/dev/null && { SL_TRACKER_PID=$pid; return 0; }
      sleep 0.05
    done
  done
  echo "bttrack did not start:" >&2; cat "$dir/tracker.out" >&2
  return 1
}

# sl_start_publisher FILE RATE DIR: btpublish FILE at the tracker, capped at RATE (btpublish's
# --upload-rate syntax: 4M, 500K...). Waits until it is registered. Sets SL_PPORT (its peer port),
# SL_PUB_PID and SL_TORRENT_URL. Everything runs at its shipped defaults (a public torrent: the
# downloaders use the DHT, local discovery, PEX and encryption as a user gets them); extra
# btpublish flags can be given in SL_PUBLISH_ARGS (say why in the caller's output).
sl_start_publisher() {
  local file=$1 rate=$2 dir=$3 try
  mkdir -p "$dir"
  for try in 1 2 3; do
    SL_PPORT=$(sl_free_port)
    $SL_SETSID "$BIN/btpublish" --location "http://127.0.0.1:$SL_TPORT/publish/" --ip 127.0.0.1 \
      --port "$SL_PPORT" --upload-rate "$rate" ${SL_PUBLISH_ARGS:-} "$file" > "$dir/publisher.out" 2>&1 &
    SL_PUB_PID=$!
    SL_PIDS+=("$SL_PUB_PID")
    # Registered: it prints "NAME: http://tracker/NAME" (hashing a large file takes a while).
    local deadline=$(($(date +%s) + 600))
    while kill -0 "$SL_PUB_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
      if grep -q ": http://127.0.0.1:$SL_TPORT/" "$dir/publisher.out"; then
        SL_TORRENT_URL="http://127.0.0.1:$SL_TPORT/$(basename "$file").torrent"
        return 0
      fi
      sleep 0.1
    done
    grep -q "already in use" "$dir/publisher.out" || break
  done
  echo "btpublish did not register:" >&2; cat "$dir/publisher.out" >&2
  return 1
}

# sl_stop PID: SIGINT (a clean stop: the engine sends its `stopped` announce), then waits.
sl_stop() {
  kill -INT "$1" 2>/dev/null || return 0
  for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

# sl_start_leechers N URL DIR [EXTRA ARGS...]: N `bthelper download`s at once, in DIR/leech-I
# (out/, log, pid; `done` holds "EXIT_CODE START END" once it exits). They run as a user would
# run them: default settings (any SWARMLINK_NO_* or log filter in the caller's environment is
# dropped) and one default state directory for all (XDG_STATE_HOME=DIR/state).
sl_start_leechers() {
  local n=$1 url=$2 dir=$3 i d
  shift 3
  for i in $(seq "$n"); do
    d=$dir/leech-$i
    rm -rf "$d"; mkdir -p "$d/out"
  done
  rm -rf "$dir/state"
  for i in $(seq "$n"); do
    d=$dir/leech-$i
    (
      start=$(sl_now)
      env -u SWARMLINK_NO_DHT -u SWARMLINK_NO_LSD -u SWARMLINK_LOG -u RUST_LOG XDG_STATE_HOME="$dir/state" \
        $SL_SETSID "$BIN/bthelper" download "$url" -o "$d/out" "$@" > "$d/log" 2>&1 &
      echo $! > "$d/pid"
      wait $!
      rc=$?
      echo "$rc $start $(sl_now)" > "$d/done"
    ) &
    SL_PIDS+=("$!")
  done
  for i in $(seq "$n"); do
    d=$dir/leech-$i
    for _ in $(seq 100); do [ -s "$d/pid" ] && break; sleep 0.02; done
    [ -s "$d/pid" ] && SL_PIDS+=("$(cat "$d/pid")")
  done
}

# sl_leechers_done N DIR: how many have exited.
sl_leechers_done() {
  local n=$1 dir=$2 i c=0
  for i in $(seq "$n"); do [ -s "$dir/leech-$i/done" ] && c=$((c + 1)); done
  echo "$c"
}

# sl_stopped_totals LOG PORT: "UPLOADED DOWNLOADED" from the last `stopped` announce of the peer
# listening on PORT; empty until the tracker has logged it (its log is flushed every second).
sl_stopped_totals() {
  grep "event=stopped" "$1" 2>/dev/null | grep "[?&]port=$2&" | tail -1 |
    sed -n 's/.*[?&]uploaded=\([0-9]*\)&downloaded=\([0-9]*\)&.*/\1 \2/p'
}

# sl_wait_stopped_totals LOG PORT SECONDS
sl_wait_stopped_totals() {
  local deadline=$(($(date +%s) + $3)) t
  while :; do
    t=$(sl_stopped_totals "$1" "$2")
    [ -n "$t" ] && { echo "$t"; return 0; }
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# sl_peer_totals LOG EXCLUDE_PORT: "UPLOADED DOWNLOADED PEERS" summed over the last `stopped`
# announce of every peer but the one on EXCLUDE_PORT (the publisher).
sl_peer_totals() {
  grep "event=stopped" "$1" 2>/dev/null |
    sed -n 's/.*[?&]port=\([0-9]*\)&uploaded=\([0-9]*\)&downloaded=\([0-9]*\)&.*/\1 \2 \3/p' |
    awk -v skip="$2" '$1 != skip { up[$1] = $2; down[$1] = $3 }
      END { for (p in up) { u += up[p]; d += down[p]; n++ } printf "%d %d %d\n", u, d, n }'
}

# sl_rate_bytes RATE: btpublish's 4M / 500K / 1G (binary units) in bytes.
sl_rate_bytes() {
  awk -v r="$1" 'BEGIN { n = r + 0; u = toupper(substr(r, length(r)));
    if (u == "K") n *= 1024; else if (u == "M") n *= 1048576; else if (u == "G") n *= 1073741824;
    printf "%d", n }'
}

# sl_mib BYTES: "12.3"
sl_mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
