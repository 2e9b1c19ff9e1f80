#!/usr/bin/env bash
# Streaming benchmark (issue 17): SIZE_MIB (default 200) of random bytes named film.webm (the
# content does not matter to what is measured; no encoder time), seeded by python3-libtorrent
# capped at RATE_MIB MiB/s (default 4) and announced by a tiny loopback tracker, streamed by
# bthelper (its daemon at defaults: DHT and local discovery on) and by rqbit's HTTP API
# (`rqbit server start`, `/torrents/{id}/stream/0`), alternating, RUNS runs each (default 5;
# medians reported; one unrecorded warm-up round each first). Per run: time from asking for the stream to its first byte, time from a seek
# to 80% to the first byte there, and stalls while a player reads from 30% at half the seeder's
# rate (play starts 5 s after the request; stalls after that are counted). The driver is
# bench/stream_bench.py. Goal: bthelper ahead of rqbit on both times, each within 1 s, and no
# stall. Results: printed and written to OUT (default bench/results/stream.md).
#
#   bench/stream.sh            # needs target/release/bthelper (cargo build --release -p bthelper)
#   SIZE_MIB=64 RUNS=1 PLAY_SECS=10 OUT=/tmp/stream.md bench/stream.sh   # a quick check
set -euo pipefail
. "$(dirname "$0")/own_network.sh"
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-200}
RATE_MIB=${RATE_MIB:-4}
RUNS=${RUNS:-5}
PLAY_SECS=${PLAY_SECS:-30}
RQBIT=${RQBIT:-$HOME/.cargo/bin/rqbit}
OUT=${OUT:-$ROOT/bench/results/stream.md}
BTHELPER=${BTHELPER:-$ROOT/target/release/bthelper}
PY=/usr/bin/python3   # Debian's, the one that can import libtorrent
WORK=$(mktemp -d /tmp/swarmlink-stream.XXXXXX)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
trap 'rm -rf "$WORK"' EXIT

[ -x "$BTHELPER" ] || { echo "build it first: cargo build --release -p bthelper" >&2; exit 1; }
[ -x "$RQBIT" ] || { echo "needs rqbit (cargo install rqbit --locked)" >&2; exit 1; }

"$PY" bench/stream_bench.py --work "$WORK" --bthelper "$BTHELPER" --rqbit "$RQBIT" \
  --size-mib "$SIZE_MIB" --rate-mib "$RATE_MIB" --runs "$RUNS" --play-secs "$PLAY_SECS" > "$WORK/runs.jsonl"

REPORT=$("$PY" - "$WORK/runs.jsonl" "$SIZE_MIB" "$RATE_MIB" "$RUNS" "$PLAY_SECS" "$("$RQBIT" --version)" <<'PYEOF'
import json, statistics, sys
path, size, rate, runs, play, rqv = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
meta = rows[0]
runs_of = lambda who: [r for r in rows[1:] if r.get("who") == who]
def med(who, key):
    xs = [r[key] for r in runs_of(who) if key in r]
    return statistics.median(xs) if xs else float("nan")
def stalls(who):
    rs = [r for r in runs_of(who) if "stalls" in r]
    return sum(r["stalls"] for r in rs), sum(r["stalled_secs"] for r in rs), len(rs)
out = []
out.append("# Streaming benchmark\n")
out.append(f"{size} MiB of random bytes named film.webm ({meta['pieces']} pieces of {meta['piece_kib']} KiB), one python3-libtorrent")
out.append(f"seeder capped at {rate} MiB/s found through a loopback tracker; bthelper (daemon at defaults) and {rqv}")
out.append(f"(`rqbit server start`, its `/torrents/{{id}}/stream/0`) alternating, {runs} runs each after one unrecorded warm-up")
out.append("round each (libtorrent answers its very first peer about a second late), medians. First byte: from")
out.append("asking for the stream (`bthelper stream FILE.torrent` / rqbit's POST /torrents) to the first body byte of")
out.append("`Range: bytes=0-`. Seek: from a new request at 80% to its first byte. Playback: a reader from 30% at half the")
out.append(f"seeder's rate for {play} s of play, play starting 5 s after the request, buffering at most 30 s ahead.\n")
out.append("| client | first byte (median) | seek to 80%: first byte (median) | stalls after the first 5 s (all runs) | runs |")
out.append("|---|---|---|---|---|")
for who in ("bthelper", "rqbit"):
    n, secs, k = stalls(who)
    errs = [r["error"] for r in runs_of(who) if "error" in r]
    out.append(f"| {who} | {med(who, 'first_byte_secs'):.3f} s | {med(who, 'seek_first_byte_secs'):.3f} s | {n} ({secs:.1f} s) | {k}" + (f" ({len(errs)} failed)" if errs else "") + " |")
fb = med("rqbit", "first_byte_secs") / med("bthelper", "first_byte_secs")
sk = med("rqbit", "seek_first_byte_secs") / med("bthelper", "seek_first_byte_secs")
out.append(f"\nrqbit / bthelper time (above 1: bthelper ahead): first byte **{fb:.2f}x**, seek **{sk:.2f}x**.")
goal = med("bthelper", "first_byte_secs") < min(1.0, med("rqbit", "first_byte_secs")) and \
       med("bthelper", "seek_first_byte_secs") < min(1.0, med("rqbit", "seek_first_byte_secs")) and stalls("bthelper")[0] == 0
out.append(f"Goal (ahead of rqbit on both, each within 1 s, no stall): **{'met' if goal else 'missed'}**.\n")
out.append("Every run:\n")
out.append("| client | run | stream URL | first byte | seek first byte | stalls | stalled | played |")
out.append("|---|---|---|---|---|---|---|---|")
for r in rows[1:]:
    if "error" in r:
        out.append(f"| {r['who']} | {r['run']} | failed: {r['error'][:80]} | | | | | |")
    else:
        out.append(f"| {r['who']} | {r['run']} | {r['url_secs']:.3f} s | {r['first_byte_secs']:.3f} s | {r['seek_first_byte_secs']:.3f} s | {r['stalls']} | {r['stalled_secs']} s | {r['played_secs']} s |")
print("\n".join(out))
PYEOF
)
REPORT="$REPORT

Machine: $(nproc) cores, $(uname -r); load before the run: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "$REPORT"
mkdir -p "$(dirname "$OUT")"
echo "$REPORT" > "$OUT"
