#!/usr/bin/env bash
# Web seed benchmark (BEP 19): SIZE_MIB (default 512) of random data served by nginx on loopback,
# described by a trackerless torrent whose url-list points at it, downloaded with no peers at all
# by bthelper and by libtorrent (python3-libtorrent, which speaks web seeds too) in the same run,
# RUNS times each (default 3; the median is reported). curl fetching the plain file is the ceiling
# (what the web server and loopback allow). Throughput is size / wall time from process start to
# exit; peak RSS from /usr/bin/time -v. Results: printed and written to OUT (default
# bench/results/webseed.md). The measuring loop is bench/lib.sh, shared with bench/download.sh.
#
#   bench/webseed.sh            # needs target/release/bthelper (cargo build --release -p bthelper)
#   SIZE_MIB=128 RUNS=1 bench/webseed.sh
#   SIZE_MIB=16 RUNS=1 OUT=/tmp/webseed.md bench/webseed.sh   # a quick check, results file untouched
set -euo pipefail
. "$(dirname "$0")/own_network.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-512}
RUNS=${RUNS:-3}
OUT=${OUT:-$ROOT/bench/results/webseed.md}
WORK=$(mktemp -d /tmp/swarmlink-webseed.XXXXXX)
chmod 755 "$WORK"
REF=$WORK/www/data.bin
# shellcheck source=bench/lib.sh
source bench/lib.sh
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

require_bthelper
command -v nginx > /dev/null || { echo "needs nginx (scripts/install-test-deps.sh installs nginx-light)" >&2; exit 1; }
mkdir -p "$WORK/www" "$WORK/nginx/tmp"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$REF"
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
"$PY" - "$REF" "$WORK/data.torrent" "http://127.0.0.1:$PORT/" <<'EOF'
import os, sys
import libtorrent as lt
fs = lt.file_storage()
lt.add_files(fs, sys.argv[1])
ct = lt.create_torrent(fs, 0, flags=lt.create_torrent.v1_only)
ct.add_url_seed(sys.argv[3])
lt.set_piece_hashes(ct, os.path.dirname(sys.argv[1]))
open(sys.argv[2], "wb").write(lt.bencode(ct.generate()))
EOF

# contestant WHO OUTDIR ROUND (see bench/lib.sh)
contestant() {
  local who=$1 out=$2 r=$3
  case $who in
    bthelper) measure bthelper "$out" "$BTHELPER" download "$WORK/data.torrent" -o "$out" --state-dir "$WORK/state-$r" ;;
    libtorrent) measure libtorrent "$out" env DL_TIMEOUT=300 "$PY" "$LT_PEER" download "$WORK/data.torrent" "$out" ;;
    curl) measure curl "$out" curl -s -o "$out/data.bin" "http://127.0.0.1:$PORT/data.bin" ;;
  esac
}
ORDER=(bthelper libtorrent curl)
rounds

declare -A MBPS MRSS
for who in "${ORDER[@]}"; do
  s=$(median ${SECS[$who]})
  MBPS[$who]=$(echo "$SIZE_MIB / $s" | bc -l | xargs printf '%.0f')
  MRSS[$who]=$(( $(median ${RSS[$who]} | xargs printf '%.0f') / 1024 ))
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
echo "$REPORT" > "$OUT"
