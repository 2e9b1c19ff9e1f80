#!/usr/bin/env bash
# The swarm's promise, measured: one btpublish capped at RATE, N `bthelper download`s of the same
# SIZE_MIB file started at once, for each N in NS, on 127.0.0.1 (a fresh tracker and publisher
# per N). For each N it reports:
#   - the publisher's upload / file size (goal at N = 16: <= 1.3x), against the N copies a plain
#     HTTP server would have sent;
#   - the slowest download against the time the publisher alone needs to send one copy at its cap
#     (goal: <= 1.5x);
#   - what the downloaders gave each other.
# Byte counts are each peer's own totals from its final `stopped` announce (the tracker's log).
# Every program runs at its default settings (issue 15: defaults are what we measure): a public
# torrent, the downloaders with the DHT, local discovery, PEX and encryption as shipped and one
# shared default state directory. Results: printed and written to bench/results/swarm.md.
#
#   cargo build --release -p bttrack -p btpublish -p bthelper && bench/swarm.sh
#   NS="2 4" SIZE_MIB=16 bench/swarm.sh          # a quicker look
set -euo pipefail
. "$(dirname "$0")/own_network.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-64}
RATE=${RATE:-4M}           # btpublish --upload-rate
NS=${NS:-2 4 8 16}
TIMEOUT=${TIMEOUT:-300}    # seconds per N
BIN=${BIN:-$ROOT/target/release}
OUT=${OUT:-$ROOT/bench/results/swarm.md}
WORK=$(mktemp -d /tmp/swarmlink-swarm.XXXXXX)
. "$ROOT/bench/swarm_lib.sh"
trap 'sl_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

for b in bttrack btpublish bthelper; do
  [ -x "$BIN/$b" ] || { echo "build first: cargo build --release -p bttrack -p btpublish -p bthelper" >&2; exit 1; }
done
RATE_B=$(sl_rate_bytes "$RATE")
SIZE=$((SIZE_MIB * 1048576))
ALONE=$(awk -v s="$SIZE" -v r="$RATE_B" 'BEGIN { printf "%.2f", s / r }')

mkdir -p "$WORK/seed"
head -c "$SIZE" /dev/urandom > "$WORK/seed/data.bin"

ROWS=()
for n in $NS; do
  run=$WORK/n$n
  mkdir -p "$run"
  sl_start_tracker "$run"
  sl_start_publisher "$WORK/seed/data.bin" "$RATE" "$run"
  echo "N=$n: $n downloads of $SIZE_MIB MiB from a publisher capped at $RATE/s" >&2
  t0=$(sl_now)
  sl_start_leechers "$n" "$SL_TORRENT_URL" "$run"
  deadline=$(($(date +%s) + TIMEOUT))
  while [ "$(sl_leechers_done "$n" "$run")" -lt "$n" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "N=$n: timed out after $TIMEOUT s" >&2
      for i in $(seq "$n"); do [ -s "$run/leech-$i/done" ] || kill "$(cat "$run/leech-$i/pid")" 2>/dev/null || true; done
      sleep 1
      break
    fi
    sleep 0.2
  done
  slowest=0 fastest=1e9 failed=0
  for i in $(seq "$n"); do
    d=$run/leech-$i
    if [ ! -s "$d/done" ] || [ "$(cut -d' ' -f1 "$d/done")" != 0 ] || ! cmp -s "$WORK/seed/data.bin" "$d/out/data.bin"; then
      failed=$((failed + 1)); echo "N=$n: download $i failed:" >&2; tail -3 "$d/log" >&2; continue
    fi
    secs=$(awk '{ printf "%.2f", $3 - $2 }' "$d/done")
    slowest=$(awk -v a="$slowest" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')
    fastest=$(awk -v a="$fastest" -v b="$secs" 'BEGIN { print (b < a ? b : a) }')
  done
  # Every download has exited (and announced `stopped`); now the publisher.
  sl_stop "$SL_PUB_PID"
  pub=$(sl_wait_stopped_totals "$run/tracker.log" "$SL_PPORT" 10 || echo "")
  pub_up=${pub%% *}
  read -r peers_up peers_down peers_seen < <(sl_peer_totals "$run/tracker.log" "$SL_PPORT")
  sl_cleanup
  if [ -z "$pub_up" ]; then
    echo "N=$n: the publisher's stopped announce never reached the tracker" >&2
    pub_up=nan
  fi
  row=$(awk -v n="$n" -v size="$SIZE" -v up="$pub_up" -v slow="$slowest" -v fast="$fastest" \
    -v alone="$ALONE" -v pup="$peers_up" -v pdown="$peers_down" -v failed="$failed" 'BEGIN {
      printf "| %d | %.2fx | %.1f | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx | %s |",
        n, up / size, up / 1048576, n * size / 1048576, pup / 1048576, up / (n * size),
        fast, slow, slow / alone, failed ? failed " failed" : "all byte-exact" }')
  echo "$row" >&2
  ROWS+=("$row")
done

{
  echo "# Swarm benchmark (bench/swarm.sh)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); one btpublish capped at $RATE/s seeding a $SIZE_MIB MiB random file; N \`bthelper download\`s started at once; bttrack; all on 127.0.0.1."
  echo "The publisher alone needs $ALONE s to send one copy at its cap. Bytes are each peer's own totals from its final \`stopped\` announce."
  echo "Every program at its default settings: a public torrent; the downloaders run the DHT (no route to the public routers here), local discovery, PEX and encryption as shipped, and share one default state directory.${SL_PUBLISH_ARGS:+ btpublish extra flags: $SL_PUBLISH_ARGS.}"
  echo
  echo "| N | publisher upload / file | publisher MiB | plain HTTP server MiB (N copies) | downloaders gave each other MiB | publisher / HTTP | fastest s | slowest s | slowest / one copy at cap | data |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Goals (issues 9 and 15, at defaults): publisher upload <= 1.3x the file at N = 16; slowest download <= 1.5x the time of one copy at the cap."
} > "$WORK/report.md"
cat "$WORK/report.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
