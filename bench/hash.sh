#!/usr/bin/env bash
# Hashing a 1 GiB file (page cache warm): `btpublish make` side by side with `mktorrent -t 2 -l 20`
# and `transmission-create -s 1024` in the same hyperfine run, against the machine's SHA-1 limit
# (`openssl speed -evp sha1` on one core, times the cores). Writes bench/results/hash.md.
#
# Goals (issue 6): btpublish >= 1.3x the faster of the two, and >= 85% of the SHA-1 limit.
# Usage: bench/hash.sh [SIZE_MIB]   (env BENCH_DIR: where the data file lives, default /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
DIR=${BENCH_DIR:-/tmp}/swarmlink-hash-bench
RUNS=${RUNS:-7}
mkdir -p "$DIR" bench/results
DATA=$DIR/data-$SIZE_MIB.bin

for tool in hyperfine mktorrent transmission-create openssl; do
    command -v "$tool" >/dev/null || { echo "bench/hash.sh: $tool is missing (scripts/install-test-deps.sh)" >&2; exit 1; }
done
cargo build --release -q -p btpublish
BTPUBLISH=$PWD/target/release/btpublish

if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" != $((SIZE_MIB << 20)) ]; then
    echo "writing $SIZE_MIB MiB of random data to $DATA" >&2
    head -c $((SIZE_MIB << 20)) /dev/urandom > "$DATA.tmp" && mv "$DATA.tmp" "$DATA"
    sync   # write-back of fresh data must not land inside the timed runs
fi
cat "$DATA" > /dev/null   # warm the page cache

CORES=$(nproc)
# "sha1  12345.67k" for 1 MiB blocks: kB/s on one core (1000-byte k).
PER_CORE_KBS=$(openssl speed -evp sha1 -bytes 1048576 -seconds 3 2>/dev/null | awk '$1 == "sha1" { sub(/k$/, "", $2); print $2 }')
[ -n "$PER_CORE_KBS" ] || { echo "bench/hash.sh: could not read openssl speed's output" >&2; exit 1; }

ANNOUNCE=http://127.0.0.1:1/announce
rm -f "$DIR"/out-*.torrent "$DIR"/.out-*.btinfo
hyperfine --warmup 1 --runs "$RUNS" --export-json "$DIR/hash.json" \
    --prepare "rm -f $DIR/out-btpublish.torrent $DIR/.out-btpublish.torrent.btinfo $DIR/out-mktorrent.torrent $DIR/out-transmission.torrent" \
    -n btpublish "$BTPUBLISH make $DATA --announce $ANNOUNCE --piece-size 1M -o $DIR/out-btpublish.torrent" \
    -n "mktorrent -t 2" "mktorrent -t 2 -l 20 -a $ANNOUNCE -o $DIR/out-mktorrent.torrent $DATA" \
    -n transmission-create "transmission-create -s 1024 -t $ANNOUNCE -o $DIR/out-transmission.torrent $DATA"

# hyperfine's --prepare deleted the outputs between commands: make each once more to compare.
rm -f "$DIR"/out-*.torrent "$DIR"/.out-*.btinfo
"$BTPUBLISH" make "$DATA" --announce $ANNOUNCE --piece-size 1M -o "$DIR/out-btpublish.torrent" >/dev/null
mktorrent -t 2 -l 20 -a $ANNOUNCE -o "$DIR/out-mktorrent.torrent" "$DATA" >/dev/null
transmission-create -s 1024 -t $ANNOUNCE -o "$DIR/out-transmission.torrent" "$DATA" >/dev/null

python3 - "$DIR" "$SIZE_MIB" "$PER_CORE_KBS" "$CORES" <<'PY'
import json, sys, hashlib, datetime, platform, subprocess

dir_, size_mib, per_core_kbs, cores = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
size = size_mib << 20

def bdecode(b, i=0):
    c = b[i:i+1]
    if c == b'i':
        j = b.index(b'e', i); return int(b[i+1:j]), j + 1
    if c == b'l':
        out, i = [], i + 1
        while b[i:i+1] != b'e':
            v, i = bdecode(b, i); out.append(v)
        return out, i + 1
    if c == b'd':
        out, i = {}, i + 1
        while b[i:i+1] != b'e':
            k, i = bdecode(b, i); v, i = bdecode(b, i); out[k] = v
        return out, i + 1
    j = b.index(b':', i); n = int(b[i:j]); return b[j+1:j+1+n], j + 1 + n

# The three torrents must hash the same pieces, or the race means nothing.
pieces = {}
for tool in ("btpublish", "mktorrent", "transmission"):
    meta, _ = bdecode(open(f"{dir_}/out-{tool}.torrent", "rb").read())
    pieces[tool] = meta[b"info"][b"pieces"]
same = len(set(pieces.values())) == 1

results = {r["command"]: r for r in json.load(open(f"{dir_}/hash.json"))["results"]}
limit = per_core_kbs * 1000 * cores          # bytes per second, every core hashing
limit_time = size / limit
ours = results["btpublish"]
fastest_other = min(("mktorrent -t 2", "transmission-create"), key=lambda n: results[n]["median"])
speedup = results[fastest_other]["median"] / ours["median"]
of_limit = limit_time / ours["median"]

cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
load = open("/proc/loadavg").read().split()[:3]
lines = [
    "# Hashing benchmark (bench/hash.sh)",
    "",
    f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {model}, {cores} cores, "
    f"load average before/after {' '.join(load)}; {size_mib} MiB random file, page cache warm, "
    f"1 MiB pieces, hyperfine median of {len(ours['times'])} runs.",
    "",
    f"SHA-1 limit: `openssl speed -evp sha1 -bytes 1048576` = {per_core_kbs/1e6:.2f} GB/s a core x {cores} = "
    f"{limit/1e9:.2f} GB/s, i.e. {limit_time:.3f} s for this file.",
    "",
    "| tool | median s | min s | user+sys CPU s | GB/s (wall) | GB/s per CPU-second | % of SHA-1 limit |",
    "|---|---|---|---|---|---|---|",
]
for name in ("btpublish", "mktorrent -t 2", "transmission-create"):
    r = results[name]
    cpu_s = r["user"] + r["system"]
    lines.append(
        f"| {name} | {r['median']:.3f} | {r['min']:.3f} | {cpu_s:.3f} | {size/r['median']/1e9:.2f} | "
        f"{size/cpu_s/1e9:.2f} | {100*limit_time/r['median']:.0f}% |"
    )
lines += [
    "",
    f"- btpublish vs the faster other ({fastest_other}): **{speedup:.2f}x** (goal >= 1.3x)",
    f"- btpublish vs the SHA-1 limit: **{100*of_limit:.0f}%** (goal >= 85%)",
    f"- all three torrents carry identical piece hashes: {'yes' if same else 'NO'}",
    "",
    "Wall-clock ratios need idle cores: on a shared machine other processes take CPU from every tool",
    "alike, and the per-CPU-second column shows each tool's efficiency independent of that.",
]
text = "\n".join(lines) + "\n"
open("bench/results/hash.md", "w").write(text)
print(text)
if not same:
    sys.exit("bench/hash.sh: the tools disagree on the piece hashes")
PY
