#!/usr/bin/env bash
# Listing benchmark: tracker CPU per render of the listing page with 10,000 published torrents.
# Publishes N torrents (PUT /publish/ from loopback, no key), then fetches each view REQS times
# over one keep-alive connection and divides the tracker's CPU time over those requests
# (utime+stime, fields 14+15 of /proc/PID/stat, / CLK_TCK) by REQS. The goal (issue 22): a
# search (`q=`) over 10,000 torrents under 20 ms of tracker CPU per render.
#
#   cargo build --release -p bttrack --bin bttrack && bench/listing.sh
#   N=2000 REQS=100 bench/listing.sh       # a quicker look (results file untouched)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-10000}
REQS=${REQS:-300}
BTTRACK=${BTTRACK:-$ROOT/target/release/bttrack}
PY=/usr/bin/python3
[ -x "$BTTRACK" ] || { echo "build first: cargo build --release -p bttrack --bin bttrack" >&2; exit 1; }
WORK=$(mktemp -d /tmp/swarmlink-listbench.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
TCK=$(getconf CLK_TCK)
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BTTRACK" --bind 127.0.0.1 --port "$port" --log - --http-threads 1 > "$WORK/bttrack.out" 2>&1 &
PID=$!
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done

# Publishes N single-file torrents named like real files ("Sintel trailer 01234.mkv", ...).
$PY - "$port" "$N" <<'PYEOF'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
words = ["Sintel trailer", "Big Buck Bunny", "holiday photos", "notes", "Elephants Dream",
         "Tears of Steel", "concert recording", "lecture", "dataset", "backup"]
def b(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, list): return b"l" + b"".join(map(b, v)) + b"e"
    return b"d" + b"".join(b(k) + b(v[k]) for k in sorted(v)) + b"e"
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    size = 1_000_000 + i * 7919
    name = "%s %05d.%s" % (words[i % len(words)], i, ["mkv", "mp4", "pdf", "zip"][i % 4])
    body = b({"info": {"name": name, "length": size, "piece length": 1 << 20,
                       "pieces": b"\x07" * 20 * ((size + (1 << 20) - 1) >> 20)}})
    c.request("PUT", "/publish/?port=%d" % (6000 + i % 1000), body)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PYEOF

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# render TARGET -> "ms_per_render bytes"
render() {
  local before after
  before=$(cpu)
  local bytes
  bytes=$($PY - "$port" "$REQS" "$1" <<'PYEOF'
import http.client, sys
port, reqs, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
size = 0
for _ in range(reqs):
    c.request("GET", target)
    r = c.getresponse(); size = len(r.read())
    assert r.status == 200
print(size)
PYEOF
)
  after=$(cpu)
  $PY -c "print('%.2f %s' % (($after - $before) * 1000.0 / $TCK / $REQS, $bytes))"
}

declare -A MS
TARGETS=("/?q=sintel" "/?q=trailer+0&page=3" "/" "/?sort=seeders" "/?q=sintel&format=json" "/feed.xml")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for t in "${TARGETS[@]}"; do
  MS[$t]=$(render "$t")
  echo "  $t: $(echo "${MS[$t]}" | awk '{print $1}') ms tracker CPU per render ($(echo "${MS[$t]}" | awk '{print $2}') bytes)" >&2
done

table="| request | tracker CPU ms per render | bytes |
|---|---|---|"
for t in "${TARGETS[@]}"; do
  table+=$'\n'"| \`$t\` | $(echo "${MS[$t]}" | awk '{print $1}') | $(echo "${MS[$t]}" | awk '{print $2}') |"
done
echo "$table"
if [ "$N" = 10000 ] && [ "$REQS" -ge 300 ]; then
  cat > bench/results/listing.md <<MD
# Listing benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, loopback)

\`bash bench/listing.sh\`: $N published torrents, each view fetched $REQS times over one keep-alive
connection; tracker CPU = utime+stime of bttrack (one HTTP thread) from /proc/PID/stat over those
requests, divided by $REQS. Goal: a search over 10,000 torrents under 20 ms of tracker CPU.
Load average at the start: $LOAD (other work on the machine's cores moves single figures).

$table
MD
  echo "wrote bench/results/listing.md" >&2
fi
