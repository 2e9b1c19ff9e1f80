#!/usr/bin/env bash
# Web seed benchmark (BEP 19): SIZE_MIB (default 512) of random data served by nginx on loopback,
# described by a trackerless torrent whose url-list points at it, downloaded with no peers at all
# by bthelper and by libtorrent (python3-libtorrent, which speaks web seeds too) in the same run,
# RUNS times each (default 3; the median is reported). curl fetching the plain file is the ceiling
# (what the web server and loopback allow). Throughput is size / wall time from process start to
# exit; peak RSS from /usr/bin/time -v. Results: printed and written to bench/results/webseed.md.
#
#   bench/webseed.sh            # needs target/release/bthelper (cargo build --release -p bthelper)
#   SIZE_MIB=128 RUNS=1 bench/webseed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-512}
RUNS=${RUNS:-3}
BTHELPER=${BTHELPER:-$ROOT/target/release/bthelper}
LT_PEER=$ROOT/bench/download_lt_peer.py
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/swarmlink-webseed.XXXXXX)
chmod 755 "$WORK"
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BTHELPER" ] || { echo "build it first: cargo build --release -p bthelper" >&2; exit 1; }
command -v nginx > /dev/null || { echo "needs nginx (scripts/install-test-deps.sh installs nginx-light)" >&2; exit 1; }
mkdir -p "$WORK/www" "$WORK/nginx/tmp"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/www/data.bin"
chmod -R a+rX "$WORK/www"

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  sendfile on;
  server { listen 127.0.0.1:$PORT; root $WORK/www; }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

# A trackerless torrent with the web seed (a directory URL: the name is appended).
"$PY" - "$WORK/www/data.bin" "$WORK/data.torrent" "http://127.0.0.1:$PORT/" <<'EOF'
import os, sys
import libtorrent as lt
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, 0, flags=lt.create_torrent.v1_only)
ct.add_url_seed(sys.argv[3])
lt.set_piece_hashes(ct, os.path.dirname(sys.argv[1]))
open(sys.argv[2], "wb").write(lt.bencode(ct.generate()))
EOF

# run NAME OUTDIR COMMAND...: prints "seconds peak_rss_kib"
run() {
  local name=$1 out=$2; shift 2
  rm -rf "$out"; mkdir -p "$out"
  sync
  cat "$WORK/www/data.bin" > /dev/null
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 || { echo "$name failed" >&2; tail -5 "$WORK/$name.log" >&2; echo "nan 0"; return; }
  t1=$(date +%s.%N)
  if ! cmp -s "$WORK/www/data.bin" "$(find "$out" -name data.bin | head -1)"; then
    echo "$name: downloaded data differs" >&2; echo "nan 0"; return
  fi
  local rss
  rss=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$WORK/$name.time")
  echo "$(echo "$t1 - $t0" | bc -l) $rss"
}

declare -A SECS RSS
ORDER=(bthelper libtorrent curl)
for r in $(seq "$RUNS"); do
  for i in 0 1 2; do
    who=${ORDER[$(( (i + r - 1) % 3 ))]}
    out=$WORK/out-$who
    case $who in
      bthelper) res=$(run bthelper "$out" env SWARMLINK_NO_DHT=true SWARMLINK_NO_LSD=true "$BTHELPER" download "$WORK/data.torrent" -o "$out" --state-dir "$WORK/state-$r") ;;
      libtorrent) res=$(run libtorrent "$out" env DL_TIMEOUT=300 "$PY" "$LT_PEER" download "$WORK/data.torrent" "$out") ;;
      curl) res=$(run curl "$out" curl -s -o "$out/data.bin" "http://127.0.0.1:$PORT/data.bin") ;;
    esac
    SECS[$who]="${SECS[$who]:-} ${res% *}"
    RSS[$who]="${RSS[$who]:-} ${res#* }"
    echo "run $r $who: ${res% *} s, peak RSS ${res#* } KiB" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A MBPS MRSS
for who in "${ORDER[@]}"; do
  s=$(echo "${SECS[$who]}" | median)
  MBPS[$who]=$(echo "$SIZE_MIB / $s" | bc -l | xargs printf '%.0f')
  MRSS[$who]=$(( $(echo "${RSS[$who]}" | median | xargs printf '%.0f') / 1024 ))
done
ratio() { echo "${MBPS[$1]} / ${MBPS[$2]}" | bc -l | xargs printf '%.2f'; }

REPORT=$(cat <<EOF
# Web seed download benchmark

$SIZE_MIB MiB from nginx on loopback (sendfile), a trackerless torrent whose url-list points at it,
no peers; median of $RUNS runs, each tool in turn in the same run. Wall time from process start to
exit. Machine: $(nproc) cores, $(uname -r).

| downloader | throughput | peak RSS |
|---|---|---|
| bthelper (web seed) | ${MBPS[bthelper]} MiB/s | ${MRSS[bthelper]} MiB |
| libtorrent $("$PY" -c 'import libtorrent; print(libtorrent.__version__)') (web seed) | ${MBPS[libtorrent]} MiB/s | ${MRSS[libtorrent]} MiB |
| curl (the plain file: the ceiling) | ${MBPS[curl]} MiB/s | ${MRSS[curl]} MiB |

bthelper / libtorrent throughput: **$(ratio bthelper libtorrent)x**; bthelper / curl: $(ratio bthelper curl)x.
EOF
)
echo "$REPORT"
mkdir -p bench/results
echo "$REPORT" > bench/results/webseed.md
