# The measuring shared by bench/download.sh and bench/webseed.sh (sourced by both, from the
# repository root). Each contestant downloads the same file into a directory of its own, one after
# the other, RUNS rounds; its time is the wall time from process start to exit (start-up and the
# final flush included for everyone), its memory the peak RSS from /usr/bin/time -v.
#
# The caller sets WORK (a scratch directory), REF (the original file; each download must hold a
# byte-identical data.bin), RUNS and ORDER (an array of contestant names), and defines
# `contestant WHO OUTDIR ROUND`, which runs `measure WHO OUTDIR COMMAND...` for that contestant,
# or prints nothing to sit the round out.

ROOT=${ROOT:-$PWD}
BTHELPER=${BTHELPER:-$ROOT/target/release/bthelper}
LT_PEER=$ROOT/bench/download_lt_peer.py
PY=/usr/bin/python3   # Debian's, the one that can import libtorrent

require_bthelper() {
  [ -x "$BTHELPER" ] || { echo "build it first: cargo build --release -p bthelper" >&2; exit 1; }
}

# measure NAME OUTDIR COMMAND...: runs COMMAND with OUTDIR empty and prints "seconds peak_rss_kib",
# or "nan 0" when it failed or its data.bin differs from REF.
measure() {
  local name=$1 out=$2; shift 2
  rm -rf "$out"; mkdir -p "$out"
  # Flush the previous run's writes so nobody pays for someone else's writeback, and keep the
  # page cache warm (dropping it would time binaries and libraries loading from disk).
  sync
  cat "$REF" > /dev/null
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 || { echo "$name failed" >&2; tail -5 "$WORK/$name.log" >&2; echo "nan 0"; return; }
  t1=$(date +%s.%N)
  if ! cmp -s "$REF" "$(find "$out" -name data.bin | head -1)"; then
    echo "$name: downloaded data differs" >&2; echo "nan 0"; return
  fi
  local rss
  rss=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$WORK/$name.time")
  echo "$(echo "$t1 - $t0" | bc -l) $rss"
}

# rounds: runs every contestant RUNS times into $WORK/out-WHO and collects SECS[WHO] and RSS[WHO]
# (one figure a round, space-separated). Round r starts with the r-th contestant: the first
# download of a run also pays for cold caches (and a fresh seeder's piece checks).
declare -A SECS RSS
rounds() {
  local r i who res n=${#ORDER[@]}
  for r in $(seq "$RUNS"); do
    for i in $(seq 0 $((n - 1))); do
      who=${ORDER[$(( (i + r - 1) % n ))]}
      res=$(contestant "$who" "$WORK/out-$who" "$r")
      [ -n "$res" ] || continue
      SECS[$who]="${SECS[$who]:-} ${res% *}"
      RSS[$who]="${RSS[$who]:-} ${res#* }"
      echo "run $r $who: ${res% *} s, peak RSS ${res#* } KiB" >&2
    done
  done
}

# median X...: the median of the numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
