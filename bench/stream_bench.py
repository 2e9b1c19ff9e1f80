#!/usr/bin/python3
"""Streaming benchmark driver (bench/stream.sh runs it): time to the first byte of a stream,
after a seek to 80%, and stalls during paced playback, for bthelper and rqbit side by side.

  stream_bench.py --work DIR --bthelper PATH --rqbit PATH [--size-mib 200] [--rate-mib 4]
                  [--runs 3] [--play-secs 30]

One process holds the world both contestants download from: SIZE_MIB of random bytes named
film.webm (the bytes' content does not matter to the measurement), a python3-libtorrent seeder
capped at RATE_MIB MiB/s up (every address in libtorrent's global peer class, so the cap holds
on loopback), and a tiny HTTP tracker that names the seeder, so both find it the same way.
Each run starts the contestant fresh (new state, empty download directory), then:

  first byte  from asking for the stream (`bthelper stream FILE.torrent`, which adds it and asks
              `stream_url`; rqbit: POST /torrents, then GET /torrents/{id}/stream/0) to the first
              body byte of a `Range: bytes=0-` request; read on for 1 s, then closed
  seek        a new request at 80% of the file (`Range: bytes=P-`): request to first body byte;
              read on for 1 s, then closed
  playback    a request at 30%, read as a player would at half the seeder's rate: play starts 5 s
              after the request, the reader buffers at most 30 s ahead; a stall is the play
              position catching up with the bytes received. Stalls after the first 5 s are
              counted and timed over PLAY_SECS of play.

Before the measured runs, one unrecorded first-byte round of each contestant warms the seeder
up: libtorrent answers its very first peer about a second late (its first ticks), whoever that is.

Prints one JSON line per run to stdout and a progress line per run to stderr. Must run under
/usr/bin/python3 (Debian's python3-libtorrent).
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import libtorrent as lt

MIB = 1 << 20


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---- the world: data, tracker, seeder ----

def make_data(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n


class Tracker:
    """Answers every announce with the one seeder (compact, BEP 23)."""

    def __init__(self):
        self.seed_port = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                peers = socket.inet_aton("127.0.0.1") + outer.seed_port.to_bytes(2, "big")
                body = b"d8:completei1e10:incompletei0e8:intervali60e5:peers6:" + peers + b"e"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.handle_error = lambda *a: None  # a client that hung up mid-answer
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def make_torrent(data, torrent, announce):
    fs = lt.file_storage()
    lt.add_files(fs, data)
    ct = lt.create_torrent(fs, 0, flags=lt.create_torrent.v1_only)
    ct.add_tracker(announce)
    lt.set_piece_hashes(ct, os.path.dirname(data))
    with open(torrent, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return lt.torrent_info(torrent)


def start_seeder(info, save_dir, rate):
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "upload_rate_limit": rate,
    })
    # libtorrent exempts local peers from rate limits unless every address is in the global class.
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    s.set_peer_class_filter(f)
    h = s.add_torrent({"ti": info, "save_path": save_dir})
    deadline = time.time() + 120
    while not h.status().is_seeding:
        if time.time() > deadline:
            sys.exit("the seeder did not finish checking")
        time.sleep(0.05)
    return s, h


# ---- HTTP on a raw socket, so the first byte's time is exact ----

class Stream:
    def __init__(self, url, start, end=None):
        rest = url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rng = f"bytes={start}-" + ("" if end is None else str(end))
        req = f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nRange: {rng}\r\nConnection: close\r\n\r\n"
        self.asked = time.monotonic()
        self.sock.sendall(req.encode())
        self.first = None
        self.received = 0
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.recv(30.0)
            if not chunk:
                raise RuntimeError(f"closed before the headers: {head[:200]!r}")
            head += chunk
        line, _, _ = head.partition(b"\r\n")
        self.status = int(line.split()[1])
        if self.status not in (200, 206):
            raise RuntimeError(f"{url} answered {line!r}")
        body = head.split(b"\r\n\r\n", 1)[1]
        self.take(body)
        while self.first is None:
            chunk = self.recv(30.0)
            if not chunk:
                raise RuntimeError("closed before the first byte")
            self.take(chunk)

    def recv(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None if timeout < 30 else b""
        return self.sock.recv(1 << 20)

    def take(self, chunk):
        if chunk:
            if self.first is None:
                self.first = time.monotonic()
            self.received += len(chunk)

    def read_for(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            chunk = self.recv(min(0.05, max(0.0, end - time.monotonic())))
            if chunk == b"":
                return
            self.take(chunk)

    def close(self):
        self.sock.close()


def play(url, start, rate, secs, grace=5.0, ahead_secs=30.0):
    """Reads as a player: play starts `grace` s after the request and advances at `rate` while
    there are bytes; the reader stays at most `ahead_secs` of play ahead. Returns the stalls."""
    s = Stream(url, start)
    play_from = s.asked + grace
    pos = 0.0  # bytes played
    stalls, stalled_secs, in_stall = 0, 0.0, False
    last = time.monotonic()
    deadline = s.asked + grace + secs * 3
    eof = False
    while pos < rate * secs and time.monotonic() < deadline:
        if eof and pos >= s.received:
            break  # the file ended: everything was played
        if not eof and s.received - pos < rate * ahead_secs:
            chunk = s.recv(0.01)
            if chunk == b"":
                eof = True
            s.take(chunk)
        else:
            time.sleep(0.01)
        now = time.monotonic()
        if now >= play_from:
            dt = now - max(last, play_from)
            if s.received > pos:
                pos = min(float(s.received), pos + rate * dt)
                in_stall = False
            else:
                if not in_stall:
                    stalls += 1
                    in_stall = True
                stalled_secs += dt
        last = now
    s.close()
    return {"stalls": stalls, "stalled_secs": round(stalled_secs, 2), "played_secs": round(pos / rate, 1)}


# ---- the contestants ----

def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


class Bthelper:
    name = "bthelper"

    def __init__(self, binary, work, run):
        self.binary = binary
        self.env = dict(os.environ, SWARMLINK_HOME=os.path.join(work, f"bthelper-{run}"))
        # `list` starts the daemon (detached, as any command does) and returns once it answers.
        out = subprocess.run([binary, "list"], env=self.env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"the daemon did not start: {out.stderr}")

    def stream_url(self, torrent):
        out = subprocess.run([self.binary, "stream", torrent], env=self.env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"bthelper stream: {out.stderr}")
        return out.stdout.strip()

    def stop(self):
        subprocess.run([self.binary, "daemon", "--stop"], env=self.env, capture_output=True, timeout=60)


class Rqbit:
    name = "rqbit"

    def __init__(self, binary, work, run):
        self.api = f"http://127.0.0.1:{free_port()}"
        out = os.path.join(work, f"rqbit-{run}")
        self.logf = open(out + ".log", "w")
        self.proc = subprocess.Popen(
            [binary, "--http-api-listen-addr", self.api.split("//")[1], "--disable-dht",
             "--disable-dht-persistence", "--disable-lsd", "--disable-upnp-port-forward",
             "--listen-port", str(free_port()), "server", "start", "--disable-persistence", out],
            stdout=self.logf, stderr=self.logf)
        wait_http(self.api + "/")

    def stream_url(self, torrent):
        with open(torrent, "rb") as f:
            body = f.read()
        req = urllib.request.Request(self.api + "/torrents?overwrite=true", data=body, method="POST",
                                     headers={"Content-Type": "application/x-bittorrent"})
        answer = json.loads(urllib.request.urlopen(req, timeout=60).read())
        return f"{self.api}/torrents/{answer['id']}/stream/0"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


def one_run(kind, binary, work, run, torrent, size, rate, play_secs, warmup=False):
    c = kind(binary, work, run)
    try:
        t0 = time.monotonic()
        url = c.stream_url(torrent)
        t_url = time.monotonic() - t0
        first = Stream(url, 0)
        first_byte = first.first - t0
        first.read_for(1.0)
        first.close()
        if warmup:
            return {"who": c.name, "warmup": True, "first_byte_secs": round(first_byte, 3)}
        seek_at = size * 8 // 10
        seek = Stream(url, seek_at)
        seek_byte = seek.first - seek.asked
        seek.read_for(1.0)
        seek.close()
        played = play(url, size * 3 // 10, rate / 2, play_secs)
        return {"who": c.name, "run": run, "url_secs": round(t_url, 3), "first_byte_secs": round(first_byte, 3),
                "seek_first_byte_secs": round(seek_byte, 3), **played}
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--bthelper", required=True)
    ap.add_argument("--rqbit", required=True)
    ap.add_argument("--size-mib", type=int, default=200)
    ap.add_argument("--rate-mib", type=float, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--play-secs", type=int, default=30)
    a = ap.parse_args()
    size, rate = a.size_mib * MIB, int(a.rate_mib * MIB)
    seed_dir = os.path.join(a.work, "seed")
    os.makedirs(seed_dir, exist_ok=True)
    data = os.path.join(seed_dir, "film.webm")
    make_data(data, size)
    tracker = Tracker()
    torrent = os.path.join(a.work, "film.torrent")
    info = make_torrent(data, torrent, f"http://127.0.0.1:{tracker.port}/announce")
    ses, _ = start_seeder(info, seed_dir, rate)
    tracker.seed_port = ses.listen_port()
    log(f"seeding {a.size_mib} MiB in {info.num_pieces()} pieces of {info.piece_length() // 1024} KiB at {a.rate_mib} MiB/s")
    print(json.dumps({"piece_kib": info.piece_length() // 1024, "pieces": info.num_pieces()}), flush=True)
    contestants = [(Bthelper, a.bthelper), (Rqbit, a.rqbit)]
    # The seeder's first peer ever waits for libtorrent's first ticks (handshake, unchoke and the
    # first upload quota each ~0.5 s later than for any later peer, as measured): one unrecorded
    # round of each contestant, so no measured run pays for that.
    for kind, binary in contestants:
        log(json.dumps(one_run(kind, binary, a.work, 0, torrent, size, rate, a.play_secs, warmup=True)))
    for run in range(1, a.runs + 1):
        # Alternate who goes first: a run's first contestant also pays for the seeder's cold start.
        order = contestants if run % 2 else contestants[::-1]
        for kind, binary in order:
            try:
                res = one_run(kind, binary, a.work, run, torrent, size, rate, a.play_secs)
            except Exception as e:  # one failed run is reported, not fatal
                res = {"who": kind.name, "run": run, "error": str(e)}
            log(json.dumps(res))
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
